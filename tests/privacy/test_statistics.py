"""DP statistics and the budget ledger: accurate with enough data, and nothing released over budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainguard.core.errors import ParameterError, PrivacyBudgetExceeded
from trainguard.privacy import (
    PrivacyBudget,
    dp_count,
    dp_histogram,
    dp_mean,
    dp_quantiles,
    dp_sum,
    dp_variance,
)

AGES = np.random.default_rng(0).normal(40.0, 12.0, 20_000)


def test_statistics_are_close_to_the_truth_on_large_data() -> None:
    bounds = (0.0, 100.0)
    assert abs(dp_count(AGES, epsilon=1.0, rng=1) - len(AGES)) < 20
    assert dp_sum(AGES, epsilon=1.0, bounds=bounds, rng=2) == pytest.approx(
        np.clip(AGES, 0, 100).sum(), abs=1500
    )
    assert dp_mean(AGES, epsilon=1.0, bounds=bounds, rng=3) == pytest.approx(AGES.mean(), abs=0.1)
    assert dp_variance(AGES, epsilon=1.0, bounds=bounds, rng=4) == pytest.approx(
        AGES.var(), rel=0.03
    )
    q = dp_quantiles(AGES, [0.1, 0.5, 0.9], epsilon=1.0, bounds=bounds, rng=5)
    assert np.allclose(q, np.quantile(AGES, [0.1, 0.5, 0.9]), atol=0.5)


def test_histogram_noise_has_the_discrete_laplace_variance() -> None:
    eps = 0.5
    values = np.repeat(np.arange(10) + 0.5, 100)
    noisy = np.stack(
        [dp_histogram(values, epsilon=eps, bins=10, bounds=(0, 10), rng=s)[0] for s in range(400)]
    )
    noise = noisy - 100
    expected = 2 * math.exp(-eps) / (1 - math.exp(-eps)) ** 2
    assert noise.var() == pytest.approx(expected, rel=0.1)
    assert abs(noise.mean()) < 0.3


def test_mean_is_clipped_to_the_bounds_and_uses_them_for_sensitivity() -> None:
    outliers = np.array([1e9, -1e9, 5.0])
    assert 0.0 <= dp_mean(outliers, epsilon=1.0, bounds=(0, 10), rng=0) <= 10.0


def test_budget_composes_and_refuses_before_releasing() -> None:
    budget = PrivacyBudget(epsilon=1.0)
    for _ in range(10):
        dp_count(AGES, epsilon=0.1, rng=0, budget=budget)  # ten spends of 0.1 fit exactly
    assert budget.spent_epsilon == pytest.approx(1.0)
    gen = np.random.default_rng(7)
    before = gen.bit_generator.state
    with pytest.raises(PrivacyBudgetExceeded, match="dp_mean: spending"):
        dp_mean(AGES, epsilon=0.1, bounds=(0, 100), rng=gen, budget=budget)
    assert gen.bit_generator.state == before  # no noise was drawn: nothing released
    assert len(budget.entries) == 10


def test_budget_tracks_delta_and_reports_a_finding() -> None:
    budget = PrivacyBudget(epsilon=2.0, delta=1e-5)
    budget.spend(0.5, 5e-6, label="gaussian sum")
    with pytest.raises(PrivacyBudgetExceeded):
        budget.spend(0.5, 6e-6)
    (finding,) = budget.to_findings("stats")
    assert (
        finding.passed
        and finding.metrics["epsilon_spent"] == 0.5
        and finding.table[0]["release"] == "gaussian sum"
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: dp_mean(AGES, epsilon=1.0, bounds=(10, 0)), "bounds"),
        (lambda: dp_mean(AGES, epsilon=1.0, bounds=(0, math.inf)), "bounds"),
        (lambda: dp_histogram(AGES, epsilon=1.0, bins=5), "bounds"),
        (lambda: dp_histogram(AGES, epsilon=1.0, bins=[0, 5, 3]), "bins"),
        (lambda: dp_quantiles(AGES, [1.5], epsilon=1.0, bounds=(0, 100)), "q"),
        (lambda: dp_count(AGES.reshape(2, -1), epsilon=1.0), "values"),
        (lambda: PrivacyBudget(epsilon=-1.0), "epsilon"),
        (lambda: PrivacyBudget(epsilon=1.0, delta=1.0), "delta"),
    ],
)
def test_bad_parameters_are_rejected(call: object, field: str) -> None:
    with pytest.raises(ParameterError, match=f"'{field}' parameter"):
        call()  # type: ignore[operator]
