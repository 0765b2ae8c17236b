"""Bias mitigation before, during and after training.

* pre-processing: :func:`reweighing_weights` (Kamiran & Calders 2012);
* in-processing: :func:`exponentiated_gradient`, fairlearn's reduction (Agarwal
  et al. 2018) around a zoo model (:class:`ZooClassifier`);
* post-processing: :class:`GroupThresholds` (Hardt et al. 2016);
* :func:`mitigate` runs one of them against a baseline and returns the
  before/after trade-off (:class:`MitigationResult`).
"""

from trainguard.fairness.mitigation._tradeoff import (
    METHODS,
    MitigationMethod,
    MitigationResult,
    compare_predictions,
    mitigate,
    mitigate_scores,
)
from trainguard.fairness.mitigation.expgrad import ZooClassifier, exponentiated_gradient
from trainguard.fairness.mitigation.reweighing import reweighing_weights
from trainguard.fairness.mitigation.thresholds import GroupRule, GroupThresholds

__all__ = [
    "METHODS",
    "GroupRule",
    "GroupThresholds",
    "MitigationMethod",
    "MitigationResult",
    "ZooClassifier",
    "compare_predictions",
    "exponentiated_gradient",
    "mitigate",
    "mitigate_scores",
    "reweighing_weights",
]
