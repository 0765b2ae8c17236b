"""Flower's simulation engine (Ray) runs the apps: the model equals the rule recomputed, attackers are flagged.

Each test is one real ``run_simulation``; the global model it returns is compared
with the same rounds recomputed in the test process from the same client code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from tests.federated.rounds import client_round, initial_weights, small_config

from trainguard.cli.app import main
from trainguard.core.run import RunDir
from trainguard.core.training import load_trained
from trainguard.federated.accounting import epsilon_after
from trainguard.federated.robust import model_update, norm_bounded_mean
from trainguard.federated.simulation import run_simulation
from trainguard.federated.task import Weights, get_weights


def _close(a: Weights, b: Weights, atol: float) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=atol)


def test_cli_run_flags_the_boosting_client_and_norm_bounding_holds(tmp_path: Path) -> None:
    raw = {
        "name": "boost",
        "data": {"source": "synthetic-credit", "options": {"n_samples": 1500}},
        "partition": {"num_clients": 4},
        "model": {"name": "logreg"},
        "train": {"rounds": 2, "lr": 0.1},
        "strategy": {"name": "norm-bound", "max_norm": 0.3},
        "attack": {"kind": "scale", "fraction": 0.25, "scale": 10.0},
        "engine": {"num_cpus": 1},
    }
    (tmp_path / "fed.json").write_text(json.dumps(raw), encoding="utf-8")
    code = main(
        [
            "--quiet",
            "federated",
            "run",
            str(tmp_path / "fed.json"),
            "--runs",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 1  # a client's updates were flagged
    run = RunDir.open(next((tmp_path / "runs").iterdir()))
    stage = run.result.stage("federated")
    by_id = {f.check_id: f for f in stage.findings}
    attacker = int(by_id["attack-simulation"].message.split(": ")[1])
    assert set(by_id) == {
        "global-model",
        "attack-simulation",
        "update-anomalies",
        f"client-{attacker}-anomalous-updates",
    }
    summary = by_id["update-anomalies"]
    assert (
        summary.metrics["true_positive_rate"] == 1.0
        and summary.metrics["false_positive_rate"] == 0.0
    )
    rounds = by_id["global-model"].table
    assert [r["round"] for r in rounds] == [0, 1, 2] and rounds[2]["auc"] > rounds[0]["auc"] + 0.05
    assert all((run.path / e).is_file() for f in stage.findings for e in f.evidence)

    cfg = small_config(**{k: v for k, v in raw.items() if k != "name"})
    w = initial_weights(cfg)
    for r in (1, 2):
        sent = client_round(cfg, w, r)
        step = norm_bounded_mean(
            [model_update(s, w) for s, _ in sent], [n for _, n in sent], max_norm=0.3
        )
        w = [g + u for g, u in zip(w, step, strict=True)]
    final = get_weights(load_trained(run.path / "artifacts/federated/model.pt").model)
    _close(final, w, atol=1e-5)


def test_secagg_plus_aggregate_equals_the_plain_weighted_mean(tmp_path: Path) -> None:
    cfg = small_config(train={"rounds": 1}, secagg={"enabled": True})
    result = run_simulation(cfg, tmp_path)
    assert result.secure_aggregation and result.scores == []  # the server never saw one update
    w0 = initial_weights(cfg)
    sent = client_round(cfg, w0, 1)
    total = sum(n for _, n in sent)
    expected = [sum(n * s[i] for s, n in sent) / total for i in range(len(w0))]
    final = get_weights(load_trained(tmp_path / "model.pt").model)
    _close(final, expected, atol=1e-4)  # SecAgg+ quantises to 2^22 levels over [-8, 8]
    assert result.final.auc is not None and result.final.auc > result.rounds[0].auc  # type: ignore[operator]


def test_client_side_adaptive_dp_clips_honest_clients_and_accounts_epsilon(tmp_path: Path) -> None:
    cfg = small_config(
        partition={"num_clients": 4},
        dp={"mode": "client-adaptive", "noise_multiplier": 0.5, "clipping_norm": 0.05},
        attack={"kind": "scale", "fraction": 0.25, "scale": 10.0},
    )
    result = run_simulation(cfg, tmp_path)
    bound = {r.round: r.clipping_norm for r in result.rounds}
    assert bound[0] == 0.05 and bound[1] != 0.05  # the server moved the bound (Andrew et al. 2021)
    (evil,) = result.malicious
    honest = [s for s in result.scores if s.client != evil]
    # honest updates were clipped on their clients to the round's bound; the attacker skipped the mod
    assert honest and all(s.norm <= bound[s.round - 1] + 1e-6 for s in honest)  # type: ignore[operator]
    assert all(
        s.norm > 3 * bound[s.round - 1] and s.flagged for s in result.scores if s.client == evil
    )  # type: ignore[operator]
    assert [r.epsilon for r in result.rounds[1:]] == [epsilon_after(cfg, 1), epsilon_after(cfg, 2)]
    assert result.delta == 0.1  # the power of ten below 1 / 4 clients
