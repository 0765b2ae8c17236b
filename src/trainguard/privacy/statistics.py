"""DP statistics over one numeric column: count, sum, mean, variance, histogram, quantiles.

Neighbouring data sets differ by adding or removing one record. Values are clipped
to data-independent ``bounds`` (which bound the sensitivity); counts use the exact
discrete Laplace mechanism, real-valued sums the Laplace mechanism, quantiles the
exponential mechanism. Every function takes ``budget=`` (a :class:`PrivacyBudget`)
and spends on it *before* drawing noise, so an over-budget query raises
:class:`~trainguard.core.errors.PrivacyBudgetExceeded` and releases nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_int, check_real
from trainguard.privacy.budget import PrivacyBudget
from trainguard.privacy.discrete import discrete_laplace_mechanism
from trainguard.privacy.mechanisms import laplace_mechanism, sample_log_weights
from trainguard.privacy.params import as_values, check_bounds, check_epsilon
from trainguard.privacy.randomness import RandomState, as_source, uniform


def _column(values: object, owner: str) -> np.ndarray:
    x = as_values(values, owner)
    if x.ndim != 1:
        raise ParameterError(
            f"The 'values' parameter of {owner} must be one-dimensional. Got shape {x.shape} instead."
        )
    return x


def _spend(budget: PrivacyBudget | None, epsilon: float, label: str) -> None:
    if budget is not None:
        budget.spend(epsilon, label=label)


def _clipped_release(
    values: object,
    epsilon: float,
    bounds: Sequence[float],
    budget: PrivacyBudget | None,
    owner: str,
) -> tuple[np.ndarray, float, float, float]:
    """Validate, clip the column to ``bounds`` and spend ``epsilon``: ``(x, eps, lower, upper)``."""
    eps = check_epsilon(epsilon, owner)
    lower, upper = check_bounds(bounds, owner)
    x = np.clip(_column(values, owner), lower, upper)
    _spend(budget, eps, owner)
    return x, eps, lower, upper


def dp_count(
    values: object, *, epsilon: float, rng: RandomState = None, budget: PrivacyBudget | None = None
) -> int:
    """Number of records, released with discrete Laplace noise (sensitivity 1, epsilon-DP)."""
    eps = check_epsilon(epsilon, "dp_count")
    n = len(_column(values, "dp_count"))
    _spend(budget, eps, "dp_count")
    return int(discrete_laplace_mechanism(np.array(n), epsilon=eps, rng=rng))


def dp_sum(
    values: object,
    *,
    epsilon: float,
    bounds: Sequence[float],
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> float:
    """Sum of the values clipped to ``bounds``, with Laplace noise of sensitivity max(|lower|, |upper|)."""
    x, eps, lower, upper = _clipped_release(values, epsilon, bounds, budget, "dp_sum")
    sens = max(abs(lower), abs(upper))
    return float(laplace_mechanism(x.sum(), epsilon=eps, sensitivity=sens, rng=rng))


def _noisy_moments(
    x: np.ndarray, lower: float, upper: float, eps_each: float, powers: int, rng: RandomState
) -> tuple[int, list[float]]:
    """Noisy count and noisy sums of centred powers ``(x - mid)**k`` for k = 1..powers."""
    src = as_source(rng)
    mid, half = (lower + upper) / 2.0, (upper - lower) / 2.0
    count = max(int(discrete_laplace_mechanism(np.array(len(x)), epsilon=eps_each, rng=src)), 1)
    sums = [
        float(
            laplace_mechanism(
                ((x - mid) ** k).sum(), epsilon=eps_each, sensitivity=half**k, rng=src
            )
        )
        for k in range(1, powers + 1)
    ]
    return count, sums


def dp_mean(
    values: object,
    *,
    epsilon: float,
    bounds: Sequence[float],
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> float:
    """Mean of the values clipped to ``bounds``: noisy centred sum over noisy count (epsilon/2 each).

    Centring on the midpoint halves the sum's sensitivity to ``(upper - lower) / 2``;
    the result is clipped back into ``bounds`` (post-processing).
    """
    x, eps, lower, upper = _clipped_release(values, epsilon, bounds, budget, "dp_mean")
    count, (s1,) = _noisy_moments(x, lower, upper, eps / 2.0, 1, rng)
    return float(np.clip((lower + upper) / 2.0 + s1 / count, lower, upper))


def dp_variance(
    values: object,
    *,
    epsilon: float,
    bounds: Sequence[float],
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> float:
    """Population variance of the clipped values from a noisy count, sum and sum of squares.

    Each of the three uses epsilon/3; the result is clipped to ``[0, ((upper-lower)/2)**2]``.
    """
    x, eps, lower, upper = _clipped_release(values, epsilon, bounds, budget, "dp_variance")
    count, (s1, s2) = _noisy_moments(x, lower, upper, eps / 3.0, 2, rng)
    var = s2 / count - (s1 / count) ** 2
    return float(np.clip(var, 0.0, ((upper - lower) / 2.0) ** 2))


def dp_histogram(
    values: object,
    *,
    epsilon: float,
    bins: int | Sequence[float] = 10,
    bounds: Sequence[float] | None = None,
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin with discrete Laplace noise (one record moves one count by 1: epsilon-DP).

    ``bins`` is a number of equal bins over ``bounds`` or explicit edges; the edges
    must not depend on the data. Values outside the edges are clipped into the end
    bins. Returns ``(noisy_counts, edges)``; counts may be negative (clip them if needed).
    """
    eps = check_epsilon(epsilon, "dp_histogram")
    x = _column(values, "dp_histogram")
    if isinstance(bins, int):
        nbins = check_int(bins, "bins", "dp_histogram", low=1)
        if bounds is None:
            raise ParameterError(
                "The 'bounds' parameter of dp_histogram is required with a number of bins "
                "(edges taken from the data would leak it). Got None instead."
            )
        lower, upper = check_bounds(bounds, "dp_histogram")
        edges = np.linspace(lower, upper, nbins + 1)
    else:
        edges = as_values(bins, "dp_histogram", "bins")
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ParameterError(
                "The 'bins' parameter of dp_histogram must be an int or increasing edges. "
                f"Got {bins!r} instead."
            )
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)
    _spend(budget, eps, "dp_histogram")
    return discrete_laplace_mechanism(counts, epsilon=eps, rng=rng), edges


