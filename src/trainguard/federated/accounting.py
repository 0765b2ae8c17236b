"""Client-level (epsilon, delta) of a federated run's DP mode, round by round.

Every DP mode here is a Gaussian mechanism on each client's clipped update, run
once per round: the central modes (``server-*``, ``client-*``) add
``N(0, (z C / m)^2)`` to the average of ``m`` updates clipped to ``C`` (DP-FedAvg,
McMahan et al. 2018), so one client's presence is hidden with noise multiplier
``z``; adaptive clipping splits ``z`` between the update and the clipped count so
that the pair is as private as one Gaussian with multiplier ``z`` (Andrew et al.
2021, Sec. 3). ``local`` adds ``N(0, (C sqrt(2 ln(1.25/delta)) / eps_round)^2)``
on each client (Flower's ``LocalDpMod``), noise multiplier ``sqrt(2 ln(1.25/delta)) / eps_round``.

Rounds compose by Renyi DP (Mironov 2017) through
:func:`trainguard.privacy.epsilon_spent`, without amplification by sampling
(sampling rate 1), the setting Flower's own accountant requires; its value equals
Flower's ``RdpAccountant`` (Google's dp-accounting) to 1e-9.
"""

from __future__ import annotations

import math

from trainguard.federated.config import FederatedConfig
from trainguard.privacy.accounting import default_delta, epsilon_spent


def dp_delta(cfg: FederatedConfig) -> float:
    """``dp.delta``, or the power of ten below ``1 / num_clients`` (clients are the protected units)."""
    return cfg.dp.delta if cfg.dp.delta is not None else default_delta(cfg.partition.num_clients)


def dp_noise_multiplier(cfg: FederatedConfig) -> float | None:
    """The Gaussian noise multiplier that protects one client per round, or None without DP."""
    if cfg.dp.mode == "none":
        return None
    if cfg.dp.mode == "local":
        return math.sqrt(2.0 * math.log(1.25 / dp_delta(cfg))) / cfg.dp.local_epsilon
    return cfg.dp.noise_multiplier


def epsilon_after(cfg: FederatedConfig, rounds: int) -> float | None:
    """Client-level epsilon at :func:`dp_delta` after ``rounds`` rounds (None without DP)."""
    z = dp_noise_multiplier(cfg)
    if z is None:
        return None
    return epsilon_spent(noise_multiplier=z, sample_rate=1.0, steps=rounds, delta=dp_delta(cfg))


def flower_epsilon(cfg: FederatedConfig, rounds: int) -> float | None:
    """The same releases through Flower's own ``RdpAccountant`` (Google's dp-accounting), for checking.

    Central modes compose ``rounds`` Gaussian events over all clients without
    amplification, as Flower's fixed-clipping wrappers account them.
    """
    z = dp_noise_multiplier(cfg)
    if z is None:
        return None
    from flwr.supercore.privacy_accounting import (
        GaussianPrivacyEvent,
        NeighboringRelation,
        PrivacyConfig,
        SamplingMethod,
    )
    from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

    n, delta = cfg.partition.num_clients, dp_delta(cfg)
    acc = RdpAccountant(
        PrivacyConfig(
            target_delta=delta,
            population_size=n,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=SamplingMethod.NO_AMPLIFICATION,
        )
    )
    acc.compose(GaussianPrivacyEvent(noise_multiplier=z, sample_size=n, population_size=n), rounds)
    return acc.get_epsilon(delta)
