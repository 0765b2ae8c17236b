"""Load triples into a :class:`~trainguard.guard.factcheck.store.KnowledgeGraph`.

Formats:

CSV
    Header ``subject,predicate,object``. Predicates defined beforehand (with
    :meth:`~.store.KnowledgeGraph.add_predicate` or a JSON file) keep their
    definition and templates; others are created entity-valued, or number-valued
    when every object parses as a number, and functional when every subject has one
    object.
N-Triples
    W3C N-Triples lines ``<s> <p> <o> .`` or ``<s> <p> "literal"^^<type> .``; the
    local name of an IRI (after ``#`` or the last ``/``) is the name, with ``_`` as
    space; ``rdfs:label`` and ``skos:altLabel`` triples become aliases.
JSON
    ``{"predicates": {name: {label, kind, unit, tolerance, functional, closed,
    templates}}, "entities": [{"name", "type", "aliases"}], "triples": [[s, p, o]]}``.

Reference: W3C, *RDF 1.1 N-Triples*, 2014.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from trainguard.core.errors import DataError
from trainguard.guard.factcheck.store import KnowledgeGraph, Predicate, ValueKind
from trainguard.guard.textfiles import numbered_lines, read_text

_LABELS = ("label", "altlabel", "preflabel", "name")
_NT = re.compile(
    r'^\s*<([^>]+)>\s+<([^>]+)>\s+(?:<([^>]+)>|"((?:[^"\\]|\\.)*)"(?:\^\^<([^>]+)>|@[\w-]+)?)\s*\.\s*$'
)
_NUMERIC_TYPES = ("integer", "decimal", "double", "float", "int", "long")


def _read(path: str | Path) -> tuple[Path, str]:
    return Path(path), read_text(path, "graph file")


def _ensure_predicate(kg: KnowledgeGraph, name: str, numeric: bool, functional: bool) -> None:
    """Define ``name`` unless it is defined.

    Numbers compare exactly (tolerance 0); a predicate with one object per subject is
    functional, so any other object is refuted.
    """
    try:
        kg.predicate(name)
    except DataError:
        kind: ValueKind = "number" if numeric else "entity"
        kg.add_predicate(Predicate(name, name.replace("_", " "), kind, tolerance=0.0,
                                   functional=functional, closed=False))  # fmt: skip


def _is_number(v: str) -> bool:
    try:
        float(v.replace(",", ""))
    except ValueError:
        return False
    return True


def load_csv_triples(path: str | Path, kg: KnowledgeGraph) -> int:
    """Load ``subject,predicate,object`` rows; return how many triples were added."""
    p, text = _read(path)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"subject", "predicate", "object"} <= set(rows[0]):
        raise DataError(f"{p}: expected a CSV header with subject, predicate, object")
    by_pred: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        by_pred.setdefault((r["predicate"] or "").strip(), []).append((r["subject"], r["object"]))
    for name, pairs in by_pred.items():
        subjects = [s for s, _ in pairs]
        numeric = all(_is_number(o or "") for _, o in pairs)
        _ensure_predicate(kg, name, numeric, len(set(subjects)) == len(subjects))
    for n, r in enumerate(rows, 2):
        if not (r["subject"] or "").strip() or not (r["object"] or "").strip():
            raise DataError(f"{p}:{n}: empty subject or object")
        kg.add(r["subject"], r["predicate"].strip(), r["object"].strip())
    kg.commit()
    return len(rows)


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri.rstrip("/#"))[-1].replace("_", " ")


def load_ntriples(path: str | Path, kg: KnowledgeGraph) -> int:
    """Load an N-Triples file; return how many triples were added (labels excluded)."""
    p, text = _read(path)
    parsed = []
    for n, line in numbered_lines(text):
        m = _NT.match(line)
        if m is None:
            raise DataError(f"{p}:{n}: not an N-Triples statement")
        s, pred, o_iri, literal, dtype = m.groups()
        parsed.append((_local(s), _local(pred), o_iri, literal, dtype))
    added = 0
    for s, pred, _, literal, _ in parsed:
        if pred.lower() in _LABELS and literal is not None:
            kg.entity(s, aliases=(literal,))
    for s, pred, o_iri, literal, dtype in parsed:
        if pred.lower() in _LABELS:
            continue
        numeric = bool(dtype) and any(t in dtype.lower() for t in _NUMERIC_TYPES)
        _ensure_predicate(kg, pred, numeric, numeric)
        kg.add(s, pred, _local(o_iri) if o_iri else literal)
        added += 1
    kg.commit()
    return added


def load_json(path: str | Path, kg: KnowledgeGraph) -> int:
    """Load the JSON graph format; return how many triples were added."""
    p, text = _read(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    return load_graph_dict(doc, kg, source=str(p))


def load_graph_dict(doc: Any, kg: KnowledgeGraph, *, source: str = "graph") -> int:
    """Load a graph given as the JSON structure of :func:`load_json`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("triples"), list):
        raise DataError(f"{source}: expected an object with a 'triples' list")
    for name, spec in (doc.get("predicates") or {}).items():
        try:
            kg.add_predicate(Predicate(name=name, label=spec.get("label", name), kind=spec.get("kind", "entity"),
                                       unit=spec.get("unit", ""), tolerance=float(spec.get("tolerance", 0.0)),
                                       functional=bool(spec.get("functional", False)),
                                       closed=bool(spec.get("closed", False)),
                                       templates=tuple(spec.get("templates", ()))))  # fmt: skip
        except (AttributeError, TypeError, ValueError):
            raise DataError(f"{source}: predicate {name!r} is malformed") from None
    for e in doc.get("entities") or []:
        if not isinstance(e, dict) or "name" not in e:
            raise DataError(f"{source}: each entity needs a 'name'")
        kg.entity(str(e["name"]), str(e.get("type", "")), tuple(e.get("aliases", ())))
    known = {p.name for p in kg.predicates()}
    for i, t in enumerate(doc["triples"]):
        if not isinstance(t, list | tuple) or len(t) != 3:
            raise DataError(f"{source}: triples[{i}] must be [subject, predicate, object]")
        if str(t[1]) not in known:
            numeric = isinstance(t[2], int | float)
            _ensure_predicate(kg, str(t[1]), numeric, numeric)
            known.add(str(t[1]))
        kg.add(str(t[0]), str(t[1]), t[2])
    kg.commit()
    return len(doc["triples"])
