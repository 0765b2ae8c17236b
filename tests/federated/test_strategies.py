"""Flower's robust strategies beat FedAvg under a sign-flipping attacker; DP wrappers and epsilon are wired right."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideAdaptiveClipping,
    DifferentialPrivacyServerSideFixedClipping,
    FedTrimmedAvg,
)
from tests.federated.rounds import small_config, strategy_rounds

from trainguard.federated.accounting import (
    dp_delta,
    dp_noise_multiplier,
    epsilon_after,
    flower_epsilon,
)
from trainguard.federated.server_app import make_evaluator
from trainguard.federated.strategies import (
    AGGREGATORS,
    UNIT_WEIGHT,
    ScoredStrategy,
    adaptive_count_stddev,
    build_strategy,
)
from trainguard.federated.task import load_federated_data

ROBUST = ["median", "trimmed-mean", "krum", "multikrum", "bulyan"]


@pytest.fixture(autouse=True)
def _quiet_flower() -> None:
    logging.getLogger("flwr").setLevel(logging.ERROR)


def test_robust_strategies_beat_fedavg_under_sign_flipping() -> None:
    cfg = small_config(
        data={"options": {"n_samples": 1400}},
        partition={"num_clients": 7},
        attack={"kind": "sign-flip", "fraction": 0.15, "scale": 10.0},
    )
    assert cfg.num_attackers == 1
    evaluate = make_evaluator(cfg, load_federated_data(cfg))
    common = {"fraction_evaluate": 0.0, "min_available_nodes": 7, "min_train_nodes": 7}
    auc = {
        name: evaluate(strategy_rounds(cfg, AGGREGATORS.get(name)(cfg, dict(common))))["auc"]
        for name in ["fedavg", *ROBUST]
    }
    clean_cfg = small_config(data={"options": {"n_samples": 1400}}, partition={"num_clients": 7})
    clean = evaluate(
        strategy_rounds(clean_cfg, AGGREGATORS.get("fedavg")(clean_cfg, dict(common)))
    )["auc"]
    assert auc["fedavg"] < 0.6 < 0.7 < clean, (auc, clean)
    for name in ROBUST:
        assert auc[name] > clean - 0.05, (name, auc[name], clean)


def test_build_strategy_wraps_dp_then_scoring() -> None:
    cfg = small_config(dp={"mode": "server-fixed", "noise_multiplier": 0.8, "clipping_norm": 0.5})
    outer, core = build_strategy(cfg, malicious=frozenset())
    assert isinstance(outer, ScoredStrategy) and isinstance(
        core, DifferentialPrivacyServerSideFixedClipping
    )
    assert (
        core.noise_multiplier == 0.8 and core.clipping_norm == 0.5 and core.num_sampled_clients == 3
    )
    assert core.strategy.weighted_by_key == UNIT_WEIGHT  # type: ignore[attr-defined]
    ada = small_config(
        dp={"mode": "client-adaptive", "noise_multiplier": 1.0}, strategy={"name": "trimmed-mean"}
    )
    _, wrapper = build_strategy(ada)
    assert isinstance(wrapper, DifferentialPrivacyClientSideAdaptiveClipping)
    assert isinstance(wrapper.strategy, FedTrimmedAvg)
    # Andrew et al.: z^-2 = z_update^-2 + (2 sigma_b)^-2, so the pair is as private as one Gaussian with z
    sigma_b = adaptive_count_stddev(ada)
    assert wrapper.noise_multiplier**-2 + (2 * sigma_b) ** -2 == pytest.approx(1.0)


@pytest.mark.parametrize(("z", "rounds", "clients"), [(1.0, 10, 5), (0.6, 3, 20), (2.5, 40, 100)])
def test_epsilon_equals_flowers_rdp_accountant(z: float, rounds: int, clients: int) -> None:
    cfg = small_config(
        partition={"num_clients": clients},
        data={"options": {"n_samples": 4000}},
        dp={"mode": "server-fixed", "noise_multiplier": z},
    )
    assert dp_delta(cfg) < 1 / clients
    ours, theirs = epsilon_after(cfg, rounds), flower_epsilon(cfg, rounds)
    assert ours is not None and theirs is not None and ours == pytest.approx(theirs, abs=1e-9)


def test_local_dp_noise_multiplier_is_the_classic_gaussian_calibration() -> None:
    cfg = small_config(dp={"mode": "local", "local_epsilon": 2.0, "delta": 1e-3})
    assert dp_noise_multiplier(cfg) == pytest.approx(np.sqrt(2 * np.log(1.25 / 1e-3)) / 2.0)
    assert epsilon_after(small_config(), 5) is None
