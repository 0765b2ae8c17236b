"""Discrete Laplace and discrete Gaussian mechanisms for integer queries, sampled exactly.

Canonne, Kamath and Steinke (2020), "The discrete Gaussian for differential privacy"
(NeurIPS), Algorithms 1-3: every sample is drawn with exact rational arithmetic from
uniform random integers, so no floating-point rounding leaks the true value (the
attack of Mironov 2012, "On significance of the least significant bits for
differential privacy", on textbook Laplace noise). Parameters are converted to exact
fractions; samplers run in pure Python (tens of thousands of draws per second).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_positive
from trainguard.privacy.params import check_delta, check_epsilon, check_sensitivity
from trainguard.privacy.randomness import ByteSource, RandomState, as_source, randbelow


class _Buffered:
    """Hands out bytes from large reads of ``source`` (the samplers ask for a few at a time)."""

    def __init__(self, source: ByteSource, chunk: int = 1 << 16) -> None:
        self._source = source
        self._chunk = chunk
        self._buf = b""
        self._pos = 0

    def bytes(self, length: int) -> bytes:
        if self._pos + length > len(self._buf):
            self._buf = self._buf[self._pos :] + self._source.bytes(max(self._chunk, length))
            self._pos = 0
        out = self._buf[self._pos : self._pos + length]
        self._pos += length
        return out


def _bernoulli(src: ByteSource, num: int, den: int) -> bool:
    """Exact Bernoulli(num / den) for integers ``0 <= num <= den``."""
    return randbelow(src, den) < num


def _bernoulli_exp(src: ByteSource, num: int, den: int) -> bool:
    """Exact Bernoulli(exp(-num / den)) for integers ``num >= 0, den > 0`` (CKS 2020, Algorithm 1)."""
    if num <= den:
        k = 1
        while _bernoulli(src, num, den * k):
            k += 1
        return k % 2 == 1
    for _ in range(num // den):
        if not _bernoulli_exp(src, 1, 1):
            return False
    return _bernoulli_exp(src, num % den, den)


def _discrete_laplace_one(src: ByteSource, s: int, t: int) -> int:
    """One draw with P[x] proportional to exp(-|x| s / t) (CKS 2020, Algorithm 2)."""
    while True:
        u = randbelow(src, t)
        if not _bernoulli_exp(src, u, t):
            continue
        v = 0
        while _bernoulli_exp(src, 1, 1):
            v += 1
        y = (u + t * v) // s
        negative = randbelow(src, 2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def _discrete_gaussian_one(src: ByteSource, sn: int, sd: int) -> int:
    """One draw with P[x] proportional to exp(-x^2 / (2 sigma2)), sigma2 = sn / sd (CKS 2020, Algorithm 3)."""
    t = math.isqrt(sn // sd) + 1
    while True:
        y = _discrete_laplace_one(src, 1, t)
        if _bernoulli_exp(src, (abs(y) * t * sd - sn) ** 2, 2 * sn * t * t * sd):
            return y


def _exact(value: float, name: str, owner: str) -> Fraction:
    return Fraction(check_positive(value, name, owner))


def _shape(size: int | tuple[int, ...]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else tuple(size)


def _count(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def discrete_laplace(
    scale: float, size: int | tuple[int, ...] = (), *, rng: RandomState = None
) -> np.ndarray:
    """Exact samples of the discrete Laplace distribution, P[x] ∝ exp(-|x| / scale), x integer."""
    return _laplace_draws(_exact(scale, "scale", "discrete_laplace"), _shape(size), rng)


def _laplace_draws(scale: Fraction, shape: tuple[int, ...], rng: RandomState) -> np.ndarray:
    src = _Buffered(as_source(rng))
    s, t = scale.denominator, scale.numerator
    draws = [_discrete_laplace_one(src, s, t) for _ in range(_count(shape))]
    return np.array(draws, dtype=np.int64).reshape(shape)


def discrete_gaussian(
    sigma: float, size: int | tuple[int, ...] = (), *, rng: RandomState = None
) -> np.ndarray:
    """Exact samples of the discrete Gaussian N_Z(0, sigma^2), P[x] ∝ exp(-x^2 / (2 sigma^2))."""
    s2 = _exact(sigma, "sigma", "discrete_gaussian") ** 2
    src = _Buffered(as_source(rng))
    shape = _shape(size)
    draws = [
        _discrete_gaussian_one(src, s2.numerator, s2.denominator) for _ in range(_count(shape))
    ]
    return np.array(draws, dtype=np.int64).reshape(shape)


def _as_integers(values: object, owner: str) -> np.ndarray:
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.integer):
        if v.dtype.kind == "f" and np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            return v.astype(np.int64)
        raise ParameterError(
            f"The 'values' parameter of {owner} must hold integers. Got dtype {v.dtype} instead."
        )
    return v.astype(np.int64)


def _integer_sensitivity(value: object, owner: str) -> int:
    sens = check_sensitivity(value, owner)
    if sens != int(sens):
        raise ParameterError(
            f"The 'sensitivity' parameter of {owner} must be a positive integer. Got {value!r} instead."
        )
    return int(sens)


def discrete_laplace_mechanism(
    values: object, *, epsilon: float, sensitivity: int = 1, rng: RandomState = None
) -> np.ndarray:
    """Release integer ``values`` with discrete Laplace noise of scale ``sensitivity / epsilon``.

    epsilon-DP for an integer query of L1 sensitivity ``sensitivity`` (CKS 2020,
    Section 2; the geometric mechanism of Ghosh, Roughgarden, Sundararajan 2009).
    """
    eps = check_epsilon(epsilon, "discrete_laplace_mechanism")
    sens = _integer_sensitivity(sensitivity, "discrete_laplace_mechanism")
    v = _as_integers(values, "discrete_laplace_mechanism")
    return v + _laplace_draws(Fraction(sens) / Fraction(eps), v.shape, rng)


def _discrete_gaussian_pmf(sigma: float, radius: int) -> tuple[np.ndarray, np.ndarray]:
    support = np.arange(-radius, radius + 1)
    logp = -(support.astype(np.float64) ** 2) / (2.0 * sigma * sigma)
    p = np.exp(logp - logp.max())
    return support, p / p.sum()


def discrete_gaussian_delta(sigma: float, *, epsilon: float, sensitivity: int = 1) -> float:
    """The exact delta of the discrete Gaussian mechanism at ``epsilon`` (CKS 2020, Theorem 7).

    ``delta = P[Y > e*s^2/D - D/2] - exp(e) * P[Y > e*s^2/D + D/2]`` for ``Y ~ N_Z(0, s^2)``,
    computed from the probability mass function (truncated where it is below 1e-300).
    """
    s = check_positive(sigma, "sigma", "discrete_gaussian_delta")
    eps = check_epsilon(epsilon, "discrete_gaussian_delta")
    d = _integer_sensitivity(sensitivity, "discrete_gaussian_delta")
    centre = eps * s * s / d
    radius = math.ceil(max(40.0 * s, centre + d + 40.0 * s))
    support, pmf = _discrete_gaussian_pmf(s, radius)
    first = pmf[support > centre - d / 2.0].sum()
    second = pmf[support > centre + d / 2.0].sum()
    return float(max(first - math.exp(eps) * second, 0.0))


def discrete_gaussian_sigma(*, epsilon: float, delta: float, sensitivity: int = 1) -> float:
    """The smallest sigma (to 1e-9 relative) making the discrete Gaussian (epsilon, delta)-DP."""
    eps = check_epsilon(epsilon, "discrete_gaussian_sigma")
    dlt = check_delta(delta, "discrete_gaussian_sigma", allow_zero=False)
    sens = _integer_sensitivity(sensitivity, "discrete_gaussian_sigma")

    def ok(s: float) -> bool:
        return discrete_gaussian_delta(s, epsilon=eps, sensitivity=sens) <= dlt

    lo, hi = 0.01 * sens, float(sens)
    while not ok(hi):
        lo, hi = hi, 2.0 * hi
    while ok(lo) and lo > 1e-6:
        lo /= 2.0
    while hi - lo > 1e-9 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def discrete_gaussian_mechanism(
    values: object,
    *,
    epsilon: float,
    delta: float,
    sensitivity: int = 1,
    rng: RandomState = None,
) -> np.ndarray:
    """Release integer ``values`` with discrete Gaussian noise calibrated to (epsilon, delta).

    The guarantee is the one-dimensional one of CKS 2020, Theorem 7: one person changes a
    single entry (a count, one histogram bin) by at most ``sensitivity``. The noise
    scale comes from :func:`discrete_gaussian_sigma`.
    """
    sigma = discrete_gaussian_sigma(epsilon=epsilon, delta=delta, sensitivity=sensitivity)
    v = _as_integers(values, "discrete_gaussian_mechanism")
    return v + discrete_gaussian(sigma, v.shape, rng=rng)
