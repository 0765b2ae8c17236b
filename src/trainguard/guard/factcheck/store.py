"""A knowledge graph of typed triples in SQLite, with entity aliases and predicate templates.

Tables: ``entities`` (name, type), ``aliases`` (normalised alias -> entity),
``predicates`` (label, kind ``entity|string|number|bool``, unit, relative tolerance,
whether it is functional and whether its lists are complete, and the sentence
templates that state it) and ``triples`` (subject, predicate, object entity or
literal value, number). Entity linking is exact on normalised aliases first, then
fuzzy (:func:`difflib.get_close_matches`, Ratcliff/Obershelp similarity).

Reference: W3C, *RDF 1.1 Concepts and Abstract Syntax* (triples with IRIs and typed
literals), 2014.
"""

from __future__ import annotations

import difflib
import json
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainguard.core.errors import DataError

ValueKind = Literal["entity", "string", "number", "bool"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, type TEXT);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT NOT NULL, entity INTEGER NOT NULL,
    PRIMARY KEY (alias, entity));
CREATE TABLE IF NOT EXISTS predicates (name TEXT PRIMARY KEY, label TEXT, kind TEXT NOT NULL,
    unit TEXT, tolerance REAL, functional INTEGER, closed INTEGER, templates TEXT);
CREATE TABLE IF NOT EXISTS triples (subject INTEGER NOT NULL, predicate TEXT NOT NULL,
    object INTEGER, value TEXT, number REAL);
