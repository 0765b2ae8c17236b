"""Per-group metrics from one weighted confusion matrix per group, all vectorised.

Each group's rows are counted into four cells (true positives, false positives,
false negatives, true negatives) with a single ``bincount``; every rate below is a
ratio of cell sums. The same functions work on a stack of bootstrap resamples
(arrays of shape ``(..., groups, 4)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np

from trainguard.fairness._inputs import (
    Groups,
    binary_labels,
    check_length,
    check_weights,
    encode_groups,
)
from trainguard.fairness._undefined import MetricValue, Undefined

TP, FP, FN, TN = 0, 1, 2, 3
"""Positions of the four confusion cells on the last axis of a cells array."""

GroupMetricName = Literal[
    "base_rate",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "accuracy",
]
GROUP_METRICS: tuple[GroupMetricName, ...] = get_args(GroupMetricName)

_UNDEFINED_WHEN = {
    "base_rate": "the group has no rows (or zero total weight)",
    "selection_rate": "the group has no rows (or zero total weight)",
    "true_positive_rate": "the group has no actual positives",
    "false_positive_rate": "the group has no actual negatives",
    "false_negative_rate": "the group has no actual positives",
    "precision": "the group has no predicted positives",
    "accuracy": "the group has no rows (or zero total weight)",
}


def confusion_cells(
    pos_true: np.ndarray,
    pos_pred: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted ``(tp, fp, fn, tn)`` per group as an array of shape ``(n_groups, 4)``."""
    cell = (~pos_true).astype(np.int64) + 2 * (~pos_pred).astype(np.int64)
    flat = codes * 4 + cell
    counts = np.bincount(flat, weights=weight, minlength=4 * n_groups)
    return counts.reshape(n_groups, 4).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def rates_from_cells(cells: np.ndarray, metric: GroupMetricName) -> np.ndarray:
    """Rate ``metric`` for every group of ``cells`` (``NaN`` where its denominator is 0)."""
    tp, fp, fn, tn = (cells[..., k] for k in (TP, FP, FN, TN))
    n = tp + fp + fn + tn
    if metric == "base_rate":
        return _ratio(tp + fn, n)
    if metric == "selection_rate":
        return _ratio(tp + fp, n)
    if metric == "true_positive_rate":
        return _ratio(tp, tp + fn)
    if metric == "false_positive_rate":
        return _ratio(fp, fp + tn)
    if metric == "false_negative_rate":
        return _ratio(fn, tp + fn)
    if metric == "precision":
        return _ratio(tp, tp + fp)
    if metric == "accuracy":
        return _ratio(tp + tn, n)
    raise KeyError(metric)


def undefined_reason(metric: str) -> str:
    """Why ``metric`` can be undefined for a group."""
    return _UNDEFINED_WHEN[metric]


def _value(x: float, metric: str, where: str) -> MetricValue:
    if np.isnan(x):
        return Undefined(f"{metric} of {where}: {_UNDEFINED_WHEN[metric]}")
    return float(x)


@dataclass(frozen=True)
class GroupMetrics:
    """Size and rates of every group (and overall) of binary predictions.

    Attributes
    ----------
    groups
        The groups (codes of each row, labels, feature names).
    sizes
        Number of rows in each group (unweighted).
    cells
        Weighted ``(tp, fp, fn, tn)`` per group, shape ``(n_groups, 4)``.
    """

    groups: Groups
    sizes: np.ndarray
    cells: np.ndarray

    @property
    def names(self) -> list[str]:
        """Readable group names, in order."""
        return self.groups.names()

    @cached_property
    def _rates(self) -> dict[str, np.ndarray]:
        return {m: rates_from_cells(self.cells, m) for m in GROUP_METRICS}

    @cached_property
    def _overall(self) -> dict[str, float]:
        total = self.cells.sum(axis=0)
        return {m: float(rates_from_cells(total, m)) for m in GROUP_METRICS}

    def rate_array(self, metric: GroupMetricName) -> np.ndarray:
        """Rates of all groups as floats, ``NaN`` where undefined (for vectorised use)."""
        return self._rates[metric].copy()

    def value(self, metric: GroupMetricName, group: object) -> MetricValue:
        """``metric`` of one group, given by its value (a tuple for several features) or name."""
        return self._at(metric, self.groups.index(group))

    def _at(self, metric: GroupMetricName, i: int) -> MetricValue:
        return _value(float(self._rates[metric][i]), metric, f"group {self.groups.name(i)}")

    def by_group(self, metric: GroupMetricName) -> dict[str, MetricValue]:
        """``{group name: value}`` of ``metric``."""
        return {self.groups.name(i): self._at(metric, i) for i in range(self.groups.n_groups)}

    def overall(self, metric: GroupMetricName) -> MetricValue:
        """``metric`` over all rows together."""
        return _value(self._overall[metric], metric, "all rows")

    def table(self) -> list[dict[str, Any]]:
        """One row per group: size, share of rows and every rate (``None`` when undefined)."""
        total = float(self.sizes.sum())
        rows = []
        for i in range(self.groups.n_groups):
            row: dict[str, Any] = {
                "group": self.groups.name(i),
                "size": int(self.sizes[i]),
                "share": float(self.sizes[i]) / total,
            }
            for m in GROUP_METRICS:
                x = float(self._rates[m][i])
                row[m] = None if np.isnan(x) else x
            rows.append(row)
        return rows


def compute_group_metrics(
    pos_true: np.ndarray, pos_pred: np.ndarray, groups: Groups, weight: np.ndarray | None
) -> GroupMetrics:
    """:class:`GroupMetrics` of already-converted boolean labels and group codes."""
    cells = confusion_cells(pos_true, pos_pred, groups.codes, groups.n_groups, weight)
    sizes = (
        cells.sum(axis=1).astype(np.int64)
        if weight is None
        else np.bincount(groups.codes, minlength=groups.n_groups)
    )
    return GroupMetrics(groups=groups, sizes=sizes, cells=cells)


def prepare(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    sample_weight: Any,
    pos_label: object,
) -> tuple[np.ndarray, np.ndarray, Groups, np.ndarray | None]:
    """Validate and convert the common inputs of the group metrics."""
    t = binary_labels(y_true, "y_true", pos_label)
    p = binary_labels(y_pred, "y_pred", pos_label)
    check_length(p, len(t), "y_pred")
    w = check_weights(sample_weight, len(t))
    return t, p, encode_groups(sensitive_features, len(t)), w


def group_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: object = None,
) -> GroupMetrics:
    """Size, base rate, selection rate, TPR, FPR, FNR, precision and accuracy per group.

    Rates follow the usual confusion-matrix definitions (those of fairlearn's
    ``MetricFrame`` with ``selection_rate``, ``true_positive_rate`` and so on), with
    optional sample weights. A rate whose denominator is zero (the TPR of a group
    without actual positives) is :class:`Undefined`, never ``NaN`` or ``0``.

    Parameters
    ----------
    y_true, y_pred
        Binary true and predicted labels.
    sensitive_features
        One column (array-like) or several (2-D array, DataFrame, ``{name: values}``);
        several columns give intersectional groups.
    sample_weight
        Optional non-negative weight per row.
    pos_label
        The positive label; by default 1 (labels must then be 0/1, -1/1 or booleans).
    """
    t, p, groups, w = prepare(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return compute_group_metrics(t, p, groups, w)
