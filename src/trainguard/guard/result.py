"""Typed results of the guard checks (pydantic, JSON-serialisable).

A check returns a :class:`CheckResult`; :class:`~trainguard.guard.guard.Guard`
combines them into a :class:`GuardResult` whose ``decision`` is the strictest of its
checks (``allow < flag < mask < block``) and whose ``redacted`` text has every
masked span replaced.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from trainguard.core.findings import Finding, Severity


class Decision(str, enum.Enum):
    """What to do with a text: ``allow < flag < mask < block``."""

    ALLOW = "allow"
    FLAG = "flag"
    MASK = "mask"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        """Position in the order, 0 for ``allow`` up to 3 for ``block``."""
        return list(Decision).index(self)


def strictest(decisions: list[Decision]) -> Decision:
    """The strictest of ``decisions`` (``allow`` for none)."""
    return max(decisions, key=lambda d: d.rank, default=Decision.ALLOW)


class Span(BaseModel):
    """A span of the original text that a check matched, with its replacement if masked."""

    start: int
    end: int
    text: str
    check: str
    label: str
    severity: Severity = Severity.MEDIUM
    replacement: str | None = None


class CheckResult(BaseModel):
    """The verdict of one check on one text."""

    name: str
    decision: Decision = Decision.ALLOW
    score: float | None = None
    reasons: list[str] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list)
    latency_ms: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)


class GuardResult(BaseModel):
    """The verdict of a :class:`~trainguard.guard.guard.Guard` on one text."""

    direction: Literal["input", "output"]
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list)
    redacted: str
    """The text with every span that carries a replacement replaced."""
    checks: list[CheckResult] = Field(default_factory=list)
    latency_ms: dict[str, float] = Field(default_factory=dict)
    """Per-check wall time in milliseconds, plus ``total``."""

    @property
    def allowed(self) -> bool:
        """True when the text may pass unchanged (``allow`` or ``flag``)."""
        return self.decision in (Decision.ALLOW, Decision.FLAG)

    def to_findings(self, stage: str) -> list[Finding]:
        """One finding per check: passed unless the check flagged, masked or blocked."""
        sev = {
            Decision.ALLOW: Severity.INFO,
            Decision.FLAG: Severity.LOW,
            Decision.MASK: Severity.MEDIUM,
            Decision.BLOCK: Severity.HIGH,
        }
        return [
            Finding(
                stage=stage,
                check_id=f"guard-{c.name}",
                title=f"Guard check '{c.name}' on the {self.direction}",
                severity=sev[c.decision],
                passed=c.decision is Decision.ALLOW,
                metrics={"latency_ms": c.latency_ms, "score": c.score},
                message="; ".join(c.reasons) or c.decision.value,
                table=[s.model_dump(mode="json") for s in c.spans],
            )
            for c in self.checks
        ]


def redact(text: str, spans: list[Span]) -> str:
    """Replace each span with a replacement in ``text``; overlapping spans keep the first."""
    out: list[str] = []
    pos = 0
    for s in sorted((s for s in spans if s.replacement is not None), key=lambda s: s.start):
        if s.start < pos:
            continue
        out.append(text[pos : s.start])
        out.append(s.replacement or "")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
