"""Individual fairness: generalised entropy (Theil) indices and k-NN consistency.

References: T. Speicher et al., "A unified approach to quantifying algorithmic
unfairness: measuring individual & group unfairness via inequality indices",
KDD 2018 (generalised entropy of the benefits ``b_i = y_pred_i - y_true_i + 1``);
R. Zemel et al., "Learning fair representations", ICML 2013 (consistency).
Both follow AIF360's definitions exactly (checked by the peer tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainguard.core.errors import DataError
from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_int, check_real
from trainguard.fairness._inputs import binary_labels, check_length, encode_groups
from trainguard.fairness._undefined import MetricValue, Undefined, as_optional, format_value


def _benefits(y_true: Any, y_pred: Any, pos_label: object) -> np.ndarray:
    t = binary_labels(y_true, "y_true", pos_label)
    p = binary_labels(y_pred, "y_pred", pos_label)
    check_length(p, len(t), "y_pred")
    return 1.0 + p.astype(np.float64) - t.astype(np.float64)


def _entropy_index(b: np.ndarray, alpha: float) -> MetricValue:
    mu = float(b.mean())
    if mu == 0.0:
        return Undefined("every benefit is 0 (all rows are missed positives): mean benefit is 0")
    x = b / mu
    if alpha == 0.0:
        if (x == 0).any():
            return Undefined("alpha=0 takes log(b_i) and some benefit b_i is 0")
        return float(-np.mean(np.log(x)))
    if alpha == 1.0:
        safe = np.where(x > 0, x, 1.0)
        return float(np.mean(x * np.log(safe)))
    return float(np.mean(x**alpha - 1.0) / (alpha * (alpha - 1.0)))


def generalized_entropy_index(
    y_true: Any, y_pred: Any, *, alpha: float = 2.0, pos_label: object = None
) -> MetricValue:
    """Generalised entropy index of the benefits ``b_i = y_pred_i - y_true_i + 1``.

    ``GE(alpha) = mean((b/mu)**alpha - 1) / (alpha (alpha - 1))``, with the Theil index
    at ``alpha=1`` and the mean log deviation at ``alpha=0`` (Speicher et al. 2018).
    0 means every individual gets the same benefit.
    """
    a = check_real(alpha, "alpha", "generalized_entropy_index")
    return _entropy_index(_benefits(y_true, y_pred, pos_label), a)


def theil_index(y_true: Any, y_pred: Any, *, pos_label: object = None) -> MetricValue:
    """Theil index: the generalised entropy index with ``alpha=1`` (Speicher et al. 2018)."""
    return _entropy_index(_benefits(y_true, y_pred, pos_label), 1.0)


def between_group_generalized_entropy_index(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    alpha: float = 2.0,
    pos_label: object = None,
) -> MetricValue:
    """The between-group part of the generalised entropy index.

    Each benefit is replaced by the mean benefit of its group, so the index measures
    only the inequality between groups (Speicher et al. 2018, section 4).
    """
    a = check_real(alpha, "alpha", "between_group_generalized_entropy_index")
    b = _benefits(y_true, y_pred, pos_label)
    groups = encode_groups(sensitive_features, len(b))
    sums = np.bincount(groups.codes, weights=b, minlength=groups.n_groups)
    sizes = np.bincount(groups.codes, minlength=groups.n_groups)
    return _entropy_index((sums / sizes)[groups.codes], a)


def consistency_score(
    X: Any,
    y_pred: Any,
    *,
    n_neighbors: int = 5,
    pos_label: object = None,
    max_queries: int | None = None,
    random_state: int | np.random.Generator = 0,
) -> float:
    """k-NN consistency: ``1 - mean_i |y_i - mean of y over the k nearest rows of x_i|``.

    Zemel et al. (2013); as in AIF360 the neighbourhood of a row includes the row
    itself, and distances are Euclidean on ``X`` as given (scale features first).
    1 means similar individuals always get the same prediction. The search is
    quadratic in the rows: with ``max_queries`` the mean runs over that many rows
    drawn at random (their neighbours still come from all rows), an unbiased
    estimate of the full value.
    """
    from sklearn.neighbors import NearestNeighbors

    y = binary_labels(y_pred, "y_pred", pos_label).astype(np.float64)
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"X: expected a 2-D feature matrix, got shape {x.shape}")
    check_length(x, len(y), "X", "y_pred")
    k = check_int(n_neighbors, "n_neighbors", "consistency_score", low=1, high=max(len(y), 1))
    rows = np.arange(len(y))
    if max_queries is not None and check_int(
        max_queries, "max_queries", "consistency_score", low=1
    ) < len(y):
        rows = np.sort(
            np.random.default_rng(random_state).choice(len(y), max_queries, replace=False)
        )
    idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x[rows], return_distance=False)
    return float(1.0 - np.mean(np.abs(y[rows] - y[idx].mean(axis=1))))


@dataclass(frozen=True)
class IndividualFairness:
    """Individual-level measures of one set of predictions.

    Attributes
    ----------
    theil_index
        Generalised entropy with ``alpha=1`` (0 = equal benefits for all).
    generalized_entropy_index
        Generalised entropy with ``alpha=2``.
    consistency
        k-NN consistency (1 = neighbours always agree), or ``None`` without features.
    """

    theil_index: MetricValue
    generalized_entropy_index: MetricValue
    consistency: float | None
    n_neighbors: int

    def to_findings(self, stage: str) -> list[Finding]:
        """One informational finding with the three measures."""
        parts = [
            f"Theil index {format_value(self.theil_index, 4)}",
            f"GE(2) {format_value(self.generalized_entropy_index, 4)}",
        ]
        if self.consistency is not None:
            parts.append(f"{self.n_neighbors}-NN consistency {self.consistency:.3f}")
        return [
            Finding(
                stage=stage,
                check_id="individual-fairness",
                title="Individual fairness: inequality of benefits and k-NN consistency",
                severity=Severity.INFO,
                metrics={
                    "theil_index": as_optional(self.theil_index),
                    "generalized_entropy_index": as_optional(self.generalized_entropy_index),
                    "consistency": self.consistency,
                },
                message="; ".join(parts),
            )
        ]


def individual_fairness(
    y_true: Any,
    y_pred: Any,
    *,
    X: Any = None,
    n_neighbors: int = 5,
    pos_label: object = None,
    max_queries: int | None = 5000,
    random_state: int | np.random.Generator = 0,
) -> IndividualFairness:
    """Theil index, generalised entropy (alpha 2) and, with features ``X``, k-NN consistency.

    Consistency averages over at most ``max_queries`` random rows (``None``: all),
    see :func:`consistency_score`.
    """
    b = _benefits(y_true, y_pred, pos_label)
    consistency = (
        None
        if X is None
        else consistency_score(
            X,
            y_pred,
            n_neighbors=n_neighbors,
            pos_label=pos_label,
            max_queries=max_queries,
            random_state=random_state,
        )
    )
    return IndividualFairness(
        theil_index=_entropy_index(b, 1.0),
        generalized_entropy_index=_entropy_index(b, 2.0),
        consistency=consistency,
        n_neighbors=n_neighbors,
    )
