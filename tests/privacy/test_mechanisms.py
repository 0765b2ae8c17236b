"""Mechanisms: samples follow their distributions, privacy-loss ratios stay within e^eps, peers agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trainguard.core.errors import ParameterError
from trainguard.privacy import (
    SecureRandom,
    discrete_gaussian,
    discrete_gaussian_delta,
    discrete_gaussian_mechanism,
    discrete_gaussian_sigma,
    discrete_laplace,
    discrete_laplace_mechanism,
    exponential_mechanism,
    gaussian_delta,
    gaussian_mechanism,
    gaussian_sigma,
    laplace_mechanism,
    randomized_response,
    randomized_response_frequencies,
)

N = 100_000


def _max_log_ratio(a: np.ndarray, b: np.ndarray, edges: np.ndarray, min_count: int = 400) -> float:
    """Largest |log(P_a(bin) / P_b(bin))| minus 3 standard errors, over well-populated bins."""
    ca, _ = np.histogram(a, bins=edges)
    cb, _ = np.histogram(b, bins=edges)
    ok = (ca >= min_count) & (cb >= min_count)
    ratio = np.abs(np.log(ca[ok] / len(a)) - np.log(cb[ok] / len(b)))
    stderr = np.sqrt(1.0 / ca[ok] + 1.0 / cb[ok])
    return float(np.max(ratio - 3 * stderr))


def _jittered_ks_pvalue(x: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> float:
    """KS test of integer samples: X + U (U uniform on [0, 1)) has a continuous, piecewise-linear CDF."""
    cdf_before = np.concatenate([[0.0], np.cumsum(pmf)[:-1]])

    def cdf(t: np.ndarray) -> np.ndarray:
        k = np.floor(t)
        i = np.clip((k - support[0]).astype(int), 0, len(support) - 1)
        inside = (k >= support[0]) & (k <= support[-1])
        return np.where(inside, cdf_before[i] + (t - k) * pmf[i], (k > support[-1]).astype(float))

    u = np.random.default_rng(99).random(len(x))
    return float(stats.kstest(x + u, cdf).pvalue)


def _int_edges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arange(min(a.min(), b.min()), max(a.max(), b.max()) + 2) - 0.5


# --- the seed's example reads naturally ---------------------------------------------------


def test_laplace_on_an_array_with_epsilon_half_is_reproducible_with_a_seed() -> None:
    counts = np.array([10.0, 20.0, 30.0])
    a = laplace_mechanism(counts, epsilon=0.5, rng=0)
    b = laplace_mechanism(counts, epsilon=0.5, rng=0)
    assert a.shape == counts.shape and np.array_equal(a, b)
    assert not np.array_equal(laplace_mechanism(counts, epsilon=0.5), a)  # secure source by default


# --- distributions (Kolmogorov-Smirnov) ---------------------------------------------------


@pytest.mark.parametrize("rng", [1, SecureRandom()], ids=["seeded", "secure"])
def test_laplace_samples_pass_ks(rng: object) -> None:
    x = laplace_mechanism(np.zeros(N), epsilon=0.5, sensitivity=2.0, rng=rng)  # type: ignore[arg-type]
    assert stats.kstest(x, stats.laplace(scale=4.0).cdf).pvalue > 0.01


@pytest.mark.parametrize("analytic", [True, False])
def test_gaussian_samples_pass_ks(analytic: bool) -> None:
    sigma = gaussian_sigma(epsilon=0.8, delta=1e-5, sensitivity=1.5, analytic=analytic)
    x = gaussian_mechanism(
        np.zeros(N), epsilon=0.8, delta=1e-5, sensitivity=1.5, analytic=analytic, rng=2
    )
    assert stats.kstest(x, stats.norm(scale=sigma).cdf).pvalue > 0.01


def test_discrete_laplace_samples_pass_ks_and_chi2() -> None:
    scale = 2.5
    x = discrete_laplace(scale, 40_000, rng=3)
    ref = stats.dlaplace(1.0 / scale)
    wide = np.arange(-200, 201)
    assert _jittered_ks_pvalue(x, wide, ref.pmf(wide)) > 0.01
    support = np.arange(-12, 13)
    observed = np.array([(x == k).sum() for k in support] + [(np.abs(x) > 12).sum()])
    expected = np.concatenate([ref.pmf(support), [1 - ref.pmf(support).sum()]]) * len(x)
    assert stats.chisquare(observed, expected).pvalue > 0.01


def test_discrete_gaussian_samples_pass_ks_and_chi2() -> None:
    sigma = 3.0
    x = discrete_gaussian(sigma, 40_000, rng=4)
    support = np.arange(-40, 41)
    pmf = np.exp(-(support**2) / (2 * sigma**2))
    pmf /= pmf.sum()
    assert _jittered_ks_pvalue(x, support, pmf) > 0.01
    inner = np.arange(-9, 10)
    observed = np.array([(x == k).sum() for k in inner] + [(np.abs(x) > 9).sum()])
    p_inner = pmf[np.isin(support, inner)]
    expected = np.concatenate([p_inner, [1 - p_inner.sum()]]) * len(x)
    assert stats.chisquare(observed, expected).pvalue > 0.01
    assert abs(x.var() - sigma**2) < 0.3  # CKS 2020: variance just below sigma^2


def test_exponential_mechanism_matches_its_probabilities() -> None:
    scores = np.array([0.0, 1.0, 2.0, 4.0])
    picks = exponential_mechanism(np.tile(scores, (N, 1)), epsilon=1.0, rng=5)
    p = np.exp(scores / 2)
    p /= p.sum()
    assert stats.chisquare(np.bincount(picks, minlength=4), p * N).pvalue > 0.01


def test_randomized_response_estimates_true_frequencies() -> None:
    truth = np.random.default_rng(0).choice(3, size=N, p=[0.6, 0.3, 0.1])
    reports = randomized_response(truth, epsilon=1.0, n_categories=3, rng=6)
    est = randomized_response_frequencies(reports, epsilon=1.0, n_categories=3)
    assert np.allclose(est, [0.6, 0.3, 0.1], atol=0.015)


# --- privacy-loss ratio checks -------------------------------------------------------------


def test_laplace_privacy_loss_is_at_most_epsilon() -> None:
    eps = 1.0
    a = laplace_mechanism(np.zeros(N), epsilon=eps, rng=7)
    b = laplace_mechanism(np.ones(N), epsilon=eps, rng=8)
    loss = _max_log_ratio(a, b, np.linspace(-6, 7, 53))
    assert loss <= eps
    assert loss > 0.5 * eps  # the bound is nearly tight in the tails


def test_discrete_laplace_privacy_loss_is_at_most_epsilon() -> None:
    eps = 1.0
    a = discrete_laplace_mechanism(np.zeros(40_000, dtype=int), epsilon=eps, rng=9)
    b = discrete_laplace_mechanism(np.ones(40_000, dtype=int), epsilon=eps, rng=10)
    assert 0.5 * eps < _max_log_ratio(a, b, _int_edges(a, b)) <= eps


def test_gaussian_privacy_loss_is_at_most_epsilon_where_the_bound_holds() -> None:
    eps, delta = 1.0, 1e-5
    sigma = gaussian_sigma(epsilon=eps, delta=delta)
    a = gaussian_mechanism(np.zeros(N), epsilon=eps, delta=delta, rng=11)
    b = gaussian_mechanism(np.ones(N), epsilon=eps, delta=delta, rng=12)
    # the privacy loss of N(0,s^2) vs N(1,s^2) at x is (1 - 2x) / (2 s^2); it exceeds eps
    # only where |x - 1/2| > eps s^2, the region whose mass is delta's business
    edge = eps * sigma**2 - 0.5
    assert _max_log_ratio(a, b, np.linspace(-edge, edge + 1, 41)) <= eps


def test_discrete_gaussian_privacy_loss_is_at_most_epsilon_where_the_bound_holds() -> None:
    eps, delta = 2.0, 1e-3
    sigma = discrete_gaussian_sigma(epsilon=eps, delta=delta)
    a = discrete_gaussian_mechanism(np.zeros(40_000, dtype=int), epsilon=eps, delta=delta, rng=13)
    b = discrete_gaussian_mechanism(np.ones(40_000, dtype=int), epsilon=eps, delta=delta, rng=14)
    edge = math.floor(eps * sigma**2 - 0.5)
    assert _max_log_ratio(a, b, np.arange(-edge, edge + 2) - 0.5, min_count=200) <= eps


def test_exponential_mechanism_privacy_loss_is_at_most_epsilon() -> None:
    eps = 1.0
    u = np.array([0.0, 1.0, 2.0, 3.0])
    u_neighbour = u + np.array([1.0, -1.0, 1.0, -1.0])  # every score moves by the sensitivity
    a = exponential_mechanism(np.tile(u, (N, 1)), epsilon=eps, rng=15)
    b = exponential_mechanism(np.tile(u_neighbour, (N, 1)), epsilon=eps, rng=16)
    assert _max_log_ratio(a, b, np.arange(5) - 0.5) <= eps


def test_randomized_response_privacy_loss_is_epsilon() -> None:
    eps = 1.0
    a = randomized_response(np.zeros(N, dtype=int), epsilon=eps, rng=17)
    b = randomized_response(np.ones(N, dtype=int), epsilon=eps, rng=18)
    loss = _max_log_ratio(a, b, np.array([-0.5, 0.5, 1.5]))
    assert 0.9 * eps < loss <= eps


# --- calibration against the peer (Google's dp_accounting) --------------------------------


@pytest.mark.parametrize(
    ("eps", "delta", "sens"), [(0.5, 1e-5, 1.0), (1.0, 1e-6, 2.0), (4.0, 1e-3, 0.5)]
)
def test_analytic_gaussian_is_the_smallest_sigma_by_the_exact_delta(
    eps: float, delta: float, sens: float
) -> None:
    plm = pytest.importorskip("dp_accounting.pld.privacy_loss_mechanism")
    sigma = gaussian_sigma(epsilon=eps, delta=delta, sensitivity=sens)
    peer = plm.GaussianPrivacyLoss(sigma, sensitivity=sens).get_delta_for_epsilon(eps)
    assert gaussian_delta(sigma, epsilon=eps, sensitivity=sens) == pytest.approx(peer, rel=1e-9)
    assert peer == pytest.approx(delta, rel=1e-9)
    assert gaussian_delta(sigma * (1 - 1e-6), epsilon=eps, sensitivity=sens) > delta
    if eps < 1:
        assert gaussian_sigma(epsilon=eps, delta=delta, sensitivity=sens, analytic=False) > sigma


@pytest.mark.parametrize(("sigma", "eps"), [(0.8, 0.5), (2.0, 1.0), (3.74, 1.0), (10.0, 0.5)])
def test_discrete_gaussian_delta_equals_dp_accounting(sigma: float, eps: float) -> None:
    plm = pytest.importorskip("dp_accounting.pld.privacy_loss_mechanism")
    peer = plm.DiscreteGaussianPrivacyLoss(sigma, sensitivity=1).get_delta_for_epsilon(eps)
    assert discrete_gaussian_delta(sigma, epsilon=eps) == pytest.approx(peer, rel=1e-9, abs=1e-15)


def test_discrete_gaussian_sigma_is_minimal() -> None:
    sigma = discrete_gaussian_sigma(epsilon=1.0, delta=1e-5)
    assert (
        discrete_gaussian_delta(sigma, epsilon=1.0)
        <= 1e-5
        < discrete_gaussian_delta(sigma * 0.999, epsilon=1.0)
    )


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: laplace_mechanism([1.0], epsilon=0.0), "epsilon"),
        (lambda: laplace_mechanism([1.0], epsilon=float("nan")), "epsilon"),
        (lambda: laplace_mechanism([1.0], epsilon=1.0, sensitivity=-1.0), "sensitivity"),
        (lambda: laplace_mechanism([float("inf")], epsilon=1.0), "values"),
        (lambda: gaussian_mechanism([1.0], epsilon=1.0, delta=1.0), "delta"),
        (lambda: gaussian_mechanism([1.0], epsilon=1.0, delta=0.0), "delta"),
        (lambda: gaussian_sigma(epsilon=2.0, delta=1e-5, analytic=False), "epsilon"),
        (lambda: discrete_laplace_mechanism([1.5], epsilon=1.0), "values"),
        (lambda: discrete_laplace_mechanism([1], epsilon=1.0, sensitivity=1.5), "sensitivity"),
        (lambda: randomized_response([0, 3], epsilon=1.0, n_categories=3), "values"),
        (lambda: exponential_mechanism([], epsilon=1.0), "scores"),
        (lambda: laplace_mechanism([1.0], epsilon=1.0, rng="seed"), "rng"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_get_one_clear_error(call: object, field: str) -> None:
    with pytest.raises(ParameterError, match=f"'{field}' parameter"):
        call()  # type: ignore[operator]
