"""Fairness: group and individual metrics with confidence intervals, data bias, reports.

Metrics are vectorised numpy functions of binary labels, predictions and one or
more sensitive features (several give intersectional groups); they equal
fairlearn's and AIF360's definitions and mark values that do not exist as
:class:`Undefined` rather than ``NaN``. :func:`fairness_audit` adds bootstrap
intervals and a minimum group size, and turns gaps into findings with verdicts
(:class:`FairnessThresholds`). Mitigation lives in
:mod:`trainguard.fairness.mitigation`; run stages and plots in
:mod:`trainguard.fairness.report`.
"""

from trainguard.fairness._audit import (
    AuditSettings,
    FairnessAudit,
    FairnessThresholds,
    Verdict,
    audit_attributes,
    fairness_audit,
    judge,
)
from trainguard.fairness._data_bias import DataBias, data_bias
from trainguard.fairness._gaps import GAP_ABBREVIATIONS, GAPS, Gap, GapName
from trainguard.fairness._group_metrics import GROUP_METRICS, GroupMetrics, group_metrics
from trainguard.fairness._individual import (
    IndividualFairness,
    between_group_generalized_entropy_index,
    consistency_score,
    generalized_entropy_index,
    individual_fairness,
    theil_index,
)
from trainguard.fairness._parity import (
    average_odds_difference,
    disparate_impact_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    predictive_parity_difference,
    statistical_parity_difference,
)
from trainguard.fairness._undefined import MetricValue, Undefined

__all__ = [
    "GAPS",
    "GAP_ABBREVIATIONS",
    "GROUP_METRICS",
    "AuditSettings",
    "DataBias",
    "FairnessAudit",
    "FairnessThresholds",
    "Gap",
    "GapName",
    "GroupMetrics",
    "IndividualFairness",
    "MetricValue",
    "Undefined",
    "Verdict",
    "audit_attributes",
    "average_odds_difference",
    "between_group_generalized_entropy_index",
    "consistency_score",
    "data_bias",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "fairness_audit",
    "generalized_entropy_index",
    "group_metrics",
    "individual_fairness",
    "judge",
    "predictive_parity_difference",
    "statistical_parity_difference",
    "theil_index",
]
