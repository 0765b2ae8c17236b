"""Claim extraction: sentences matched against the relation templates of a graph.

Each predicate of a :class:`~trainguard.guard.factcheck.store.KnowledgeGraph` carries
sentence templates with ``{s}`` and ``{o}`` slots ("{o} is the capital of {s}");
generic ones are derived from its label ("the {label} of {s} is {o}"). A sentence
(split on end punctuation) yields one candidate claim per matching template;
negation ("is not", "does not border") is removed and recorded. Numbers are read
with their scale words ("67.8 million", "1,200", "2.1 bn").

Reference: J. Thorne et al., "FEVER: a Large-scale Dataset for Fact Extraction and
VERification", NAACL 2018 (claims, evidence, SUPPORTED / REFUTED / NOT ENOUGH INFO).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trainguard.guard.factcheck.store import KnowledgeGraph, Predicate

# Sentences end at . ! ? or a newline, except a point inside a number or after an initial.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=\d)|(?<=\b[A-Z])\.)+")
_SCALE = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12,
}  # fmt: skip
_NUMBER = re.compile(
    r"(-?\d[\d,]*(?:\.\d+)?)\s*(thousand|million|billion|trillion|bn|mn|k|m|b)?\b", re.IGNORECASE
)
_NEGATIONS = (
    (re.compile(r"\b(is|are|was|were)\s+not\b", re.I), r"\1"),
    (re.compile(r"\b(is|are|was|were)n't\b", re.I), r"\1"),
    (re.compile(r"\b(?:does|do)\s+not\s+(\w+)|\b(?:doesn't|don't)\s+(\w+)", re.I), "VERB"),
)


@dataclass(frozen=True)
class Claim:
    """A candidate claim: subject and object mentions, a predicate, negation, its span."""

    subject: str
    predicate: str
    object: str
    negated: bool
    start: int
    end: int
    sentence: str


def parse_number(text: str) -> float | None:
    """The first number in ``text`` with its scale word applied ("67.8 million" -> 6.78e7)."""
    m = _NUMBER.search(text)
    if m is None:
        return None
    value = float(m.group(1).replace(",", ""))
    scale = (m.group(2) or "").lower()
    return value * _SCALE.get(scale, 1.0)


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x")):
        return verb + "es"
    return verb + "s"


def strip_negation(sentence: str) -> tuple[str, bool]:
    """The sentence without its negation, and whether one was removed."""
    for pattern, repl in _NEGATIONS:
        if repl == "VERB":
            new = pattern.sub(lambda m: _third_person(m.group(1) or m.group(2)), sentence)
        else:
            new = pattern.sub(repl, sentence)
        if new != sentence:
            return new, True
    return sentence, False


def generic_templates(p: Predicate) -> tuple[str, ...]:
    """Templates every predicate gets from its label."""
    lab = p.label
    return (
        f"the {lab} of {{s}} is {{o}}",
        f"{{s}}'s {lab} is {{o}}",
        f"{{s}} has a {lab} of {{o}}",
        f"{{s}} has an {lab} of {{o}}",
        f"{{o}} is the {lab} of {{s}}",
    )


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{s\}|\{o\})", template)
    body = "".join(
        "(?P<s>.+?)" if t == "{s}" else "(?P<o>.+?)" if t == "{o}" else re.escape(t).replace(r"\ ", r"\s+")
        for t in parts
    )  # fmt: skip
    return re.compile(rf"^\s*(?:(?:yes|no|indeed|in fact|actually)\s*,\s*)?{body}\s*$", re.I)


class ClaimExtractor:
    """Finds claims in text with the templates of a graph's predicates."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.rules: list[tuple[str, re.Pattern[str]]] = []
        for p in kg.predicates():
            for t in dict.fromkeys((*p.templates, *generic_templates(p))):
                self.rules.append((p.name, _compile(t)))

    def extract(self, text: str) -> list[Claim]:
        """Every (sentence, template) match, in order of position."""
        out: list[Claim] = []
        for sm in _SENTENCE.finditer(text):
            raw = sm.group()
            sentence, negated = strip_negation(raw.strip().rstrip(".!?").strip())
            for pred, rx in self.rules:
                m = rx.match(sentence)
                if m:
                    s, o = m.group("s").strip(" ,"), m.group("o").strip(" ,")
                    out.append(Claim(s, pred, o, negated, sm.start(), sm.end(), raw.strip()))
        return out
