"""Bias in a data set before any model: who is represented, and their base rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainguard.core.findings import Finding, Severity
from trainguard.fairness._bootstrap import resample_cells
from trainguard.fairness._gaps import Gap, compute_gaps
from trainguard.fairness._group_metrics import GroupMetrics, compute_group_metrics, prepare
from trainguard.fairness._inputs import attribute_slug
from trainguard.fairness._undefined import MetricValue, Undefined, as_optional, format_value


@dataclass(frozen=True)
class DataBias:
    """Representation and base rates per group of a labelled data set.

    Attributes
    ----------
    groups
        Per-group metrics of the labels against themselves (so the selection rate
        is the base rate ``P(y = 1 | group)``).
    base_rate_difference
        Largest minus smallest base rate (over groups of at least ``min_group_size``).
    base_rate_ratio
        Smallest over largest base rate.
    representation_ratio
        Rows of the smallest group over rows of the largest.
    """

    groups: GroupMetrics
    base_rate_difference: Gap
    base_rate_ratio: Gap
    representation_ratio: MetricValue
    min_group_size: int

    def table(self) -> list[dict[str, Any]]:
        """One row per group: size, share and base rate."""
        keys = ("group", "size", "share", "base_rate")
        return [{k: row[k] for k in keys} for row in self.groups.table()]

    def to_findings(self, stage: str, *, attribute: str) -> list[Finding]:
        """An informational finding with the representation and base-rate gaps."""
        d, r = self.base_rate_difference, self.base_rate_ratio
        metrics: dict[str, float | None] = {
            "base_rate_difference": as_optional(d.value),
            "base_rate_ratio": as_optional(r.value),
            "representation_ratio": as_optional(self.representation_ratio),
        }
        if isinstance(d.ci, tuple):
            metrics["base_rate_difference_ci_low"], metrics["base_rate_difference_ci_high"] = d.ci
        small = [row["group"] for row in self.table() if row["size"] < self.min_group_size]
        parts = [f"base rates differ by {format_value(d.value)} (ratio {format_value(r.value)})"]
        if d.compared:
            parts.append(f"highest {d.compared[0]}, lowest {d.compared[1]}")
        if small:
            parts.append(f"groups below {self.min_group_size} rows: {', '.join(small)}")
        return [
            Finding(
                stage=stage,
                check_id=f"{attribute_slug(attribute)}.data-bias",
                title=f"Data set bias by {attribute}: representation and base rates",
                severity=Severity.INFO,
                metrics=metrics,
                message="; ".join(parts),
                table=self.table(),
            )
        ]


def data_bias(
    y: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: object = None,
    min_group_size: int = 30,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator = 0,
) -> DataBias:
    """Representation and base-rate gaps of labels ``y`` across groups, before any model.

    The base-rate gaps are the statistical parity difference and disparate impact of
    the labels themselves (AIF360's ``BinaryLabelDatasetMetric``), with bootstrap
    intervals; the representation ratio compares the smallest and largest group.
    """
    t, _, groups, w = prepare(y, y, sensitive_features, sample_weight, pos_label)
    gm = compute_group_metrics(t, t, groups, w)
    rng = np.random.default_rng(random_state)
    boot = (
        None
        if n_boot == 0
        else resample_cells(
            gm.cells, n_boot=n_boot, rng=rng, rows=None if w is None else (t, t, groups.codes, w)
        )
    )
    gaps = compute_gaps(
        gm, min_group_size=min_group_size, privileged=None, boot_cells=boot, confidence=confidence
    )
    sizes = gm.sizes
    rep: MetricValue = (
        float(sizes.min() / sizes.max())
        if len(sizes) >= 2
        else Undefined("only one group: nothing to compare")
    )
    return DataBias(
        groups=gm,
        base_rate_difference=gaps["statistical_parity_difference"],
        base_rate_ratio=gaps["disparate_impact_ratio"],
        representation_ratio=rep,
        min_group_size=min_group_size,
    )
