"""Verdicts on claims against a knowledge graph: SUPPORTED, REFUTED or NOT ENOUGH INFO.

For a claim ``(subject, predicate, object)`` the subject is linked to an entity; the
stored objects of that predicate are the evidence. A numeric object is supported
within the predicate's relative tolerance and refuted outside it. An entity object
is supported when it links to a stored object; otherwise it is refuted when the
predicate is functional (one true value) or closed (the stored list is complete),
and not enough info when it is neither. Unknown subjects, or no stored value, give
NOT ENOUGH INFO. A negated claim flips SUPPORTED and REFUTED. When a sentence reads
as several predicates (``"X is in Y"`` as region or subregion), the reading whose
object is in the range of its predicate wins.

Reference: J. Thorne et al., "FEVER: a Large-scale Dataset for Fact Extraction and
VERification", NAACL 2018.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from trainguard.guard.factcheck.claims import Claim, ClaimExtractor, parse_number
from trainguard.guard.factcheck.store import KnowledgeGraph, Triple


class Verdict(str, enum.Enum):
    """FEVER's three labels."""

    SUPPORTED = "SUPPORTED"
    REFUTED = "REFUTED"
    NOT_ENOUGH_INFO = "NOT ENOUGH INFO"


_FLIP = {Verdict.SUPPORTED: Verdict.REFUTED, Verdict.REFUTED: Verdict.SUPPORTED}
_RANK = {Verdict.NOT_ENOUGH_INFO: 0, Verdict.REFUTED: 1, Verdict.SUPPORTED: 1}


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim, its verdict and the evidence triples."""

    claim: Claim
    verdict: Verdict
    evidence: list[Triple] = field(default_factory=list)
    reason: str = ""


class FactChecker:
    """Extracts claims from text and checks them against ``kg``."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg
        self.extractor = ClaimExtractor(kg)
        self._predicates = {p.name: p for p in kg.predicates()}

    def verify(self, claim: Claim) -> ClaimVerdict:
        """The verdict on one claim."""
        p = self._predicates[claim.predicate]
        subjects = self.kg.link(claim.subject)
        if not subjects:
            return ClaimVerdict(
                claim, Verdict.NOT_ENOUGH_INFO, reason=f"unknown entity {claim.subject!r}"
            )
        sid = subjects[0]
        stored = self.kg.objects(sid, p.name)
        sname = self.kg.name(sid)
        evidence = [Triple(sname, p.name, v, n) for _, v, n in stored]
        if not stored:
            return ClaimVerdict(
                claim, Verdict.NOT_ENOUGH_INFO, reason=f"no {p.label} stored for {sname}"
            )
        if p.kind in ("number", "bool"):
            verdict, reason = self._numeric(claim.object, stored, p.tolerance)
        else:
            verdict, reason = self._entity(claim.object, stored, p.functional or p.closed)
        if claim.negated and verdict in _FLIP:
            verdict = _FLIP[verdict]
        return ClaimVerdict(claim, verdict, evidence, reason)

    def _numeric(
        self, mention: str, stored: list[tuple[int | None, str, float | None]], tol: float
    ) -> tuple[Verdict, str]:
        value = parse_number(mention)
        if value is None:
            return Verdict.NOT_ENOUGH_INFO, f"no number in {mention!r}"
        for _, _, true in stored:
            if true is not None and abs(value - true) <= tol * abs(true) + 1e-9:
                return Verdict.SUPPORTED, f"{value:g} is within {tol:.0%} of {true:g}"
        shown = ", ".join(f"{t:g}" for _, _, t in stored if t is not None)
        return Verdict.REFUTED, f"{value:g} is not within {tol:.0%} of {shown}"

    def _entity(
        self, mention: str, stored: list[tuple[int | None, str, float | None]], complete: bool
    ) -> tuple[Verdict, str]:
        linked = set(self.kg.link(mention))
        for oid, value, _ in stored:
            if (oid is not None and oid in linked) or value.lower() == mention.lower():
                return Verdict.SUPPORTED, f"{value!r} is stored"
        shown = ", ".join(v for _, v, _ in stored)
        if complete:
            return Verdict.REFUTED, f"stored: {shown}"
        return Verdict.NOT_ENOUGH_INFO, f"{mention!r} is not among the stored values ({shown})"

    def _in_range(self, claim: Claim) -> bool:
        p = self._predicates[claim.predicate]
        if p.kind != "entity":
            return parse_number(claim.object) is not None
        ids = self.kg.link(claim.object)
        marks = ",".join("?" * len(ids))
        sql = f"SELECT 1 FROM triples WHERE predicate = ? AND object IN ({marks}) LIMIT 1"
        return bool(ids) and bool(self.kg.query(sql, (p.name, *ids)))

    def check(self, text: str) -> list[ClaimVerdict]:
        """Verdicts on the claims in ``text``: one per sentence, the best-supported reading."""
        by_sentence: dict[int, list[Claim]] = {}
        for c in self.extractor.extract(text):
            by_sentence.setdefault(c.start, []).append(c)
        out = []
        for claims in by_sentence.values():
            ranked = sorted(claims, key=lambda c: not self._in_range(c))
            verdicts = [self.verify(c) for c in ranked]
            out.append(max(verdicts, key=lambda v: (_RANK[v.verdict], -verdicts.index(v))))
        return out
