"""Empirical privacy audits: membership inference, canary exposure, empirical epsilon.

What an accountant's epsilon promises can be tested: attacks that guess whether an
example was in the training set (loss threshold, LiRA), canaries planted in
training text whose exposure measures memorisation, and an epsilon lower bound with
Clopper-Pearson confidence from an attack's error rates, set beside the claim.
"""

from trainguard.privacy.audit.canaries import (
    CanaryAudit,
    CharLM,
    canary_audit,
    exposure,
    extrapolated_exposure,
    make_canaries,
)
from trainguard.privacy.audit.epsilon import EmpiricalEpsilon, clopper_pearson, empirical_epsilon
from trainguard.privacy.audit.experiment import AuditResult, TrainingRecipe, audit_training
from trainguard.privacy.audit.membership import (
    lira_attack,
    lira_scores,
    logit_confidence,
    loss_attack,
    loss_threshold_scores,
    shadow_confidences,
)
from trainguard.privacy.audit.metrics import MembershipInference, evaluate_attack, tpr_at_fpr
from trainguard.privacy.audit.stage import privacy_audit_stage

__all__ = [
    "AuditResult",
    "CanaryAudit",
    "CharLM",
    "EmpiricalEpsilon",
    "MembershipInference",
    "TrainingRecipe",
    "audit_training",
    "canary_audit",
    "clopper_pearson",
    "empirical_epsilon",
    "evaluate_attack",
    "exposure",
    "extrapolated_exposure",
    "lira_attack",
    "lira_scores",
    "logit_confidence",
    "loss_attack",
    "loss_threshold_scores",
    "make_canaries",
    "privacy_audit_stage",
    "shadow_confidences",
    "tpr_at_fpr",
]
