"""A privacy-budget ledger that refuses a release before it would overspend.

Sequential composition (Dwork, McSherry, Nissim, Smith 2006; Dwork and Roth 2014,
Theorem 3.16): releases that are (eps_i, delta_i)-DP on the same data are together
(sum eps_i, sum delta_i)-DP. The DP statistics in :mod:`trainguard.privacy.statistics`
take ``budget=`` and call :meth:`PrivacyBudget.spend` before they draw any noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trainguard.core.errors import PrivacyBudgetExceeded
from trainguard.core.findings import Finding, Severity
from trainguard.privacy.params import check_delta, check_epsilon

_SLACK = 1e-12
"""Relative slack so that, for example, ten spends of 0.1 fit a budget of 1.0."""


@dataclass(frozen=True)
class Spend:
    """One release recorded in the ledger."""

    label: str
    epsilon: float
    delta: float


@dataclass
class PrivacyBudget:
    """Total (epsilon, delta) available for releases on one data set, and what was spent.

    Examples
    --------
    >>> budget = PrivacyBudget(epsilon=1.0)
    >>> budget.spend(0.6, label="mean age")
    Spend(label='mean age', epsilon=0.6, delta=0.0)
    >>> budget.remaining_epsilon
    0.4
    """

    epsilon: float
    delta: float = 0.0
    entries: list[Spend] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.epsilon = check_epsilon(self.epsilon, "PrivacyBudget")
        self.delta = check_delta(self.delta, "PrivacyBudget")

    @property
    def spent_epsilon(self) -> float:
        """Epsilon spent so far (exact sum of the entries)."""
        return math.fsum(e.epsilon for e in self.entries)

    @property
    def spent_delta(self) -> float:
        """Delta spent so far."""
        return math.fsum(e.delta for e in self.entries)

    @property
    def remaining_epsilon(self) -> float:
        """Epsilon still available (never negative)."""
        return max(self.epsilon - self.spent_epsilon, 0.0)

    @property
    def remaining_delta(self) -> float:
        """Delta still available (never negative)."""
        return max(self.delta - self.spent_delta, 0.0)

    def check(self, epsilon: float, delta: float = 0.0, *, label: str = "release") -> None:
        """Raise :class:`PrivacyBudgetExceeded` if spending (epsilon, delta) would overspend."""
        eps = check_epsilon(epsilon, "PrivacyBudget.spend")
        dlt = check_delta(delta, "PrivacyBudget.spend")
        total_eps = math.fsum([self.spent_epsilon, eps])
        total_delta = math.fsum([self.spent_delta, dlt])
        if total_eps > self.epsilon * (1 + _SLACK) or total_delta > self.delta * (1 + _SLACK):
            raise PrivacyBudgetExceeded(
                f"{label}: spending (epsilon={eps:g}, delta={dlt:g}) exceeds the budget; "
                f"remaining epsilon={self.remaining_epsilon:g}, delta={self.remaining_delta:g} "
                f"of ({self.epsilon:g}, {self.delta:g})"
            )

    def spend(self, epsilon: float, delta: float = 0.0, *, label: str = "release") -> Spend:
        """Record a release of (epsilon, delta), or raise before anything is recorded."""
        self.check(epsilon, delta, label=label)
        entry = Spend(label=label, epsilon=float(epsilon), delta=float(delta))
        self.entries.append(entry)
        return entry

    def to_findings(self, stage: str) -> list[Finding]:
        """One finding with the totals and a row per release."""
        return [
            Finding(
                stage=stage,
                check_id="privacy-budget",
                title="Privacy budget spent by DP releases",
                severity=Severity.MEDIUM,
                passed=self.spent_epsilon <= self.epsilon * (1 + _SLACK)
                and self.spent_delta <= self.delta * (1 + _SLACK),
                threshold=self.epsilon,
                metrics={
                    "epsilon_budget": self.epsilon,
                    "delta_budget": self.delta,
                    "epsilon_spent": self.spent_epsilon,
                    "delta_spent": self.spent_delta,
                    "releases": float(len(self.entries)),
                },
                table=[
                    {"release": e.label, "epsilon": e.epsilon, "delta": e.delta}
                    for e in self.entries
                ],
            )
        ]
