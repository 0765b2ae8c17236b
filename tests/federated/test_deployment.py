"""The deployment engine: a SuperLink and SuperNodes as processes on 127.0.0.1, TLS, node authentication.

One real federation per test: certificates from ``make_certificates``, the
SuperLink with ``--enable-supernode-auth``, registered SuperNodes that train, and
a SuperNode with an unregistered key that the SuperLink refuses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from tests.federated.rounds import client_round, initial_weights, small_config

from trainguard.core.run import RunDir
from trainguard.core.training import load_trained
from trainguard.federated.stage import federated_stage
from trainguard.federated.task import get_weights


def test_tls_federation_trains_and_refuses_an_unregistered_node(tmp_path: Path) -> None:
    cfg = small_config(
        partition={"num_clients": 2},
        train={"rounds": 1},
        engine={"kind": "deployment", "timeout": 300},
    )
    run = RunDir.create("deploy", tmp_path)
    result = federated_stage(run, cfg)
    dep = result.deployment
    assert dep is not None and dep.tls and dep.node_authentication
    assert len(set(dep.registered_nodes)) == 2
    assert dep.intruder_refused is True and "Failed to activate SuperNode" in dep.intruder_message

    logs = run.artifacts / "federated" / "deployment-logs"
    assert "Uvicorn running on https://127.0.0.1" in (logs / "superlink.log").read_text()
    for i in range(2):
        assert "SuperNode ID" in (logs / f"supernode-{i}.log").read_text()

    by_id = {f.check_id: f for f in run.result.stage("federated").findings}
    assert by_id["node-authentication"].passed is True
    assert by_id["update-anomalies"].passed is True
    assert sorted(s.client for s in result.scores) == [0, 1]

    # the model that came back through TLS is FedAvg of what the two SuperNodes computed
    w0 = initial_weights(cfg)
    sent = client_round(cfg, w0, 1)
    total = sum(n for _, n in sent)
    final = get_weights(load_trained(run.artifacts / "federated" / "model.pt").model)
    for i, got in enumerate(final):
        np.testing.assert_allclose(got, sum(n * s[i] for s, n in sent) / total, atol=1e-5)
