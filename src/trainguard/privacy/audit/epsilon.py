"""Empirical epsilon lower bounds from a membership test's errors, with Clopper-Pearson intervals.

An (epsilon, delta)-DP training algorithm constrains every membership test: its
false-positive rate FPR and false-negative rate FNR satisfy
``FPR + e^eps * FNR >= 1 - delta`` and ``FNR + e^eps * FPR >= 1 - delta``
(Kairouz, Oh, Viswanath 2015). Measured rates therefore give
``eps >= max(log((1 - delta - FNR) / FPR), log((1 - delta - FPR) / FNR))``.
Jagielski, Ullman, Oprea (2020), "Auditing differentially private machine
learning: how private is private SGD?", and Nasr et al. (2021), "Adversary
instantiation", turn this into a high-confidence bound with Clopper-Pearson upper
limits on both rates. Here every candidate threshold's two intervals share the
error probability (Bonferroni), so the maximum over thresholds is a valid bound at
the stated confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_int, check_real
from trainguard.privacy.params import check_delta


def clopper_pearson(successes: int, trials: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided ``1 - alpha`` confidence interval for a binomial proportion.

    Clopper and Pearson (1934): the ``alpha/2`` and ``1 - alpha/2`` quantiles of
    ``Beta(k, n - k + 1)`` and ``Beta(k + 1, n - k)``.
    """
    n = check_int(trials, "trials", "clopper_pearson", low=1)
    k = check_int(successes, "successes", "clopper_pearson", low=0, high=n)
    a = check_real(
        alpha, "alpha", "clopper_pearson", low=0.0, high=1.0, low_open=True, high_open=True
    )
    lower = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lower, upper


@dataclass(frozen=True)
class EmpiricalEpsilon:
    """The best lower bound on epsilon over the thresholds tried, and where it was found."""

    epsilon: float
    threshold: float
    fpr_upper: float
    fnr_upper: float
    confidence: float
    delta: float
    n_thresholds: int


def _bound(fpr: float, fnr: float, delta: float) -> float:
    best = 0.0
    for num, den in ((1 - delta - fnr, fpr), (1 - delta - fpr, fnr)):
        if num > 0 and den > 0:
            best = max(best, math.log(num / den))
    return best


def empirical_epsilon(
    scores: object,
    is_member: object,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
    n_thresholds: int = 50,
) -> EmpiricalEpsilon:
    """Lower bound on epsilon, valid with probability ``confidence``, from membership scores.

    A higher score means "member". Thresholds are ``n_thresholds`` quantiles of the
    pooled scores (chosen without the labels); at each, the Clopper-Pearson upper
    limits of FPR and FNR at one-sided level ``(1 - confidence) / (2 * n_thresholds)``
    give a bound, and the largest is returned (0 when nothing is significant).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    m = np.asarray(is_member, dtype=bool).ravel()
    if s.shape != m.shape or not np.all(np.isfinite(s)):
        raise ParameterError(
            "The 'scores' parameter of empirical_epsilon must be finite and match 'is_member' in length."
        )
    n_in, n_out = int(m.sum()), int((~m).sum())
    if n_in == 0 or n_out == 0:
        raise ParameterError(
            "The 'is_member' parameter of empirical_epsilon must contain members and non-members."
        )
    dlt = check_delta(delta, "empirical_epsilon")
    conf = check_real(
        confidence,
        "confidence",
        "empirical_epsilon",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    t = check_int(n_thresholds, "n_thresholds", "empirical_epsilon", low=1)
    thresholds = np.unique(np.quantile(s, np.linspace(0.0, 1.0, t + 2)[1:-1]))
    level = (1 - conf) / len(thresholds)  # two-sided at this level = one-sided at half of it
    best = EmpiricalEpsilon(0.0, float(thresholds[0]), 1.0, 1.0, conf, dlt, len(thresholds))
    s_in, s_out = np.sort(s[m]), np.sort(s[~m])
    for th in thresholds:
        false_pos = n_out - int(np.searchsorted(s_out, th, side="left"))
        false_neg = int(np.searchsorted(s_in, th, side="left"))
        fpr_hi = clopper_pearson(false_pos, n_out, alpha=level)[1]
        fnr_hi = clopper_pearson(false_neg, n_in, alpha=level)[1]
        eps = _bound(fpr_hi, fnr_hi, dlt)
        if eps > best.epsilon:
            best = EmpiricalEpsilon(eps, float(th), fpr_hi, fnr_hi, conf, dlt, len(thresholds))
    return best
