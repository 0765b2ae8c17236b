"""The six between-group gaps as plain functions of labels, predictions and groups.

Each one equals fairlearn's function of the same name (``between_groups``: the
spread over all groups, ``privileged=None``) or AIF360's (``privileged`` given:
unprivileged minus privileged), to floating-point precision. Unlike both, a gap
that does not exist on the data is :class:`Undefined` with the reason, never
``NaN``, ``0`` or a warning. Every group takes part, however small (the minimum
group size and the intervals belong to :func:`fairness_audit`).
"""

from __future__ import annotations

from typing import Any, Protocol

from trainguard.fairness._audit import fairness_audit
from trainguard.fairness._gaps import GapName
from trainguard.fairness._undefined import MetricValue


class GapFunction(Protocol):
    """Signature shared by the gap functions."""

    def __call__(
        self,
        y_true: Any,
        y_pred: Any,
        *,
        sensitive_features: Any,
        privileged: object = None,
        sample_weight: Any = None,
        pos_label: object = None,
    ) -> MetricValue: ...


_PARAMETERS = """

    Parameters
    ----------
    y_true, y_pred
        Binary true and predicted labels.
    sensitive_features
        One or more sensitive columns (several give intersectional groups).
    privileged
        The privileged group (a value, or a tuple for several columns); ``None``
        compares the highest and lowest group.
    sample_weight
        Optional weight per row.
    pos_label
        The positive label (default 1).
"""


def _gap_function(name: GapName, summary: str) -> GapFunction:
    def gap(
        y_true: Any,
        y_pred: Any,
        *,
        sensitive_features: Any,
        privileged: object = None,
        sample_weight: Any = None,
        pos_label: object = None,
    ) -> MetricValue:
        audit = fairness_audit(
            y_true,
            y_pred,
            sensitive_features=sensitive_features,
            sample_weight=sample_weight,
            pos_label=pos_label,
            privileged=privileged,
            min_group_size=1,
            n_boot=0,
        )
        return audit.gaps[name].value

    gap.__name__ = gap.__qualname__ = name
    gap.__doc__ = summary + _PARAMETERS
    return gap


statistical_parity_difference = _gap_function(
    "statistical_parity_difference",
    """Difference in selection rates ``P(y_pred = 1 | group)``.

    Largest minus smallest over the groups (fairlearn's
    ``demographic_parity_difference``), or unprivileged minus privileged (AIF360's
    ``statistical_parity_difference``). Reference: Dwork et al., "Fairness through
    awareness", ITCS 2012.""",
)
disparate_impact_ratio = _gap_function(
    "disparate_impact_ratio",
    """Ratio of selection rates: smallest over largest, or unprivileged over privileged.

    fairlearn's ``demographic_parity_ratio``; AIF360's ``disparate_impact``. The
    four-fifths rule asks for at least 0.8. Reference: Feldman et al., KDD 2015.""",
)
equal_opportunity_difference = _gap_function(
    "equal_opportunity_difference",
    """Difference in true positive rates (Hardt, Price & Srebro, NeurIPS 2016).

    fairlearn's and AIF360's ``equal_opportunity_difference``.""",
)
average_odds_difference = _gap_function(
    "average_odds_difference",
    """Mean of the TPR and FPR differences.

    Between groups: the mean of the two spreads (fairlearn's
    ``equalized_odds_difference(agg="mean")``); with ``privileged``: AIF360's
    ``average_odds_difference``, ``((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2``.""",
)
equalized_odds_difference = _gap_function(
    "equalized_odds_difference",
    """The larger of the TPR and FPR differences (absolute values with ``privileged``).

    fairlearn's ``equalized_odds_difference``; AIF360's
    ``ClassificationMetric.equalized_odds_difference``. Reference: Hardt et al. 2016.""",
)
predictive_parity_difference = _gap_function(
    "predictive_parity_difference",
    """Difference in precision ``P(y = 1 | y_pred = 1, group)``.

    fairlearn's ``MetricFrame(precision_score).difference()``; AIF360's difference of
    ``positive_predictive_value``. Reference: Chouldechova, Big Data 2017.""",
)
