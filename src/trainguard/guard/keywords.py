"""Keyword stage: one Aho-Corasick automaton over a large list, matched in the normalised key.

Every entry is folded to the matching key of :mod:`trainguard.guard.normalize`. Word
entries are stored with a space on each side (``" bitch "``), so they match only at
word boundaries and never inside innocent words ("assassin", "cockpit"); substring
entries (``match = substring``) match anywhere, and an allow-list of innocent
carriers ("Scunthorpe") drops hits that lie inside an allowed word or phrase. One
pass of the automaton finds both. Hits on pure digits (``455`` reads as ``ass`` in
leetspeak) are dropped. Overlapping hits are merged into maximal spans that carry
the highest severity of what they contain. On long texts the automaton walks only the
windows of the text that an anchor prefilter (:mod:`trainguard.guard.prefilter`) finds
may hold a key, which gives the same matches.

Reference: A. V. Aho and M. J. Corasick, "Efficient string matching: an aid to
bibliographic search", Communications of the ACM 18(6), 1975 (the ``pyahocorasick``
package implements it).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from trainguard.core.errors import DataError, require
from trainguard.core.findings import Severity
from trainguard.guard.lexicon import default_allow_list, default_entries
from trainguard.guard.normalize import Normalized, key_of, normalize
from trainguard.guard.prefilter import AnchorFilter, reduce_key, walk_windows
from trainguard.guard.textfiles import content_lines, read_text

_RANK = {s: s.rank for s in Severity}
_BY_FREQUENCY = {ord(c): i + 1 for i, c in enumerate(" etaoinsrhdcumfpgwybvkxjqz*")}
"""Key characters by their frequency in English text (``l`` reads as ``i`` in keys)."""
_SEVERITIES = np.array(sorted(Severity, key=_RANK.__getitem__), dtype=object)
_SEVERITY_NUMBERS = {"1": Severity.LOW, "2": Severity.MEDIUM, "3": Severity.HIGH}


@dataclass(frozen=True)
class KeywordEntry:
    """One list entry: the term, its category and severity, and how it matches."""

    term: str
    category: str = "profanity"
    severity: Severity = Severity.MEDIUM
    substring: bool = False
    base: str = ""
    """The base term it was generated from (the term itself when not generated)."""


class KeywordHit(NamedTuple):
    """A matched span of the original text (a named tuple: hits are made in bulk)."""

    start: int
    end: int
    text: str
    term: str
    category: str
    severity: Severity


def _severity(value: str, where: str) -> Severity:
    v = value.strip().lower()
    if v in _SEVERITY_NUMBERS:
        return _SEVERITY_NUMBERS[v]
    try:
        return Severity(v)
    except ValueError:
        raise DataError(
            f"{where}: severity must be low, medium, high, critical or 1-3; got {value!r}"
        ) from None


def _rows_from_table(text: str, path: Path, delimiter: str) -> list[KeywordEntry]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    term_col = next((f for f in ("term", "text", "word") if f in fields), None)
    if term_col is None:
        raise DataError(f"{path}: a keyword table needs a 'term' column; found {fields}")
    out = []
    for n, raw in enumerate(reader, 2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
        term = row[term_col].strip()
        if not term:
            continue
        sev = row.get("severity") or row.get("severity_rating") or "medium"
        if "." in sev:  # numeric ratings such as 2.4 round to 1-3
            sev = str(min(3, max(1, round(float(sev)))))
        match = row.get("match", "word").strip().lower() or "word"
        if match not in ("word", "substring"):
            raise DataError(f"{path}:{n}: match must be 'word' or 'substring'; got {match!r}")
        category = (row.get("category") or row.get("category_1") or "profanity").strip()
        out.append(
            KeywordEntry(
                term=term,
                category=category,
                severity=_severity(sev, f"{path}:{n}"),
                substring=match == "substring",
                base=term,
            )
        )
    return out


def load_keyword_file(
    path: str | Path, *, category: str = "profanity", severity: Severity = Severity.MEDIUM
) -> list[KeywordEntry]:
    """Load a keyword list.

    ``.txt``: one term per line (``#`` comments), all with ``category`` and
    ``severity``. ``.csv`` / ``.tsv``: a header with a ``term`` (or ``text``/``word``)
    column and optional ``category``, ``severity`` (name or 1-3) and ``match``
    (``word`` or ``substring``) columns.
    """
    p = Path(path)
    text = read_text(p, "keyword list")
    if p.suffix.lower() in (".csv", ".tsv"):
        entries = _rows_from_table(text, p, "\t" if p.suffix.lower() == ".tsv" else ",")
    elif p.suffix.lower() == ".txt":
        entries = [KeywordEntry(t, category, severity, base=t) for t in content_lines(text)]
    else:
        raise DataError(f"{p}: keyword lists must be .txt, .csv or .tsv files")
    if not entries:
        raise DataError(f"{p}: keyword list has no entries")
    return entries


def load_allow_file(path: str | Path) -> list[str]:
    """Load an allow-list: one innocent word or phrase per line (``#`` comments)."""
    return content_lines(read_text(path, "allow-list"))


def default_keyword_entries() -> list[KeywordEntry]:
    """The project's default list, expanded from its hand-written base (over 100k entries)."""
    return [
        KeywordEntry(term, row.category, row.severity, "s" in row.forms, row.term)
        for term, row in default_entries()
    ]


class KeywordMatcher:
    """An Aho-Corasick automaton over keyword entries and an allow-list.

    Parameters
    ----------
    entries
        The list to match; entries whose keys collide keep the highest severity.
    allow
        Innocent words and phrases; a hit inside one of them is dropped.
    """

    def __init__(self, entries: Iterable[KeywordEntry], allow: Iterable[str] = ()) -> None:
        require("ahocorasick", "guard")
        import ahocorasick

        allowed = {f" {k} " for k in map(key_of, allow) if k}
        kept: list[KeywordEntry] = []
        slots: dict[str, int] = {}
        for e in entries:
            k = key_of(e.term)
            key = k if e.substring else f" {k} "
            if not k.strip(" *") or key in allowed:  # the allow-list wins over the list
                continue
            i = slots.get(key)
            if i is None:
                slots[key] = len(kept)
                kept.append(e)
            elif e.severity > kept[i].severity:
                kept[i] = e
        if not kept:
            raise DataError("keyword list has no usable entries")
        keys = [*slots, *allowed]
        # Per automaton value: entry index (-1 for the allow-list) and key length.
        self._entry = np.array([*slots.values(), *[-1] * len(allowed)], dtype=np.int64)
        self._length = np.array([len(k) for k in keys], dtype=np.int64)
        self._word = np.array([k.startswith(" ") for k in keys], dtype=bool)[: len(slots)]
        self._rank = np.array([_RANK[e.severity] for e in kept], dtype=np.int64)
        self._terms = np.array([e.base or e.term for e in kept], dtype=object)
        self._categories = np.array([e.category for e in kept], dtype=object)
        # Only arrays are kept: 100k+ entry objects would slow every garbage collection.
        self.size = len(kept)
        self._lengths, self._entries = self._length.tolist(), self._entry.tolist()
        self._words, self._ranks = self._word.astype(int).tolist(), self._rank.tolist()
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        # A trie node searches its children in insertion order: inserting the keys
        # sorted by letter frequency puts the common letters first.
        for value in sorted(range(len(keys)), key=lambda v: keys[v].translate(_BY_FREQUENCY)):
            automaton.add_word(keys[value], value)
        self.n_allow = len(allowed)
        automaton.make_automaton()
        self._automaton = automaton
        short = min(map(len, keys)) < 3
        self.prefilter = None if short else AnchorFilter(keys)
        """The anchor prefilter of long keys (``None`` when a key has under 3 characters)."""
        self._ascii = all(k.isascii() for k in keys)
        """All keys ASCII: the automaton may walk the key bytes, where a ``?`` (which no
        key holds: it folds to a space) stands for a non-ASCII letter, which no key holds
        either."""

    @classmethod
    def default(cls) -> KeywordMatcher:
        """The matcher over the default expanded lexicon and allow-list (built once per process)."""
        return _default_matcher()

    def __len__(self) -> int:
        return self.size

    def scan(self, key: str, key_bytes: bytes = b"") -> np.ndarray:
        """The automaton's matches in a matching key: rows of (end offset, value).

        A long key is walked only in the windows of its anchor prefilter
        (:mod:`trainguard.guard.prefilter`), with the same result; ``key_bytes`` is
        the key reduced to one byte per character, when known.
        """
        if self.prefilter is None or len(key) < _LONG:
            return self.walk(key)
        key_bytes = key_bytes or reduce_key(key)
        windows = self.prefilter.windows(key_bytes)
        return walk_windows(self.walk, key_bytes if self._ascii else key, *windows)

    def walk(self, key: str) -> np.ndarray:
        """One pass of the automaton over all of ``key``: rows of (end offset, value)."""
        found = itertools.chain.from_iterable(self._automaton.iter(key))
        return np.fromiter(found, dtype=np.int64).reshape(-1, 2)

    def find(self, text: str | Normalized) -> list[KeywordHit]:
        """Hits in ``text``, as maximal spans of the original text, in order."""
        norm = normalize(text) if isinstance(text, str) else text
        found = self.scan(norm.key, norm.key_bytes)
        if len(found) <= _FEW:  # a short text: Python beats numpy's per-call overhead
            groups = self._groups_of_few(found.tolist())
        else:
            groups = self._groups(found[:, 0] + 1, found[:, 1])
        return self._hits(norm, *groups) if groups[0].size else []

    def _groups(self, end: np.ndarray, value: np.ndarray) -> _Groups:
        """Drop allowed hits and merge overlapping ones, in bulk (key offsets).

        Each group of overlapping hits takes its longest member's term (the first in
        order on a tie) and the highest severity of its members.
        """
        start, entry = end - self._length[value], self._entry[value]
        hit = entry >= 0
        a_start, a_end = start[~hit], end[~hit]
        s, e, entry = start[hit], end[hit], entry[hit]
        word = self._word[entry]
        s, e = s + word, e - word  # word entries carry their boundary spaces
        if a_start.size:  # drop hits inside an allowed word or phrase
            order = np.lexsort((a_end, a_start))
            a_start, reach = a_start[order], np.maximum.accumulate(a_end[order])
            j = np.searchsorted(a_start, s, side="right")
            inside = (j > 0) & (reach[np.maximum(j - 1, 0)] >= e)
            s, e, entry = s[~inside], e[~inside], entry[~inside]
        if not s.size:
            return _NO_GROUPS
        order = np.lexsort((-e, s))
        s, e, entry = s[order], e[order], entry[order]
        reach = np.maximum.accumulate(e)
        starts_group = np.concatenate(([True], s[1:] >= reach[:-1]))
        first = np.flatnonzero(starts_group)
        group = np.cumsum(starts_group) - 1
        length = e - s
        longest = np.flatnonzero(length == np.maximum.reduceat(length, first)[group])
        in_group = group[longest]
        main = entry[longest[np.concatenate(([True], in_group[1:] != in_group[:-1]))]]
        rank = np.maximum.reduceat(self._rank[entry], first)
        return s[first], np.maximum.reduceat(e, first), main, rank

    def _groups_of_few(self, found: list[list[int]]) -> _Groups:
        """:meth:`_groups` for a few matches, one at a time."""
        spans, allowed = [], []
        for end, value in found:
            e = end + 1
            s, i = e - self._lengths[value], self._entries[value]
            if i < 0:
                allowed.append((s, e))
            else:  # word entries carry their boundary spaces
                spans.append((s + self._words[i], e - self._words[i], i))
        spans = [t for t in spans if not any(a <= t[0] and b >= t[1] for a, b in allowed)]
        if not spans:
            return _NO_GROUPS
        spans.sort(key=lambda t: (t[0], -t[1]))
        heads: list[list[int]] = []  # [start, end, main entry, rank, main length]
        for s, e, i in spans:
            if heads and s < heads[-1][1]:
                head = heads[-1]
                head[1] = max(head[1], e)
                if e - s > head[4]:
                    head[2], head[4] = i, e - s
                head[3] = max(head[3], self._ranks[i])
            else:
                heads.append([s, e, i, self._ranks[i], e - s])
        g_start, g_end, g_main, g_rank = (np.array([h[k] for h in heads]) for k in range(4))
        return g_start, g_end, g_main, g_rank

    def _hits(
        self,
        norm: Normalized,
        start: np.ndarray,
        end: np.ndarray,
        main: np.ndarray,
        rank: np.ndarray,
    ) -> list[KeywordHit]:
        """Hits from groups of key spans: mapped to the original, pure digits dropped."""
        o_start, o_end = norm.key_spans(start, end)
        # A hit on pure digits ("455" reads as "ass" in leetspeak) is dropped: only
        # hits that start with a digit, a space or a non-ASCII character can be one.
        c = norm.code_points(o_start)
        maybe = np.flatnonzero((c == 32) | ((c >= 48) & (c <= 57)) | (c > 127))
        original = norm.original
        digits = [i for i in maybe.tolist() if _all_digits(original[o_start[i] : o_end[i]])]
        if digits:
            keep = np.ones(len(o_start), dtype=bool)
            keep[digits] = False
            o_start, o_end, main, rank = o_start[keep], o_end[keep], main[keep], rank[keep]
        starts, ends = o_start.tolist(), o_end.tolist()
        texts = norm.texts(o_start, o_end)
        terms, categories = self._terms[main].tolist(), self._categories[main].tolist()
        fields = zip(
            starts, ends, texts, terms, categories, _SEVERITIES[rank].tolist(), strict=True
        )
        # KeywordHit from each tuple of fields, as KeywordHit._make does, but in C.
        return list(map(tuple.__new__, itertools.repeat(KeywordHit), fields))


def _all_digits(text: str) -> bool:
    return text.replace(" ", "").isdigit()


_Groups = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Merged hits: key start, key end, main entry and severity rank of each."""
_NONE = np.zeros(0, dtype=np.int64)
_NO_GROUPS: _Groups = (_NONE, _NONE, _NONE, _NONE)
_FEW = 32
"""Up to this many automaton matches are resolved in Python rather than numpy."""
_LONG = 1 << 14
"""Keys at least this long are prefiltered; shorter ones are walked whole (cheaper: the
prefilter costs some 50 us of numpy calls whatever the length)."""


@lru_cache(maxsize=1)
def _default_matcher() -> KeywordMatcher:
    return KeywordMatcher(default_keyword_entries(), default_allow_list())
