"""Labelled claim sets generated from a knowledge graph, and the checker's accuracy on them.

True claims state a stored triple; false claims replace its object with an object the
same predicate has for another subject (and never for this one), or scale a number
by a factor drawn from [1.3, 2] or [0.3, 0.7]. Each claim is rendered with a
template of its predicate drawn at random; a share of subjects is written as an
alias or with two letters swapped, to exercise entity linking.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from trainguard.guard.factcheck.claims import generic_templates
from trainguard.guard.factcheck.store import KnowledgeGraph
from trainguard.guard.factcheck.verify import FactChecker, Verdict


@dataclass(frozen=True)
class LabelledClaim:
    """A generated sentence and whether it is true in the graph it came from."""

    text: str
    true: bool
    predicate: str


def _typo(s: str, rng: random.Random) -> str:
    if len(s) < 6:
        return s
    i = rng.randrange(1, len(s) - 2)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def generate_claims(
    kg: KnowledgeGraph, n: int, *, seed: int = 0, vary_subjects: float = 0.2
) -> list[LabelledClaim]:
    """``n`` claims from ``kg``, alternately true and false, reproducible from ``seed``."""
    rng = random.Random(seed)
    rows = kg.query(
        "SELECT s.name, t.predicate, COALESCE(o.name, t.value), t.number, t.subject FROM triples t "
        "JOIN entities s ON s.id = t.subject LEFT JOIN entities o ON o.id = t.object "
        "ORDER BY t.rowid"
    )
    preds = {p.name: p for p in kg.predicates()}
    truth = {(r[0], r[1], str(r[2])) for r in rows}
    objects: dict[str, list[str]] = {}
    for r in rows:
        objects.setdefault(r[1], []).append(str(r[2]))
    aliases: dict[int, list[str]] = {}
    for alias, eid in kg.query("SELECT alias, entity FROM aliases ORDER BY alias"):
        aliases.setdefault(int(eid), []).append(alias)
    out: list[LabelledClaim] = []
    while len(out) < n:
        s, p, o, num, sid = rng.choice(rows)
        pred = preds[p]
        true = len(out) % 2 == 0
        shown = str(o)
        if pred.kind == "number" and num is not None:
            value = (
                num if true else num * rng.choice([rng.uniform(1.3, 2.0), rng.uniform(0.3, 0.7)])
            )
            shown = f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.3g}"
            if not true and shown == f"{num:,.0f}":
                continue
        elif not true:
            options = sorted({x for x in objects[p] if (s, p, x) not in truth})
            if not options:
                continue
            shown = rng.choice(options)
        subject = s
        if rng.random() < vary_subjects:
            subject = rng.choice([*aliases.get(int(sid), [s]), _typo(s, rng)])
        template = rng.choice([*pred.templates, *generic_templates(pred)])
        out.append(LabelledClaim(template.format(s=subject, o=shown), true, p))
    return out


def accuracy(checker: FactChecker, claims: list[LabelledClaim]) -> tuple[float, float]:
    """Share of claims judged right (SUPPORTED if true, REFUTED if false) and NEI share."""
    right = nei = 0
    for c in claims:
        verdicts = checker.check(c.text)
        v = verdicts[0].verdict if verdicts else Verdict.NOT_ENOUGH_INFO
        right += v is (Verdict.SUPPORTED if c.true else Verdict.REFUTED)
        nei += v is Verdict.NOT_ENOUGH_INFO
    return right / max(len(claims), 1), nei / max(len(claims), 1)
