"""Fact-checking against a knowledge graph: SQLite triple store, loaders, claims, verdicts."""

from trainguard.guard.factcheck.builtin import country_graph
from trainguard.guard.factcheck.claims import Claim, ClaimExtractor, parse_number
from trainguard.guard.factcheck.loaders import (
    load_csv_triples,
    load_graph_dict,
    load_json,
    load_ntriples,
)
from trainguard.guard.factcheck.store import KnowledgeGraph, Predicate, Triple
from trainguard.guard.factcheck.verify import ClaimVerdict, FactChecker, Verdict

__all__ = [
    "Claim",
    "ClaimExtractor",
    "ClaimVerdict",
    "FactChecker",
    "KnowledgeGraph",
    "Predicate",
    "Triple",
    "Verdict",
    "country_graph",
    "load_csv_triples",
    "load_graph_dict",
    "load_json",
    "load_ntriples",
    "parse_number",
]
