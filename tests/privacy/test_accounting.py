"""Accountants: values equal Opacus's for the same (noise, sample rate, steps, delta)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("opacus")

from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.accountants.analysis.rdp import compute_rdp
from opacus.accountants.utils import get_noise_multiplier

from trainguard.core.errors import ParameterError
from trainguard.privacy import calibrate_noise, epsilon_spent, max_steps, rdp_sampled_gaussian
from trainguard.privacy.rdp import DEFAULT_ORDERS

pytestmark = pytest.mark.filterwarnings("ignore:Optimal order:UserWarning")  # Opacus's peer runs

GRID = [
    (1.1, 256 / 60_000, 14_062, 1e-5),
    (0.8, 0.01, 1_000, 1e-5),
    (2.0, 0.05, 200, 1e-6),
    (0.6, 0.3, 10, 1e-3),
    (5.0, 1e-4, 100_000, 1e-5),
]


@pytest.mark.parametrize(("noise", "q", "steps", "delta"), GRID)
def test_rdp_epsilon_equals_opacus(noise: float, q: float, steps: int, delta: float) -> None:
    acc = RDPAccountant()
    acc.history = [(noise, q, steps)]
    ours = epsilon_spent(
        noise_multiplier=noise, sample_rate=q, steps=steps, delta=delta, accountant="rdp"
    )
    assert ours == pytest.approx(acc.get_epsilon(delta), rel=1e-9)


@pytest.mark.parametrize(("noise", "q"), [(0.5, 0.004), (1.0, 0.05), (3.0, 0.3), (8.0, 1e-4)])
def test_vectorised_rdp_equals_opacus_per_order(noise: float, q: float) -> None:
    theirs = np.asarray(
        compute_rdp(q=q, noise_multiplier=noise, steps=1, orders=list(DEFAULT_ORDERS))
    )
    assert np.allclose(rdp_sampled_gaussian(q, noise), theirs, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("noise", "q", "steps", "delta"), GRID[:3])
def test_prv_epsilon_equals_opacus(noise: float, q: float, steps: int, delta: float) -> None:
    acc = PRVAccountant()
    acc.history = [(noise, q, steps)]
    ours = epsilon_spent(
        noise_multiplier=noise, sample_rate=q, steps=steps, delta=delta, accountant="prv"
    )
    assert ours == pytest.approx(acc.get_epsilon(delta), rel=1e-9)


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_calibrated_noise_meets_the_target_tightly(accountant: str) -> None:
    q, steps, delta, target = 0.02, 500, 1e-5, 3.0
    sigma = calibrate_noise(
        target_epsilon=target, delta=delta, sample_rate=q, steps=steps, accountant=accountant
    )  # type: ignore[arg-type]
    eps = epsilon_spent(
        noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta, accountant=accountant
    )  # type: ignore[arg-type]
    assert target * (1 - 1e-2) <= eps <= target
    opacus_sigma = get_noise_multiplier(
        target_epsilon=target, target_delta=delta, sample_rate=q, steps=steps, accountant=accountant
    )
    assert sigma <= opacus_sigma * (1 + 1e-3)  # at least as tight as Opacus's own search


def test_max_steps_is_the_last_step_within_budget() -> None:
    kwargs = {"noise_multiplier": 1.0, "sample_rate": 0.05, "delta": 1e-5}
    k = max_steps(target_epsilon=3.0, limit=10_000, **kwargs)  # type: ignore[arg-type]
    assert epsilon_spent(steps=k, **kwargs) <= 3.0 < epsilon_spent(steps=k + 1, **kwargs)  # type: ignore[arg-type]


def test_the_budget_too_small_for_any_noise_is_a_clear_error() -> None:
    with pytest.raises(ParameterError, match="noise multiplier above"):
        calibrate_noise(
            target_epsilon=1e-4, delta=1e-9, sample_rate=1.0, steps=10_000, accountant="rdp"
        )
