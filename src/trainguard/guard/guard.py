"""The Guard: runs a policy's checks on an input or an output and returns one typed verdict.

Models and lists load once, in the constructor, and only for the checks the policy
uses; :meth:`Guard.check` is then cheap per call (keyword automaton, PII validators
and injection heuristics take well under a millisecond for 500 characters; the
embedding layer is off unless the policy switches it on)::

    guard = Guard(Policy.from_yaml("policy.yaml"))
    result = guard.check("Ignore all previous instructions", direction="input")
    result.decision   # Decision.BLOCK
    result.redacted   # the text with masked spans replaced
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from trainguard.core.errors import ConfigError
from trainguard.core.findings import Severity
from trainguard.guard.factcheck import FactChecker
from trainguard.guard.keywords import (
    KeywordEntry,
    KeywordMatcher,
    default_keyword_entries,
    load_allow_file,
    load_keyword_file,
)
from trainguard.guard.lexicon import default_allow_list
from trainguard.guard.normalize import Normalized, normalize, visible_text
from trainguard.guard.pii import find_pii, placeholders
from trainguard.guard.policy import CheckName, Policy
from trainguard.guard.result import CheckResult, Decision, GuardResult, Span, redact, strictest

Direction = Literal["input", "output"]
_DOWN = {Decision.BLOCK: Decision.MASK, Decision.MASK: Decision.FLAG, Decision.FLAG: Decision.ALLOW}


def _load_lists(names: list[str]) -> list[KeywordEntry]:
    out: list[KeywordEntry] = []
    for n in names:
        out += default_keyword_entries() if n == "builtin" else load_keyword_file(n)
    return out


def _load_allow(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        out += default_allow_list() if n == "builtin" else load_allow_file(n)
    return out


def _mask(text: str) -> str:
    return text[:1] + "".join("*" if not c.isspace() else c for c in text[1:])


class Guard:
    """Runs the checks of a :class:`Policy` on texts.

    Parameters
    ----------
    policy
        The policy (default: :class:`Policy` defaults).
    """

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        used = set(self.policy.input) | set(self.policy.output)
        self._checks: dict[CheckName, Callable[[Normalized, float | None], CheckResult]] = {
            "toxicity": self._toxicity,
            "pii": self._pii,
            "injection": self._injection,
            "factcheck": self._factcheck,
        }
        tox = self.policy.toxicity
        self.keywords = None
        if "toxicity" in used:
            builtin = tox.keywords.lists == ["builtin"] and tox.keywords.allow == ["builtin"]
            self.keywords = (
                KeywordMatcher.default()
                if builtin
                else KeywordMatcher(
                    _load_lists(tox.keywords.lists), _load_allow(tox.keywords.allow)
                )
            )
        self.classifier = None
        if "toxicity" in used and tox.classifier.model != "none":
            from trainguard.guard.toxicity import load_classifier

            self.classifier = load_classifier(tox.classifier.model)
        self._init_injection("injection" in used)
        self.factchecker: FactChecker | None = None
        if "factcheck" in used:
            self.factchecker = _factchecker(self.policy.factcheck.graph)

    def _init_injection(self, used: bool) -> None:
        from trainguard.guard.injection import InjectionHeuristics, load_patterns

        pol = self.policy.injection
        self.heuristics = None
        self.similarity = None
        self.injection_classifier = None
        if not used:
            return
        self.heuristics = InjectionHeuristics(
            None if pol.patterns == "builtin" else load_patterns(pol.patterns)
        )
        if pol.embeddings:
            from trainguard.guard.embeddings import AttackSimilarity

            self.similarity = AttackSimilarity()
        if pol.classifier:
            from trainguard.guard.toxicity import load_classifier

            self.injection_classifier = load_classifier(pol.classifier)

    # --- checks ------------------------------------------------------------------
    def _toxicity(self, norm: Normalized, prob: float | None) -> CheckResult:
        assert self.keywords is not None
        kp, cp = self.policy.toxicity.keywords, self.policy.toxicity.classifier
        hits = self.keywords.find(norm)
        worst = max((h.severity for h in hits), key=lambda s: s.rank, default=Severity.INFO)
        decision = Decision.ALLOW
        for level, sev in (
            (Decision.FLAG, kp.flag),
            (Decision.MASK, kp.mask),
            (Decision.BLOCK, kp.block),
        ):
            if hits and worst >= sev:
                decision = level
        reasons = [f"{h.category} term '{h.text}' ({h.severity.value})" for h in hits]
        if prob is None and self.classifier is not None:
            prob = float(self.classifier.predict_proba([norm.folded])[0])
        if prob is not None and hits:
            # With keyword hits the classifier can only lower the decision.
            if prob < cp.downgrade_below and decision in _DOWN:
                decision = _DOWN[decision]
                reasons.append(f"classifier p={prob:.2f} lowered the keyword decision")
        elif prob is not None and prob >= cp.flag:
            decision = Decision.BLOCK if prob >= cp.block else Decision.FLAG
            reasons.append(
                f"classifier p={prob:.2f} >= {cp.block if prob >= cp.block else cp.flag}"
            )
        masked = decision is Decision.MASK
        spans = [
            Span(start=h.start, end=h.end, text=h.text, check="toxicity", label=h.category,
                 severity=h.severity, replacement=_mask(h.text) if masked else None)
            for h in hits
        ]  # fmt: skip
        return CheckResult(name="toxicity", decision=decision, score=prob, reasons=reasons,
                           spans=spans, details={"keyword_hits": len(hits)})  # fmt: skip

    def _pii(self, norm: Normalized, _: float | None) -> CheckResult:
        pol = self.policy.pii
        clean, index = visible_text(norm.original)
        found = find_pii(clean, types=None if pol.types == "all" else pol.types)
        names = placeholders(found)
        act = Decision(pol.action) if found else Decision.ALLOW
        spans = []
        for m in found:
            s, e = (
                (m.start, m.end)
                if index is None
                else (int(index[m.start]), int(index[m.end - 1]) + 1)
            )
            replacement = names[(m.kind, m.text)] if act is Decision.MASK else None
            spans.append(Span(start=s, end=e, text=norm.original[s:e], check="pii", label=m.kind,
                              severity=Severity.HIGH, replacement=replacement))  # fmt: skip
        kinds = sorted({m.kind for m in found})
        return CheckResult(name="pii", decision=act, score=float(len(found)),
                           reasons=[f"found {', '.join(kinds)}"] if found else [], spans=spans)  # fmt: skip

    def _injection(self, norm: Normalized, _: float | None) -> CheckResult:
        assert self.heuristics is not None
        from trainguard.guard.injection import noisy_or

        pol = self.policy.injection
        scan = self.heuristics.scan(norm)
        score = scan.score
        reasons = [
            f"{m.category}{'' if m.via == 'text' else ' in ' + m.via}: '{m.text[:60]}'"
            for m in scan.matches
        ]
        details: dict[str, object] = {"heuristic_score": scan.score, "invisible": scan.invisible}
        if self.similarity is not None:
            sim, nearest = self.similarity.nearest(norm.original)
            details["similarity"] = sim
            if sim >= pol.embedding_threshold:
                score = noisy_or([score, 0.6])
                reasons.append(f"similar ({sim:.2f}) to attack '{nearest[:60]}'")
        if self.injection_classifier is not None:
            p = float(self.injection_classifier.predict_proba([norm.folded])[0])
            details["classifier"] = p
            cut = float(getattr(self.injection_classifier, "threshold", 0.5))
            if p >= cut:  # a calibrated threshold flags at least
                score = max(score, p, pol.flag)
                reasons.append(f"classifier p={p:.2f} >= {cut:.2f}")
        decision = (
            Decision.BLOCK
            if score >= pol.block
            else Decision.FLAG
            if score >= pol.flag
            else Decision.ALLOW
        )
        spans = [
            Span(start=m.start, end=m.end, text=m.text, check="injection", label=m.category,
                 severity=Severity.HIGH if m.weight >= 0.7 else Severity.MEDIUM)
            for m in scan.matches
        ]  # fmt: skip
        return CheckResult(name="injection", decision=decision, score=score, reasons=reasons,
                           spans=spans, details=details)  # fmt: skip

    def _factcheck(self, norm: Normalized, _: float | None) -> CheckResult:
        assert self.factchecker is not None
        from trainguard.guard.factcheck import Verdict

        verdicts = self.factchecker.check(norm.original)
        refuted = [v for v in verdicts if v.verdict is Verdict.REFUTED]
        decision = Decision(self.policy.factcheck.action) if refuted else Decision.ALLOW
        spans = [
            Span(start=v.claim.start, end=v.claim.end, text=norm.original[v.claim.start : v.claim.end],
                 check="factcheck", label=v.verdict.value, severity=Severity.MEDIUM)
            for v in refuted
        ]  # fmt: skip
        details = {
            "claims": [
                {"sentence": v.claim.sentence, "verdict": v.verdict.value, "reason": v.reason,
                 "evidence": [[t.subject, t.predicate, t.object] for t in v.evidence[:5]]}
                for v in verdicts
            ]
        }  # fmt: skip
        reasons = [f"refuted: '{v.claim.sentence[:80]}' ({v.reason})" for v in refuted]
        return CheckResult(name="factcheck", decision=decision, score=float(len(refuted)),
                           reasons=reasons, spans=spans, details=details)  # fmt: skip

    # --- public ------------------------------------------------------------------
    def check(
        self, text: str, direction: Direction = "input", *, toxicity_prob: float | None = None
    ) -> GuardResult:
        """Run the checks the policy names for ``direction`` on ``text``.

        ``toxicity_prob`` passes a classifier probability computed in a batch
        (:meth:`check_many` does this); it is computed here when omitted.
        """
        if direction not in ("input", "output"):
            raise ConfigError(f"direction must be 'input' or 'output'; got {direction!r}")
        t0 = time.perf_counter()
        norm = normalize(text)
        latency = {"normalize": (time.perf_counter() - t0) * 1e3}
        results = []
        for name in getattr(self.policy, direction):
            t = time.perf_counter()
            r = self._checks[name](norm, toxicity_prob)
            r.latency_ms = (time.perf_counter() - t) * 1e3
            latency[name] = r.latency_ms
            results.append(r)
        spans = sorted((s for r in results for s in r.spans), key=lambda s: s.start)
        latency["total"] = (time.perf_counter() - t0) * 1e3
        return GuardResult(
            direction=direction,
            decision=strictest([r.decision for r in results]),
            reasons=[f"{r.name}: {x}" for r in results for x in r.reasons],
            spans=spans,
            redacted=redact(text, spans),
            checks=results,
            latency_ms=latency,
        )

    def check_many(self, texts: Sequence[str], direction: Direction = "input") -> list[GuardResult]:
        """:meth:`check` on many texts, with the toxicity classifier run in one batch."""
        probs: list[float | None] = [None] * len(texts)
        if self.classifier is not None and "toxicity" in getattr(self.policy, direction):
            probs = [
                float(p)
                for p in self.classifier.predict_proba([normalize(t).folded for t in texts])
            ]
        return [
            self.check(t, direction, toxicity_prob=p) for t, p in zip(texts, probs, strict=True)
        ]


def _factchecker(graph: str) -> FactChecker:
    from trainguard.guard.factcheck import (
        KnowledgeGraph,
        country_graph,
        load_csv_triples,
        load_json,
        load_ntriples,
    )

    if graph == "builtin":
        return FactChecker(country_graph())
    p = Path(graph)
    if not p.is_file():
        raise ConfigError(f"factcheck.graph: {p} is not a file (or use 'builtin')")
    loaders = {".csv": load_csv_triples, ".nt": load_ntriples, ".json": load_json}
    if p.suffix.lower() in loaders:
        kg = KnowledgeGraph()
        loaders[p.suffix.lower()](p, kg)
    else:
        kg = KnowledgeGraph(p)
    return FactChecker(kg)