CREATE INDEX IF NOT EXISTS triples_sp ON triples (subject, predicate);
"""


def norm_name(text: str) -> str:
    """Normalised form for alias lookup: no accents, lower case, no punctuation or leading 'the'."""
    s = unicodedata.normalize("NFKD", text)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[^\w\s]", " ", s)
    s = re.sub(r"^(?:the)\s+", "", s.strip())
    return re.sub(r"\s+", " ", s).strip()


@dataclass(frozen=True)
class Predicate:
    """A relation: how its objects are typed and how sentences state it."""

    name: str
    label: str
    kind: ValueKind = "entity"
    unit: str = ""
    tolerance: float = 0.0
    """Relative tolerance of numeric claims (0.1 = within 10%)."""
    functional: bool = True
    """One true object per subject: any other object is refuted."""
    closed: bool = True
    """The stored list is complete: an object not in it is refuted."""
    templates: tuple[str, ...] = field(default_factory=tuple)
    """Sentence templates with ``{s}`` and ``{o}`` ("{o} is the capital of {s}")."""


@dataclass(frozen=True)
class Triple:
    """One stored fact, with display names."""

    subject: str
    predicate: str
    object: str
    number: float | None = None


class KnowledgeGraph:
    """SQLite triple store; ``path=None`` keeps it in memory."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        try:
            self.db = sqlite3.connect(
                ":memory:" if path is None else str(path), check_same_thread=False
            )
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path}: not a knowledge-graph database ({exc})") from None
        self._alias_cache: dict[str, list[int]] | None = None
        self._fuzzy: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read query; safe to call from several threads (one connection, a lock)."""
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # --- writing -----------------------------------------------------------------
    def add_predicate(self, p: Predicate) -> None:
        """Add or replace a predicate definition."""
        self.db.execute(
            "INSERT OR REPLACE INTO predicates VALUES (?,?,?,?,?,?,?,?)",
            (p.name, p.label, p.kind, p.unit, p.tolerance, int(p.functional), int(p.closed),
             json.dumps(list(p.templates))),
        )  # fmt: skip

    def entity(self, name: str, type_: str = "", aliases: tuple[str, ...] = ()) -> int:
        """Id of the entity ``name`` (created if new), with extra aliases."""
        name = name.strip()
        if not name:
            raise DataError("entity names must be non-empty")
        row = self.db.execute("SELECT id FROM entities WHERE name = ?", (name,)).fetchone()
        if row is None:
            cur = self.db.execute("INSERT INTO entities (name, type) VALUES (?, ?)", (name, type_))
            eid = int(cur.lastrowid or 0)
        else:
            eid = int(row[0])
        for a in (name, *aliases):
            if norm_name(a):
                self.db.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (norm_name(a), eid))
        self._alias_cache = None
        self._fuzzy = {}
        return eid

    def add(self, subject: str, predicate: str, obj: object) -> None:
        """Add the triple ``(subject, predicate, obj)``; the predicate must be defined."""
        p = self.predicate(predicate)
        sid = self.entity(subject)
        if p.kind == "entity":
            self.db.execute(
                "INSERT INTO triples VALUES (?,?,?,NULL,NULL)", (sid, p.name, self.entity(str(obj)))
            )
            return
        number = None
        if p.kind == "number":
            try:
                number = float(str(obj).replace(",", ""))
            except ValueError:
                raise DataError(f"{subject} {predicate}: expected a number, got {obj!r}") from None
        elif p.kind == "bool":
            number = float(str(obj).strip().lower() in ("1", "true", "yes"))
        self.db.execute(
            "INSERT INTO triples VALUES (?,?,NULL,?,?)", (sid, p.name, str(obj), number)
        )

    def commit(self) -> None:
        """Make the writes durable."""
        self.db.commit()

    # --- reading -----------------------------------------------------------------
    def predicate(self, name: str) -> Predicate:
        """The predicate called ``name``; :class:`DataError` when it is not defined."""
        rows = self.query("SELECT * FROM predicates WHERE name = ?", (name,))
        if not rows:
            raise DataError(f"predicate {name!r} is not defined in the knowledge graph")
        row = rows[0]
        return Predicate(row[0], row[1], row[2], row[3] or "", row[4] or 0.0, bool(row[5]),
                         bool(row[6]), tuple(json.loads(row[7] or "[]")))  # fmt: skip

    def predicates(self) -> list[Predicate]:
        """All predicates, by name."""
        names = [r[0] for r in self.query("SELECT name FROM predicates ORDER BY name")]
        return [self.predicate(n) for n in names]

    def name(self, eid: int) -> str:
        """Display name of an entity id."""
        rows = self.query("SELECT name FROM entities WHERE id = ?", (eid,))
        return str(rows[0][0]) if rows else ""

    def objects(self, subject: int, predicate: str) -> list[tuple[int | None, str, float | None]]:
        """``(object id or None, display value, number)`` for a subject and predicate."""
        rows = self.query(
            "SELECT t.object, COALESCE(e.name, t.value), t.number FROM triples t "
            "LEFT JOIN entities e ON e.id = t.object WHERE t.subject = ? AND t.predicate = ?",
            (subject, predicate),
        )
        return [(r[0], str(r[1]), r[2]) for r in rows]

    def _aliases(self) -> dict[str, list[int]]:
        if self._alias_cache is None:
            cache: dict[str, list[int]] = {}
            for alias, eid in self.query("SELECT alias, entity FROM aliases"):
                cache.setdefault(alias, []).append(int(eid))
            self._alias_cache = cache
        return self._alias_cache

    def link(self, mention: str, *, cutoff: float = 0.8) -> list[int]:
        """Entity ids a mention refers to: exact alias match, else the closest fuzzy alias.

        Fuzzy matching is tried only for name-like mentions (at most six words and 60
        characters) and its results are cached.
        """
        key = norm_name(mention)
        aliases = self._aliases()
        if key in aliases:
            return aliases[key]
        if len(key) > 60 or key.count(" ") > 5:
            return []
        hit = self._fuzzy.get(key, "")
        if hit == "":
            close = difflib.get_close_matches(key, aliases.keys(), n=1, cutoff=cutoff)
            hit = close[0] if close else None
            if len(self._fuzzy) > 4096:
                self._fuzzy = {}
            self._fuzzy[key] = hit
        return aliases[hit] if hit else []

    def same_entity(self, mention: str, eid: int) -> bool:
        """Whether ``mention`` names the entity ``eid`` (alias or fuzzy match)."""
        return eid in self.link(mention)

    def __len__(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM triples")[0][0])
