"""Findings: what a stage checked, the evidence, a severity and a pass/fail verdict.

Every capability reports through these models; the run directory stores them as
``findings.json`` and the report writers (HTML, JSON, SARIF) render them.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field, field_validator

from trainguard import __version__


class Severity(str, enum.Enum):
    """Ordered severity of a finding: ``info < low < medium < high < critical``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order, 0 for ``info`` up to 4 for ``critical``."""
        return list(Severity).index(self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Finding(BaseModel):
    """One checked property with its evidence.

    ``passed`` is ``True`` or ``False`` when the check has a verdict (a gate), and
    ``None`` for an informational measurement. ``evidence`` holds paths relative to
    the run directory (plots, recovered triggers, manifests); ``table`` holds small
    row-oriented data the report shows as a table.
    """

    stage: str
    check_id: str
    title: str
    severity: Severity = Severity.INFO
    passed: bool | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    threshold: float | None = None
    message: str = ""
    evidence: list[str] = Field(default_factory=list)
    location: str | None = None
    table: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("check_id")
    @classmethod
    def _check_id_is_slug(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError("check_id must be a non-empty identifier without spaces")
        return v

    @property
    def failed(self) -> bool:
        """True when the finding has a verdict and it is a failure."""
        return self.passed is False


class StageResult(BaseModel):
    """The findings and artifacts of one lifecycle stage."""

    name: str
    title: str = ""
    summary: str = ""
    started: datetime = Field(default_factory=_now)
    duration_s: float = 0.0
    findings: list[Finding] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True unless a finding of this stage failed."""
        return not any(f.failed for f in self.findings)


class RunResult(BaseModel):
    """Everything one run produced: its stages in order, with their findings."""

    name: str
    created: datetime = Field(default_factory=_now)
    trainguard_version: str = __version__
    stages: list[StageResult] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True unless some finding in some stage failed."""
        return all(s.passed for s in self.stages)

    @property
    def findings(self) -> list[Finding]:
        """All findings of all stages, in stage order."""
        return [f for s in self.stages for f in s.findings]

    @property
    def failed_findings(self) -> list[Finding]:
        """The findings whose verdict is a failure, in stage order."""
        return [f for f in self.findings if f.failed]

    def stage(self, name: str) -> StageResult:
        """Return the stage called ``name``, or raise ``KeyError``."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)
