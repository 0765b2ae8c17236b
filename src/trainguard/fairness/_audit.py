"""A fairness audit: per-group metrics, every gap with its interval, and verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_choice, check_int, check_real
from trainguard.fairness._bootstrap import resample_cells
from trainguard.fairness._gaps import GAPS, Gap, GapName, compute_gaps
from trainguard.fairness._group_metrics import GroupMetrics, compute_group_metrics, prepare
from trainguard.fairness._inputs import attribute_sets, attribute_slug
from trainguard.fairness._undefined import MetricValue, Undefined, as_optional

Decision = Literal["ci", "point"]


@dataclass(frozen=True)
class FairnessThresholds:
    """Pass/fail limits for the gaps.

    Attributes
    ----------
    max_difference
        Largest allowed absolute difference (statistical parity, equal opportunity,
        average odds, equalized odds, predictive parity).
    min_ratio
        Smallest allowed disparate impact ratio; 0.8 is the four-fifths rule of the
        US EEOC Uniform Guidelines (29 CFR 1607.4 D). A ratio above ``1 / min_ratio``
        fails too (the privileged side is the disadvantaged one).
    decide_on
        ``"ci"`` (default): a gap fails only when its whole confidence interval is
        beyond the limit; beyond the limit with an interval that reaches back inside
        it is *inconclusive* (``passed=None``), as a small group's noise would be.
        ``"point"``: the point estimate alone decides.
    """

    max_difference: float = 0.1
    min_ratio: float = 0.8
    decide_on: Decision = "ci"

    def __post_init__(self) -> None:
        owner = "FairnessThresholds"
        check_real(self.max_difference, "max_difference", owner, low=0.0, high=1.0)
        check_real(self.min_ratio, "min_ratio", owner, low=0.0, high=1.0, low_open=True)
        check_choice(self.decide_on, "decide_on", owner, ("ci", "point"))

    def limit(self, gap: Gap) -> float:
        """The threshold that applies to ``gap``."""
        return self.min_ratio if gap.is_ratio else self.max_difference

    def outside(self, gap: Gap, x: float) -> bool:
        """Whether value ``x`` of ``gap`` is beyond the limit."""
        if gap.is_ratio:
            return x < self.min_ratio or x > 1.0 / self.min_ratio
        return abs(x) > self.max_difference


@dataclass(frozen=True)
class Verdict:
    """Whether a gap passed (``None``: undefined or inconclusive) and why."""

    passed: bool | None
    message: str


def judge(gap: Gap, thresholds: FairnessThresholds) -> Verdict:
    """Compare ``gap`` (and its interval) with the limit in ``thresholds``."""
    limit = thresholds.limit(gap)
    if isinstance(gap.value, Undefined):
        return Verdict(None, f"not judged: {gap.value.reason}")
    v = gap.value
    ci = gap.ci
    ci_txt = (
        f" ({100 * gap.confidence:.0f}% CI {ci[0]:.3f} to {ci[1]:.3f})"
        if isinstance(ci, tuple)
        else ""
    )
    where = f" between {gap.compared[0]} and {gap.compared[1]}" if gap.compared else ""
    if not thresholds.outside(gap, v):
        return Verdict(True, f"{v:.3f}{ci_txt}{where} is within the limit {limit:g}")
    if thresholds.decide_on == "point" or ci is None:
        return Verdict(False, f"{v:.3f}{ci_txt}{where} is beyond the limit {limit:g}")
    if isinstance(ci, Undefined):
        return Verdict(None, f"{v:.3f}{where} is beyond the limit {limit:g}; {ci.reason}")
    if (
        thresholds.outside(gap, ci[0])
        and thresholds.outside(gap, ci[1])
        and _same_side(gap, ci, limit)
    ):
        return Verdict(False, f"{v:.3f}{ci_txt}{where} is beyond the limit {limit:g}")
    return Verdict(
        None,
        f"inconclusive: {v:.3f}{where} is beyond the limit {limit:g} but its interval"
        f"{ci_txt} reaches back inside it, which sampling noise alone can explain",
    )


def _same_side(gap: Gap, ci: tuple[float, float], limit: float) -> bool:
    lo, hi = ci
    if gap.is_ratio:
        return hi < limit or lo > 1.0 / limit
    return lo > limit or hi < -limit


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class FairnessAudit:
    """Group metrics and gaps of binary predictions for one set of sensitive features.

    Attributes
    ----------
    metrics
        Size and rates of every group.
    gaps
        Every gap (:data:`GAPS`) with its interval.
    min_group_size
        Groups with fewer rows took no part in the gaps.
    """

    metrics: GroupMetrics
    gaps: dict[GapName, Gap]
    min_group_size: int

    @property
    def name(self) -> str:
        """The sensitive features audited, for example ``"sex"`` or ``"sex x race"``."""
        return " x ".join(self.metrics.groups.feature_names)

    @property
    def accuracy(self) -> MetricValue:
        """Accuracy over all rows."""
        return self.metrics.overall("accuracy")

    def gap_value(self, name: GapName) -> MetricValue:
        """Point value of gap ``name``."""
        return self.gaps[name].value

    def table(self) -> list[dict[str, Any]]:
        """Per-group rows, with a note on groups too small to take part in the gaps."""
        rows = self.metrics.table()
        for row in rows:
            row["note"] = (
                f"fewer than {self.min_group_size} rows: left out of the gaps"
                if row["size"] < self.min_group_size
                else ""
            )
        return rows

    def to_findings(
        self,
        stage: str,
        *,
        thresholds: FairnessThresholds | None = None,
        evidence: Sequence[str] = (),
    ) -> list[Finding]:
        """One finding with the group table, then one per gap with its verdict."""
        th = thresholds or FairnessThresholds()
        slug = attribute_slug(self.name)
        findings = [
            Finding(
                stage=stage,
                check_id=f"{slug}.groups",
                title=f"Group metrics by {self.name}",
                metrics={
                    "groups": float(self.metrics.groups.n_groups),
                    "accuracy": as_optional(self.accuracy),
                },
                message=f"{self.metrics.groups.n_groups} groups; minimum group size for gaps: {self.min_group_size}",
                evidence=list(evidence),
                table=self.table(),
            )
        ]
        for name in GAPS:
            gap = self.gaps[name]
            verdict = judge(gap, th)
            metrics: dict[str, float | None] = {"value": as_optional(gap.value)}
            if isinstance(gap.ci, tuple):
                metrics["ci_low"], metrics["ci_high"] = gap.ci
            notes = [*gap.notes]
            if gap.excluded:
                notes.append(f"left out (too small): {', '.join(gap.excluded)}")
            findings.append(
                Finding(
                    stage=stage,
                    check_id=f"{slug}.{name.replace('_', '-')}",
                    title=f"{_title(name)} by {self.name}",
                    severity=Severity.MEDIUM if verdict.passed is False else Severity.LOW,
                    passed=verdict.passed,
                    metrics=metrics,
                    threshold=th.limit(gap),
                    message="; ".join([verdict.message, *notes]),
                )
            )
        return findings


def _check_options(owner: str, min_group_size: int, n_boot: int, confidence: float) -> None:
    check_int(min_group_size, "min_group_size", owner, low=1)
    check_int(n_boot, "n_boot", owner, low=0)
    check_real(confidence, "confidence", owner, low=0.0, high=1.0, low_open=True, high_open=True)


def fairness_audit(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: object = None,
    privileged: object = None,
    min_group_size: int = 30,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator = 0,
) -> FairnessAudit:
    """Group metrics and every gap, with bootstrap confidence intervals.

    Parameters
    ----------
    y_true, y_pred
        Binary true and predicted labels.
    sensitive_features
        One or more sensitive columns (several give intersectional groups).
    sample_weight
        Optional weight per row.
    pos_label
        The positive label (default 1).
    privileged
        The privileged group (a value, or a tuple for several columns): gaps are then
        unprivileged minus privileged, as in AIF360. ``None``: the spread between all
        groups, as in fairlearn.
    min_group_size
        Groups with fewer rows are reported but take no part in the gaps.
    n_boot
        Bootstrap resamples for the intervals (0: no intervals).
    confidence
        Level of the intervals.
    random_state
        Seed or generator of the bootstrap.
    """
    _check_options("fairness_audit", min_group_size, n_boot, confidence)
    t, p, groups, w = prepare(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    gm = compute_group_metrics(t, p, groups, w)
    boot = None
    if n_boot:
        rows = None if w is None else (t, p, groups.codes, w)
        boot = resample_cells(
            gm.cells, n_boot=n_boot, rng=np.random.default_rng(random_state), rows=rows
        )
    gaps = compute_gaps(
        gm,
        min_group_size=min_group_size,
        privileged=privileged,
        boot_cells=boot,
        confidence=confidence,
    )
    return FairnessAudit(metrics=gm, gaps=gaps, min_group_size=min_group_size)


@dataclass(frozen=True)
class AuditSettings:
    """Options shared by every audit of a run (see :func:`fairness_audit`).

    ``privileged`` maps an attribute to its privileged value; an audit uses the
    privileged comparison when every attribute it covers has one.
    """

    min_group_size: int = 30
    n_boot: int = 1000
    confidence: float = 0.95
    privileged: Mapping[str, object] = field(default_factory=dict)
    thresholds: FairnessThresholds = field(default_factory=FairnessThresholds)
    seed: int = 0

    def __post_init__(self) -> None:
        _check_options("AuditSettings", self.min_group_size, self.n_boot, self.confidence)

    def reference(self, attributes: Sequence[str]) -> object:
        """The privileged group of ``attributes`` (a tuple), or ``None``."""
        if all(a in self.privileged for a in attributes):
            return tuple(self.privileged[a] for a in attributes)
        return None

    def audit(self, y_true: Any, y_pred: Any, sensitive: Mapping[str, Any]) -> FairnessAudit:
        """:func:`fairness_audit` of ``sensitive`` (one or more columns) with these settings."""
        return fairness_audit(
            y_true,
            y_pred,
            sensitive_features=dict(sensitive),
            privileged=self.reference(list(sensitive)),
            min_group_size=self.min_group_size,
            n_boot=self.n_boot,
            confidence=self.confidence,
            random_state=self.seed,
        )


def audit_attributes(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive: Mapping[str, Any],
    settings: AuditSettings | None = None,
    intersection: bool = True,
) -> dict[str, FairnessAudit]:
    """One audit per sensitive attribute and, for several, one of their intersection."""
    st = settings or AuditSettings()
    audits = {}
    for cols in attribute_sets(list(sensitive), intersection=intersection):
        audit = st.audit(y_true, y_pred, {c: sensitive[c] for c in cols})
        audits[audit.name] = audit
    return audits
