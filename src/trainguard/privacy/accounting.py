"""Privacy accounting for DP-SGD: epsilon spent, noise calibration, step budget.

DP-SGD with Poisson sampling rate ``q``, noise multiplier ``sigma`` and ``T`` steps
is the ``T``-fold composition of the sampled Gaussian mechanism. Two of Opacus's
accountants bound its epsilon at a given delta:

* ``"rdp"``: Renyi DP of the sampled Gaussian (Mironov, Talwar, Zhang 2019) converted
  with Balle et al. (2020), Theorem 21;
* ``"prv"``: numerical composition of privacy-loss random variables (Gopi, Lee,
  Wutschitz 2021), tighter, an upper bound within Opacus's ``eps_error=0.01``.

RDP values come from :mod:`trainguard.privacy.rdp`, a vectorised evaluation of the
same formulas that equals Opacus's ``RDPAccountant`` to 1e-9 and runs 10-30x
faster; PRV values run Opacus's own PRV pipeline with that faster RDP for the
domain bound, and equal its ``PRVAccountant``. What this module
adds is a tighter noise calibration to an exact step count and the largest number
of steps a budget allows, for stopping training cleanly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from trainguard.core.errors import ParameterError, require
from trainguard.core.validation import check_choice, check_int, check_positive, check_real
from trainguard.privacy.params import check_delta, check_epsilon
from trainguard.privacy.rdp import rdp_sampled_gaussian, rdp_to_epsilon

Accountant = Literal["rdp", "prv"]
ACCOUNTANTS: tuple[Accountant, ...] = ("rdp", "prv")
MAX_NOISE = 1e4


def _check(
    noise_multiplier: float, sample_rate: float, delta: float, accountant: str, owner: str
) -> None:
    check_positive(noise_multiplier, "noise_multiplier", owner)
    check_real(sample_rate, "sample_rate", owner, low=0.0, high=1.0, low_open=True)
    check_delta(delta, owner, allow_zero=False)
    check_choice(accountant, "accountant", owner, ACCOUNTANTS)


def _rdp_epsilons(
    noise_multiplier: float, sample_rate: float, steps: np.ndarray, delta: float
) -> np.ndarray:
    """RDP epsilon for each step count (what ``RDPAccountant.get_epsilon`` returns, to 1e-9)."""
    per_step = rdp_sampled_gaussian(sample_rate, noise_multiplier)
    return np.array([rdp_to_epsilon(per_step * int(k), delta) if k > 0 else 0.0 for k in steps])


def _prv_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """``PRVAccountant.get_epsilon(delta)`` for one (sigma, q, steps) history, at Opacus's defaults.

    The pipeline is Opacus's (its PRV, truncation, discretisation, FFT composition and
    epsilon bound); only the safe domain size of Gopi et al. (Remark 5.6), which
    Opacus gets from its slow RDP accountant, uses the vectorised RDP here.
    """
    if steps == 0:
        return 0.0
    require("opacus", "privacy")
    from opacus.accountants.analysis.prv import (
        Domain,
        PoissonSubsampledGaussianPRV,
        TruncatedPrivacyRandomVariable,
        compose_heterogeneous,
        discretize,
    )

    eps_error, delta_error = 0.01, delta / 1000
    try:
        size = max(
            epsilon_spent(
                noise_multiplier=noise_multiplier,
                sample_rate=sample_rate,
                steps=steps,
                delta=delta_error / 4,
            ),
            epsilon_spent(
                noise_multiplier=noise_multiplier,
                sample_rate=sample_rate,
                steps=1,
                delta=delta_error / (8 * steps),
            ),
        )
        domain_size = max(size, eps_error) + 3
        mesh = eps_error / np.sqrt(steps * np.log(12 / delta_error) / 2)
        domain = Domain.create_aligned(-domain_size, domain_size, mesh)
        prv = PoissonSubsampledGaussianPRV(sample_rate, noise_multiplier)
        tprv = TruncatedPrivacyRandomVariable(prv, domain.t_min, domain.t_max)
        dprv = compose_heterogeneous(
            dprvs=[discretize(tprv, domain)], num_self_compositions=[steps]
        )
        return float(dprv.compute_epsilon(delta, delta_error, eps_error)[2])
    except (ValueError, RuntimeError, OverflowError, FloatingPointError, MemoryError) as exc:
        raise ParameterError(
            f"the PRV accountant cannot bound noise_multiplier={noise_multiplier:g}, "
            f"sample_rate={sample_rate:g}, steps={steps} ({exc}); use accountant='rdp'"
        ) from None


def epsilon_spent(
    *,
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    accountant: Accountant = "rdp",
) -> float:
    """Epsilon of ``steps`` DP-SGD steps at ``delta`` by the ``accountant``.

    Equal to ``opacus.accountants.create_accountant(accountant)`` with history
    ``[(noise_multiplier, sample_rate, steps)]`` and ``get_epsilon(delta)`` (to 1e-9
    for ``"rdp"``, exactly for ``"prv"``).
    """
    _check(noise_multiplier, sample_rate, delta, accountant, "epsilon_spent")
    k = check_int(steps, "steps", "epsilon_spent", low=0)
    if accountant == "rdp":
        return float(_rdp_epsilons(noise_multiplier, sample_rate, np.array([k]), delta)[0])
    return _prv_epsilon(noise_multiplier, sample_rate, k, delta)


def calibrate_noise(
    *,
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    accountant: Accountant = "prv",
    rtol: float = 1e-3,
) -> float:
    """The smallest noise multiplier whose epsilon after ``steps`` steps is at most ``target_epsilon``.

    Bisection on sigma until the epsilon reached lies within ``rtol`` (relative) below
    the target. Opacus's ``get_noise_multiplier`` stops within an absolute 0.01 and
    counts ``int(epochs / sample_rate)`` steps; here the exact step count is used.
    """
    eps = check_epsilon(target_epsilon, "calibrate_noise", "target_epsilon")
    check_real(sample_rate, "sample_rate", "calibrate_noise", low=0.0, high=1.0, low_open=True)
    check_delta(delta, "calibrate_noise", allow_zero=False)
    check_choice(accountant, "accountant", "calibrate_noise", ACCOUNTANTS)
    k = check_int(steps, "steps", "calibrate_noise", low=1)
    check_real(rtol, "rtol", "calibrate_noise", low=0.0, high=0.5, low_open=True)

    def eps_at(sigma: float, mechanism: Accountant) -> float:
        return epsilon_spent(
            noise_multiplier=sigma,
            sample_rate=sample_rate,
            steps=k,
            delta=delta,
            accountant=mechanism,
        )

    hi = 1.0
    while eps_at(hi, "rdp") > eps:
        hi *= 2.0
        if hi > MAX_NOISE:
            raise ParameterError(
                f"target_epsilon={eps:g} at delta={delta:g} needs a noise multiplier above "
                f"{MAX_NOISE:g} for {k} steps at sample rate {sample_rate:g}; raise the budget or train fewer steps"
            )
    # RDP bounds epsilon from above, so its sigma brackets the PRV one from above too.
    sigma = _bisect(lambda s: eps_at(s, "rdp"), eps, hi, rtol)
    if accountant == "prv":
        sigma = _bisect(lambda s: eps_at(s, "prv"), eps, sigma, max(rtol, 1e-2))
    return sigma


def _bisect(eps_at: Callable[[float], float], target: float, hi: float, rtol: float) -> float:
    """Smallest sigma <= ``hi`` (to ``rtol`` in epsilon) with ``eps_at(sigma) <= target``."""
    lo = hi / 2.0
    while lo > 1e-3 and eps_at(lo) <= target:
        hi, lo = lo, lo / 2.0
    eps_hi = eps_at(hi)
    while eps_hi < target * (1.0 - rtol) and (hi - lo) > 1e-6 * hi:
        mid = 0.5 * (lo + hi)
        eps_mid = eps_at(mid)
        if eps_mid <= target:
            hi, eps_hi = mid, eps_mid
        else:
            lo = mid
    return hi


def max_steps(
    *,
    noise_multiplier: float,
    sample_rate: float,
    delta: float,
    target_epsilon: float,
    limit: int,
    accountant: Accountant = "rdp",
) -> int:
    """The largest step count in ``[0, limit]`` whose epsilon stays at or below ``target_epsilon``.

    Epsilon grows with the number of steps, so a binary search finds where training
    must stop to keep the promise.
    """
    _check(noise_multiplier, sample_rate, delta, accountant, "max_steps")
    eps = check_epsilon(target_epsilon, "max_steps", "target_epsilon")
    top = check_int(limit, "limit", "max_steps", low=0)

    def within(k: int) -> bool:
        return (
            epsilon_spent(
                noise_multiplier=noise_multiplier,
                sample_rate=sample_rate,
                steps=k,
                delta=delta,
                accountant=accountant,
            )
            <= eps
        )

    if within(top):
        return top
    lo, hi = 0, top  # within(lo) holds, within(hi) does not
    if accountant == "prv":  # RDP's epsilon is larger, so its step budget is a lower bound
        lo = max_steps(
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
            delta=delta,
            target_epsilon=eps,
            limit=top,
            accountant="rdp",
        )
        step = 1
        while lo + step < hi and within(lo + step):
            lo, step = lo + step, 2 * step
        hi = min(hi, lo + step)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if within(mid) else (lo, mid)
    return lo


def epsilon_curve(
    *,
    noise_multiplier: float,
    sample_rate: float,
    steps: list[int],
    delta: float,
    accountant: Accountant = "rdp",
) -> list[float]:
    """Epsilon after each step count in ``steps`` (for per-epoch curves)."""
    _check(noise_multiplier, sample_rate, delta, accountant, "epsilon_curve")
    if accountant == "rdp":
        return [
            float(e) for e in _rdp_epsilons(noise_multiplier, sample_rate, np.array(steps), delta)
        ]
    return [_prv_epsilon(noise_multiplier, sample_rate, int(k), delta) for k in steps]


def default_delta(n: int) -> float:
    """The delta used when none is given: the largest power of ten strictly below ``1 / n``.

    A delta below ``1/n`` keeps "publish one whole record" outside the guarantee
    (Dwork and Roth 2014, Section 2.3).
    """
    check_int(n, "n", "default_delta", low=1)
    return float(10.0 ** math.floor(math.log10(1.0 / n) - 1e-9))
