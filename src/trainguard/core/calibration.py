"""Decision thresholds with a false-positive guarantee (Neyman-Pearson umbrella algorithm).

A threshold read off the benign scores at the empirical 1% quantile meets a 1% false-positive
rate on those scores, and on new benign text only about half the time. The umbrella
algorithm picks an order statistic of held-out benign scores instead: with ``n`` scores
``t(1) <= ... <= t(n)`` and flagging ``score > t(k)``, the probability that the true
false-positive rate exceeds ``max_fpr`` is at most ``sum_{j>=k} C(n,j) (1-a)^j a^(n-j)``
(``a = max_fpr``) for any score distribution; the smallest ``k`` that keeps it at or below
``1 - confidence`` is taken. It needs ``n >= log(1 - confidence) / log(1 - max_fpr)``
held-out scores (299 for 1% at 95%).

Reference: X. Tong, Y. Feng and J. J. Li, "Neyman-Pearson classification algorithms and NP
receiver operating characteristics", Science Advances 4(2), 2018 (Proposition 1).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from trainguard.core.errors import DataError
from trainguard.core.validation import check_real


def _check(max_fpr: float, confidence: float) -> tuple[float, float]:
    a, c = (
        check_real(v, name, "np_threshold", low=0.0, high=1.0, low_open=True, high_open=True)
        for v, name in ((max_fpr, "max_fpr"), (confidence, "confidence"))
    )
    return a, c


def min_calibration_size(max_fpr: float = 0.01, confidence: float = 0.95) -> int:
    """Fewest held-out benign scores for which :func:`np_threshold` can give its guarantee."""
    a, c = _check(max_fpr, confidence)
    return math.ceil(math.log(1.0 - c) / math.log(1.0 - a))


def np_threshold(
    benign_scores: np.ndarray, *, max_fpr: float = 0.01, confidence: float = 0.95
) -> float:
    """Threshold ``t`` whose flags (``score >= t``) keep the false-positive rate <= ``max_fpr``.

    The bound holds with probability at least ``confidence`` over the draw of the held-out
    scores, which must come from benign examples the scoring model was not fitted on.
    """
    a, c = _check(max_fpr, confidence)
    s = np.sort(np.asarray(benign_scores, dtype=np.float64).ravel())
    if not np.isfinite(s).all():
        raise DataError("benign_scores must be finite numbers")
    need = min_calibration_size(a, c)
    if len(s) < need:
        raise DataError(
            f"np_threshold needs at least {need} held-out benign scores for max_fpr={a} at "
            f"confidence={c}; got {len(s)}"
        )
    n = len(s)
    k = np.arange(1, n + 1)
    # violation bound of flagging score > t(k): P(Binomial(n, 1 - a) >= k)
    bound = stats.binom.sf(k - 1, n, 1.0 - a)
    k_star = int(k[np.argmax(bound <= 1.0 - c)])
    return float(np.nextafter(s[k_star - 1], np.inf))
