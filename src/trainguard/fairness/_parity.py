"""The six between-group gaps as plain functions of labels, predictions and groups.

Each one equals fairlearn's function of the same name (``between_groups``: the
spread over all groups, ``privileged=None``) or AIF360's (``privileged`` given:
unprivileged minus privileged), to floating-point precision. Unlike both, a gap
that does not exist on the data is :class:`Undefined` with the reason, never
``NaN``, ``0`` or a warning.
"""

from __future__ import annotations

from typing import Any

from trainguard.fairness._gaps import GapName, compute_gaps
from trainguard.fairness._group_metrics import compute_group_metrics, prepare
from trainguard.fairness._undefined import MetricValue


def _gap(
    name: GapName,
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    privileged: object,
    sample_weight: Any,
    pos_label: object,
) -> MetricValue:
    t, p, groups, w = prepare(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    gm = compute_group_metrics(t, p, groups, w)
    gaps = compute_gaps(
        gm, min_group_size=1, privileged=privileged, boot_cells=None, confidence=0.95
    )
    return gaps[name].value


def statistical_parity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """Difference in selection rates ``P(y_pred = 1 | group)``.

    Largest minus smallest over the groups (fairlearn's
    ``demographic_parity_difference``), or unprivileged minus privileged when
    ``privileged`` names the privileged group (AIF360). Reference: Dwork et al.,
    "Fairness through awareness", ITCS 2012 (statistical parity).
    """
    return _gap(
        "statistical_parity_difference",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )


def disparate_impact_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """Ratio of selection rates: smallest over largest, or unprivileged over privileged.

    fairlearn's ``demographic_parity_ratio``; AIF360's ``disparate_impact``. The
    four-fifths rule asks for at least 0.8. Reference: Feldman et al., KDD 2015.
    """
    return _gap(
        "disparate_impact_ratio",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )


def equal_opportunity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """Difference in true positive rates (Hardt et al., NeurIPS 2016)."""
    return _gap(
        "equal_opportunity_difference",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )


def average_odds_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """Mean of the TPR and FPR differences.

    Between groups: the mean of the two spreads (fairlearn's
    ``equalized_odds_difference(agg="mean")``); with ``privileged``: AIF360's
    ``average_odds_difference``, ``((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2``.
    """
    return _gap(
        "average_odds_difference",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )


def equalized_odds_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """The larger of the TPR and FPR differences (in absolute value with ``privileged``).

    fairlearn's ``equalized_odds_difference``; AIF360's
    ``ClassificationMetric.equalized_odds_difference``. Reference: Hardt et al. 2016.
    """
    return _gap(
        "equalized_odds_difference",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )


def predictive_parity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: object = None,
    sample_weight: Any = None,
    pos_label: object = None,
) -> MetricValue:
    """Difference in precision ``P(y = 1 | y_pred = 1, group)`` (Chouldechova 2017)."""
    return _gap(
        "predictive_parity_difference",
        y_true,
        y_pred,
        sensitive_features,
        privileged,
        sample_weight,
        pos_label,
    )
