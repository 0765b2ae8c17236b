"""How well a membership-inference attack works: AUC, TPR at low FPR, empirical epsilon.

Carlini et al. (2022), "Membership inference attacks from first principles",
argue for the true-positive rate at a low false-positive rate (0.1 %, 1 %) rather
than accuracy or AUC alone; both are reported, with the empirical epsilon lower
bound of :mod:`trainguard.privacy.audit.epsilon` beside the epsilon a training
run claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from trainguard.core.errors import ParameterError
from trainguard.core.findings import Finding, Severity
from trainguard.privacy.audit.epsilon import EmpiricalEpsilon, empirical_epsilon


def tpr_at_fpr(scores: np.ndarray, is_member: np.ndarray, fpr: float) -> float:
    """The highest true-positive rate among thresholds whose false-positive rate is at most ``fpr``."""
    fprs, tprs, _ = roc_curve(is_member, scores)
    ok = fprs <= fpr
    return float(tprs[ok].max()) if ok.any() else 0.0


@dataclass(frozen=True)
class MembershipInference:
    """The outcome of one membership-inference attack on one model."""

    attack: str
    auc: float
    tpr_at_0_1pct_fpr: float
    tpr_at_1pct_fpr: float
    n_members: int
    n_nonmembers: int
    empirical: EmpiricalEpsilon
    claimed_epsilon: float | None = None

    @property
    def leaky(self) -> bool:
        """True when the attack's advantage is statistically significant (epsilon lower bound > 0)."""
        return self.empirical.epsilon > 0.0

    @property
    def guarantee_broken(self) -> bool:
        """True when the measured lower bound exceeds the epsilon the training claims."""
        return self.claimed_epsilon is not None and self.empirical.epsilon > self.claimed_epsilon

    def to_findings(self, stage: str, *, target: str = "", gate: bool = True) -> list[Finding]:
        """Two findings: the membership leakage, and the empirical epsilon against the claim.

        ``target`` names the audited model in the titles and check ids (``"dp"``);
        ``gate=False`` reports the leakage without a verdict (a baseline shown for contrast).
        """
        e = self.empirical
        suffix = f"-{target}" if target else ""
        about = f" on {target}" if target else ""
        metrics: dict[str, float | None] = {
            "auc": self.auc,
            "tpr_at_0.1%_fpr": self.tpr_at_0_1pct_fpr,
            "tpr_at_1%_fpr": self.tpr_at_1pct_fpr,
            "members": float(self.n_members),
            "nonmembers": float(self.n_nonmembers),
        }
        leak = Finding(
            stage=stage,
            check_id=f"membership-{self.attack}{suffix}",
            title=f"Membership inference ({self.attack}){about}",
            severity=Severity.HIGH,
            passed=(not self.leaky) if gate else None,
            metrics=metrics,
            message=(
                f"AUC {self.auc:.3f}, TPR {self.tpr_at_1pct_fpr:.3f} at 1% FPR; "
                + ("members are distinguishable" if self.leaky else "no significant leakage")
                + f" at {e.confidence:.0%} confidence"
            ),
        )
        claim = self.claimed_epsilon
        bound = Finding(
            stage=stage,
            check_id=f"empirical-epsilon-{self.attack}{suffix}",
            title=f"Empirical epsilon lower bound ({self.attack}){about} vs the claimed epsilon",
            severity=Severity.CRITICAL,
            passed=None if claim is None else not self.guarantee_broken,
            threshold=claim,
            metrics={
                "epsilon_lower_bound": e.epsilon,
                "claimed_epsilon": claim,
                "delta": e.delta,
                "confidence": e.confidence,
                "fpr_upper": e.fpr_upper,
                "fnr_upper": e.fnr_upper,
            },
            message=(
                f"epsilon >= {e.epsilon:.3f} with {e.confidence:.0%} confidence"
                + ("" if claim is None else f"; claimed epsilon {claim:g}")
                + (" (broken guarantee or accounting bug)" if self.guarantee_broken else "")
            ),
        )
        return [leak, bound]


def evaluate_attack(
    scores: object,
    is_member: object,
    *,
    attack: str,
    claimed_epsilon: float | None = None,
    delta: float = 0.0,
    confidence: float = 0.95,
) -> MembershipInference:
    """AUC, TPR at 0.1 % and 1 % FPR and the empirical epsilon of membership ``scores``."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    m = np.asarray(is_member, dtype=bool).ravel()
    if s.shape != m.shape or not m.any() or m.all():
        raise ParameterError(
            "The 'is_member' parameter of evaluate_attack must match 'scores' and contain both classes."
        )
    if claimed_epsilon is not None and not math.isfinite(claimed_epsilon):
        claimed_epsilon = None
    return MembershipInference(
        attack=attack,
        auc=float(roc_auc_score(m, s)),
        tpr_at_0_1pct_fpr=tpr_at_fpr(s, m, 0.001),
        tpr_at_1pct_fpr=tpr_at_fpr(s, m, 0.01),
        n_members=int(m.sum()),
        n_nonmembers=int((~m).sum()),
        empirical=empirical_epsilon(s, m, delta=delta, confidence=confidence),
        claimed_epsilon=claimed_epsilon,
    )
