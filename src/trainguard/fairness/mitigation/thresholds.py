"""Post-processing: group-specific (randomised) thresholds for equalized odds or opportunity.

Reference: M. Hardt, E. Price, N. Srebro, "Equality of opportunity in supervised
learning", NeurIPS 2016, section 4. A derived predictor may only look at the score
and the group. The operating points it can reach for a group fill the convex hull of
that group's ROC curve (randomising between two thresholds moves along a hull edge;
mixing with a coin of the same false positive rate moves down to the diagonal).

* ``equalized_odds``: one common point ``(fpr, tpr)`` for every group. For a given
  ``fpr`` the best common ``tpr`` is the lowest of the groups' upper hulls there, and
  accuracy ``sum_g P_g tpr + N_g (1 - fpr)`` is concave in ``fpr``, so its maximum is
  found to machine precision by golden-section search.
* ``equal_opportunity``: one common ``tpr``; each group takes the lowest ``fpr`` that
  reaches it (its hull read sideways), again a concave problem in ``tpr``.

The result maximises accuracy on the calibration data, where the constraint holds
exactly in expectation (``predict_proba``); ``predict`` draws the randomised labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from trainguard.core.errors import DataError, NotFittedError
from trainguard.core.validation import check_choice
from trainguard.fairness._inputs import as_1d, binary_labels, check_length, encode_groups

ThresholdConstraint = Literal["equalized_odds", "equal_opportunity"]
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class GroupRule:
    """The derived predictor of one group: ``P(y_hat = 1 | score s)``.

    ``p_high`` when ``s >= high``, ``p_mid`` when ``low <= s < high``, ``p_low``
    below ``low`` (thresholds may be infinite).
    """

    high: float
    low: float
    p_high: float
    p_mid: float
    p_low: float

    def proba(self, scores: np.ndarray) -> np.ndarray:
        """Probability of a positive prediction for each score."""
        return np.where(
            scores >= self.high, self.p_high, np.where(scores >= self.low, self.p_mid, self.p_low)
        )


@dataclass(frozen=True)
class _Hull:
    """Upper ROC convex hull of one group: vertices and the threshold of each."""

    fpr: np.ndarray
    tpr: np.ndarray
    thr: np.ndarray
    positives: float
    negatives: float

    def tpr_at(self, x: float) -> tuple[int, float, float]:
        """Hull edge ``j``, position ``lam`` on it and hull ``tpr`` at false positive rate ``x``."""
        j = int(np.clip(np.searchsorted(self.fpr, x, side="right") - 1, 0, len(self.fpr) - 2))
        lam = (x - self.fpr[j]) / (self.fpr[j + 1] - self.fpr[j])
        return j, lam, float(self.tpr[j] + lam * (self.tpr[j + 1] - self.tpr[j]))

    def fpr_for(self, t: float) -> tuple[int, float, float]:
        """Hull edge, position on it and the lowest ``fpr`` reaching true positive rate ``t``."""
        top = int(np.argmax(self.tpr >= self.tpr.max()))
        tpr = self.tpr[: top + 1]
        j = int(np.clip(np.searchsorted(tpr, t, side="right") - 1, 0, max(top - 1, 0)))
        lam = (t - tpr[j]) / (tpr[j + 1] - tpr[j])
        return j, lam, float(self.fpr[j] + lam * (self.fpr[j + 1] - self.fpr[j]))

    def rule(self, j: int, lam: float, coin: float = 0.0, coin_rate: float = 0.0) -> GroupRule:
        """Randomise between thresholds ``j`` and ``j + 1``, then mix in a coin with weight ``coin``."""
        keep = 1.0 - coin
        mix = coin * coin_rate
        return GroupRule(
            high=float(self.thr[j]),
            low=float(self.thr[j + 1]),
            p_high=keep + mix,
            p_mid=keep * lam + mix,
            p_low=mix,
        )


def _roc_hull(scores: np.ndarray, pos: np.ndarray, name: str) -> _Hull:
    p, n = float(pos.sum()), float((~pos).sum())
    if p == 0 or n == 0:
        missing = "actual positives" if p == 0 else "actual negatives"
        raise DataError(
            f"group {name} has no {missing}; its ROC curve (and thresholds) are undefined"
        )
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], pos[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    fpr = np.r_[0.0, np.cumsum(~y)[last] / n]
    tpr = np.r_[0.0, np.cumsum(y)[last] / p]
    thr = np.r_[np.inf, s[last]]
    keep = np.r_[True, fpr[1:-1] != fpr[2:], True]
    keep[0] = True
    fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    hull: list[int] = []
    for i in range(len(fpr)):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (fpr[a] - fpr[o]) * (tpr[i] - tpr[o]) - (tpr[a] - tpr[o]) * (fpr[i] - fpr[o])
            if cross < 0:
                break
            hull.pop()
        hull.append(i)
    idx = np.array(hull)
    return _Hull(fpr[idx], tpr[idx], thr[idx], p, n)


def _argmax_concave(f: Callable[[float], float], iters: int = 200) -> float:
    """Maximiser of a concave function on [0, 1] by golden-section search."""
    lo, hi = 0.0, 1.0
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iters):
        if fa < fb:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = f(b)
        else:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = f(a)
    best = (lo + hi) / 2.0
    return max((0.0, 1.0, best), key=f)


class GroupThresholds:
    """Hardt et al. (2016) post-processing of scores into fair randomised predictions.

    Parameters
    ----------
    constraint
        ``"equalized_odds"`` (equal TPR and FPR in every group) or
        ``"equal_opportunity"`` (equal TPR).

    Attributes
    ----------
    rules_
        ``{group name: GroupRule}`` after :meth:`fit`.
    tpr_
        The common true positive rate on the calibration data.
    fpr_
        ``{group name: false positive rate}`` (all equal under equalized odds).
    """

    def __init__(self, *, constraint: ThresholdConstraint = "equalized_odds") -> None:
        self.constraint = check_choice(
            constraint, "constraint", "GroupThresholds", ("equalized_odds", "equal_opportunity")
        )

    def fit(
        self, y_score: Any, y_true: Any, *, sensitive_features: Any, pos_label: object = None
    ) -> GroupThresholds:
        """Choose each group's derived predictor on calibration scores and labels."""
        s = as_1d(y_score, "y_score").astype(np.float64)
        t = binary_labels(y_true, "y_true", pos_label)
        check_length(s, len(t), "y_score")
        if not np.isfinite(s).all():
            raise DataError("y_score: scores must be finite numbers")
        groups = encode_groups(sensitive_features, len(t))
        names = groups.names()
        hulls = [
            _roc_hull(s[groups.codes == g], t[groups.codes == g], names[g])
            for g in range(groups.n_groups)
        ]
        if self.constraint == "equalized_odds":
            self._fit_odds(hulls, names)
        else:
            self._fit_opportunity(hulls, names)
        self.feature_names_ = groups.feature_names
        return self

    def _fit_odds(self, hulls: list[_Hull], names: list[str]) -> None:
        pos = sum(h.positives for h in hulls)
        neg = sum(h.negatives for h in hulls)

        def accuracy(x: float) -> float:
            return pos * min(h.tpr_at(x)[2] for h in hulls) - neg * x

        x = _argmax_concave(accuracy)
        y = min(h.tpr_at(x)[2] for h in hulls)
        self.rules_: dict[str, GroupRule] = {}
        for name, h in zip(names, hulls, strict=True):
            j, lam, top = h.tpr_at(x)
            coin = (top - y) / (top - x) if top - x > 1e-15 else 0.0
            self.rules_[name] = h.rule(j, lam, coin=coin, coin_rate=x)
        self.tpr_ = y
        self.fpr_ = dict.fromkeys(names, x)

    def _fit_opportunity(self, hulls: list[_Hull], names: list[str]) -> None:
        def accuracy(t: float) -> float:
            return sum(h.positives * t - h.negatives * h.fpr_for(t)[2] for h in hulls)

        t = _argmax_concave(accuracy)
        self.rules_ = {}
        self.fpr_ = {}
        for name, h in zip(names, hulls, strict=True):
            j, lam, x = h.fpr_for(t)
            self.rules_[name] = h.rule(j, lam)
            self.fpr_[name] = x
        self.tpr_ = t

    def predict_proba(self, y_score: Any, *, sensitive_features: Any) -> np.ndarray:
        """Probability of a positive prediction for each row."""
        if not hasattr(self, "rules_"):
            raise NotFittedError("GroupThresholds is not fitted; call fit first")
        s = as_1d(y_score, "y_score").astype(np.float64)
        groups = encode_groups(sensitive_features, len(s))
        out = np.empty(len(s))
        for g, name in enumerate(groups.names()):
            rule = self.rules_.get(name)
            if rule is None:
                raise DataError(
                    f"group {name} was not seen when fitting; known groups: {', '.join(self.rules_)}"
                )
            rows = groups.codes == g
            out[rows] = rule.proba(s[rows])
        return out

    def predict(
        self, y_score: Any, *, sensitive_features: Any, random_state: int | np.random.Generator = 0
    ) -> np.ndarray:
        """Randomised 0/1 predictions drawn from :meth:`predict_proba`."""
        p = self.predict_proba(y_score, sensitive_features=sensitive_features)
        rng = np.random.default_rng(random_state)
        return (rng.random(len(p)) < p).astype(np.int64)
