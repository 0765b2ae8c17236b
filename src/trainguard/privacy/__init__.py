"""Differential privacy: mechanisms, DP statistics, DP-SGD training on Opacus, privacy audits.

* :mod:`~trainguard.privacy.mechanisms` and :mod:`~trainguard.privacy.discrete`:
  Laplace, Gaussian (classic and analytic), exponential, randomized response, and
  exact discrete Laplace / Gaussian for integer queries.
* :mod:`~trainguard.privacy.statistics` with :class:`PrivacyBudget`: count, sum,
  mean, variance, histogram and quantiles under a ledger that refuses overspending.
* :mod:`~trainguard.privacy.accounting`, :mod:`~trainguard.privacy.dpsgd`: epsilon by
  the RDP and PRV accountants, noise calibration, DP-SGD with Opacus.
* :mod:`trainguard.privacy.audit`: membership inference (loss threshold, LiRA),
  canary exposure, and an empirical epsilon lower bound.

Opacus is imported only by the functions that need it (``pip install 'trainguard[privacy]'``).
"""

from trainguard.privacy.accounting import calibrate_noise, default_delta, epsilon_spent, max_steps
from trainguard.privacy.budget import PrivacyBudget, Spend
from trainguard.privacy.discrete import (
    discrete_gaussian,
    discrete_gaussian_delta,
    discrete_gaussian_mechanism,
    discrete_gaussian_sigma,
    discrete_laplace,
    discrete_laplace_mechanism,
)
from trainguard.privacy.dpsgd import EpochPrivacy, PrivateTraining, train_private
from trainguard.privacy.engine import (
    GRAD_SAMPLE_MODES,
    check_dp_compatible,
    clipped_per_sample_gradients,
    make_dp_compatible,
    select_grad_sample_mode,
)
from trainguard.privacy.mechanisms import (
    exponential_mechanism,
    gaussian_delta,
    gaussian_mechanism,
    gaussian_sigma,
    laplace_mechanism,
    randomized_response,
    randomized_response_frequencies,
)
from trainguard.privacy.randomness import SecureRandom
from trainguard.privacy.rdp import rdp_sampled_gaussian
from trainguard.privacy.stage import train_private_stage
from trainguard.privacy.statistics import (
    dp_count,
    dp_histogram,
    dp_mean,
    dp_quantile,
    dp_quantiles,
    dp_sum,
    dp_variance,
)

__all__ = [
    "GRAD_SAMPLE_MODES",
    "EpochPrivacy",
    "PrivacyBudget",
    "PrivateTraining",
    "SecureRandom",
    "Spend",
    "calibrate_noise",
    "check_dp_compatible",
    "clipped_per_sample_gradients",
    "default_delta",
    "discrete_gaussian",
    "discrete_gaussian_delta",
    "discrete_gaussian_mechanism",
    "discrete_gaussian_sigma",
    "discrete_laplace",
    "discrete_laplace_mechanism",
    "dp_count",
    "dp_histogram",
    "dp_mean",
    "dp_quantile",
    "dp_quantiles",
    "dp_sum",
    "dp_variance",
    "epsilon_spent",
    "exponential_mechanism",
    "gaussian_delta",
    "gaussian_mechanism",
    "gaussian_sigma",
    "laplace_mechanism",
    "make_dp_compatible",
    "max_steps",
    "randomized_response",
    "randomized_response_frequencies",
    "rdp_sampled_gaussian",
    "select_grad_sample_mode",
    "train_private",
    "train_private_stage",
]
