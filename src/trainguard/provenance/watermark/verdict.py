"""The result of an ownership test: a p-value, the effect behind it and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainguard.core.findings import Finding, Severity


@dataclass(frozen=True)
class OwnershipResult:
    """Outcome of testing a suspect model for a data owner's watermark.

    ``identified`` is True when ``p_value < significance``: the hypothesis that the
    model was *not* trained on the watermarked data is rejected at that level.
    """

    method: str
    p_value: float
    significance: float
    statistic: float
    effect: float
    effect_name: str
    n_queries: int
    details: dict[str, float] = field(default_factory=dict)

    @property
    def identified(self) -> bool:
        """True when the test rejects "not trained on the watermarked data"."""
        return self.p_value < self.significance

    @property
    def verdict(self) -> str:
        """A one-line verdict for people."""
        if self.identified:
            return f"watermark found: the model was trained on the marked data (p = {self.p_value:.3g})"
        return f"no evidence of the watermark (p = {self.p_value:.3g} >= {self.significance:g})"

    def to_findings(self, stage: str) -> list[Finding]:
        """One informational finding with the test's numbers."""
        return [
            Finding(
                stage=stage,
                check_id=f"watermark-{self.method}",
                title="Dataset watermark ownership test",
                severity=Severity.INFO,
                passed=None,
                threshold=self.significance,
                metrics={
                    "p_value": self.p_value,
                    "statistic": self.statistic,
                    self.effect_name: self.effect,
                    "queries": float(self.n_queries),
                    **self.details,
                },
                message=self.verdict,
            )
        ]
