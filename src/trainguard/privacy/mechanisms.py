"""Continuous DP mechanisms: Laplace, Gaussian (classic and analytic), exponential, randomized response.

Every function is vectorised over NumPy arrays, validates its privacy parameters and
takes ``rng``: an ``int`` seed or a generator for reproducible tests, ``None`` (the
default) for the operating system's cryptographically secure source. For integer
queries prefer :mod:`trainguard.privacy.discrete`, whose exact samplers avoid the
floating-point attack on textbook Laplace noise (Mironov 2012).

Example: the Laplace mechanism with epsilon 0.5 on an array of counts

>>> from trainguard.privacy import laplace_mechanism
>>> noisy = laplace_mechanism([10.0, 20.0, 30.0], epsilon=0.5, rng=0)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_int
from trainguard.privacy.params import as_values, check_delta, check_epsilon, check_sensitivity
from trainguard.privacy.randomness import RandomState, as_source, uniform


def laplace_noise(scale: float, shape: tuple[int, ...], *, rng: RandomState = None) -> np.ndarray:
    """Samples of the Laplace distribution ``Lap(0, scale)`` by the inverse CDF."""
    u = uniform(as_source(rng), shape) - 0.5
    return -scale * np.sign(u) * np.log1p(-2.0 * np.abs(u))


def gaussian_noise(sigma: float, shape: tuple[int, ...], *, rng: RandomState = None) -> np.ndarray:
    """Samples of ``N(0, sigma**2)`` by the inverse CDF."""
    return sigma * special.ndtri(uniform(as_source(rng), shape))


def laplace_mechanism(
    values: object,
    *,
    epsilon: float,
    sensitivity: float = 1.0,
    rng: RandomState = None,
) -> np.ndarray:
    """Release ``values`` with Laplace noise of scale ``sensitivity / epsilon`` (epsilon-DP).

    ``sensitivity`` is the L1 sensitivity of the whole array (one person changes the
    array by at most this much in L1 norm). Dwork, McSherry, Nissim, Smith (2006),
    "Calibrating noise to sensitivity in private data analysis".
    """
    eps = check_epsilon(epsilon, "laplace_mechanism")
    sens = check_sensitivity(sensitivity, "laplace_mechanism")
    x = as_values(values, "laplace_mechanism")
    return x + laplace_noise(sens / eps, x.shape, rng=rng)


def gaussian_delta(sigma: float, *, epsilon: float, sensitivity: float = 1.0) -> float:
    """The smallest delta for which ``N(0, sigma**2)`` noise is (epsilon, delta)-DP.

    Balle and Wang (2018), "Improving the Gaussian mechanism for differential privacy:
    analytical calibration and optimal denoising", Theorem 8:
    ``delta = Phi(D/(2s) - e*s/D) - exp(e) * Phi(-D/(2s) - e*s/D)``.
    """
    s = check_sensitivity(sigma, "gaussian_delta")
    eps = check_epsilon(epsilon, "gaussian_delta")
    d = check_sensitivity(sensitivity, "gaussian_delta")
    a, b = d / (2.0 * s), eps * s / d
    return float(special.ndtr(a - b) - math.exp(eps + special.log_ndtr(-a - b)))


def gaussian_sigma(
    *, epsilon: float, delta: float, sensitivity: float = 1.0, analytic: bool = True
) -> float:
    """The Gaussian noise scale that makes an L2-``sensitivity`` query (epsilon, delta)-DP.

    ``analytic=True`` solves Balle and Wang's exact condition (:func:`gaussian_delta`)
    for the smallest sigma (root finding to machine precision); it holds for every
    epsilon > 0. ``analytic=False`` is the classic ``sqrt(2 ln(1.25/delta)) * D / epsilon``
    (Dwork and Roth 2014, Theorem A.1), valid only for epsilon < 1.
    """
    eps = check_epsilon(epsilon, "gaussian_sigma")
    dlt = check_delta(delta, "gaussian_sigma", allow_zero=False)
    sens = check_sensitivity(sensitivity, "gaussian_sigma")
    if not analytic:
        if eps >= 1.0:
            raise ParameterError(
                "The 'epsilon' parameter of gaussian_sigma must be a float in (0, 1) for the "
                f"classic calibration. Got {epsilon!r} instead (use analytic=True)."
            )
        return math.sqrt(2.0 * math.log(1.25 / dlt)) * sens / eps

    def excess(sigma: float) -> float:
        return gaussian_delta(sigma, epsilon=eps, sensitivity=sens) - dlt

    lo, hi = sens, sens
    while excess(lo) <= 0.0:
        lo /= 2.0
    while excess(hi) > 0.0:
        hi *= 2.0
    return float(optimize.brentq(excess, lo, hi, xtol=1e-14 * hi, rtol=4 * np.finfo(float).eps))


def gaussian_mechanism(
    values: object,
    *,
    epsilon: float,
    delta: float,
    sensitivity: float = 1.0,
    analytic: bool = True,
    rng: RandomState = None,
) -> np.ndarray:
    """Release ``values`` with Gaussian noise calibrated by :func:`gaussian_sigma`.

    ``sensitivity`` is the L2 sensitivity of the whole array.
    """
    sigma = gaussian_sigma(epsilon=epsilon, delta=delta, sensitivity=sensitivity, analytic=analytic)
    x = as_values(values, "gaussian_mechanism")
    return x + gaussian_noise(sigma, x.shape, rng=rng)


def exponential_mechanism(
    scores: object,
    *,
    epsilon: float,
    sensitivity: float = 1.0,
    monotonic: bool = False,
    rng: RandomState = None,
) -> np.ndarray:
    """Pick an index with probability proportional to ``exp(epsilon * score / (2 * sensitivity))``.

    McSherry and Talwar (2007), "Mechanism design via differential privacy". Scores
    along the last axis are one selection (a 2-D array makes one pick per row);
    ``monotonic=True`` drops the factor 2 for utilities that move in one direction
    between neighbours. Returns the chosen indices (a 0-d array for 1-D scores).
    """
    eps = check_epsilon(epsilon, "exponential_mechanism")
    sens = check_sensitivity(sensitivity, "exponential_mechanism")
    u = as_values(scores, "exponential_mechanism", "scores")
    if u.ndim == 0 or u.shape[-1] == 0:
        raise ParameterError(
            "The 'scores' parameter of exponential_mechanism must have at least one candidate "
            f"on its last axis. Got shape {u.shape} instead."
        )
    return sample_log_weights((eps if monotonic else eps / 2.0) * u / sens, rng=rng)


def sample_log_weights(log_weights: np.ndarray, *, rng: RandomState = None) -> np.ndarray:
    """Draw an index along the last axis with probability proportional to ``exp(log_weights)``.

    ``-inf`` entries are never drawn. Inverse-CDF sampling from one uniform per row.
    """
    cdf = np.cumsum(special.softmax(log_weights, axis=-1), axis=-1)
    draw = uniform(as_source(rng), log_weights.shape[:-1])[..., None] * cdf[..., -1:]
    return np.minimum((cdf < draw).sum(axis=-1), log_weights.shape[-1] - 1)


def _rr_keep_probability(epsilon: float, k: int) -> float:
    return math.exp(epsilon) / (math.exp(epsilon) + k - 1)


def randomized_response(
    values: object, *, epsilon: float, n_categories: int = 2, rng: RandomState = None
) -> np.ndarray:
    """Report each category in ``[0, k)`` truthfully with probability ``e^eps / (e^eps + k - 1)``.

    Otherwise report one of the other ``k - 1`` categories uniformly. Warner (1965) for
    ``k = 2``; the k-ary form is generalised randomized response (Kairouz, Oh,
    Viswanath 2016; Wang et al. 2017). Each report is epsilon-LDP.
    """
    eps = check_epsilon(epsilon, "randomized_response")
    k = check_int(n_categories, "n_categories", "randomized_response", low=2)
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.integer) or (v.size and (v.min() < 0 or v.max() >= k)):
        raise ParameterError(
            f"The 'values' parameter of randomized_response must hold integers in [0, {k}). "
            "Got other values instead."
        )
    src = as_source(rng)
    keep = uniform(src, v.shape) < _rr_keep_probability(eps, k)
    other = np.floor(uniform(src, v.shape) * (k - 1)).astype(np.int64)
    other += other >= v
    return np.where(keep, v, other).astype(np.int64)


def randomized_response_frequencies(
    reports: object, *, epsilon: float, n_categories: int = 2
) -> np.ndarray:
    """Unbiased estimate of the true category frequencies from randomized-response reports.

    ``(observed - q) / (p - q)`` with ``p`` the keep probability and ``q = (1 - p)/(k - 1)``.
    """
    eps = check_epsilon(epsilon, "randomized_response_frequencies")
    k = check_int(n_categories, "n_categories", "randomized_response_frequencies", low=2)
    r = np.asarray(reports, dtype=np.int64).ravel()
    if r.size == 0:
        raise ParameterError(
            "The 'reports' parameter of randomized_response_frequencies must not be empty."
        )
    p = _rr_keep_probability(eps, k)
    q = (1.0 - p) / (k - 1)
    observed = np.bincount(r, minlength=k)[:k] / r.size
    return (observed - q) / (p - q)