def dp_quantile(
    values: object,
    q: float,
    *,
    epsilon: float,
    bounds: Sequence[float],
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> float:
    """The ``q``-quantile by the exponential mechanism over the gaps between sorted values.

    Smith (2011), "Privacy-preserving statistical estimation with optimal convergence
    rates": gap ``i`` between the i-th and (i+1)-th clipped order statistics has utility
    ``-|i - q n|`` and weight ``length * exp(epsilon * utility / 2)``; a point is drawn
    uniformly inside the chosen gap.
    """
    return float(
        dp_quantiles(values, [q], epsilon=epsilon, bounds=bounds, rng=rng, budget=budget)[0]
    )


def dp_quantiles(
    values: object,
    qs: Sequence[float],
    *,
    epsilon: float,
    bounds: Sequence[float],
    rng: RandomState = None,
    budget: PrivacyBudget | None = None,
) -> np.ndarray:
    """Several quantiles (see :func:`dp_quantile`), each with ``epsilon / len(qs)``."""
    eps = check_epsilon(epsilon, "dp_quantiles")
    lower, upper = check_bounds(bounds, "dp_quantiles")
    levels = [check_real(q, "q", "dp_quantiles", low=0.0, high=1.0) for q in qs]
    if not levels:
        raise ParameterError(
            "The 'qs' parameter of dp_quantiles must not be empty. Got [] instead."
        )
    x = np.sort(np.clip(_column(values, "dp_quantiles"), lower, upper))
    _spend(budget, eps, "dp_quantiles")
    src = as_source(rng)
    edges = np.concatenate([[lower], x, [upper]])
    gaps = np.diff(edges)
    ranks = np.arange(len(gaps), dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_len = np.log(gaps)
    each = eps / len(levels)
    out = np.empty(len(levels))
    for j, q in enumerate(levels):
        utility = -np.abs(ranks - q * len(x))
        i = int(sample_log_weights(log_len + each * utility / 2.0, rng=src))
        out[j] = edges[i] + float(uniform(src)) * gaps[i]
    return out
