"""Federated rounds recomputed in the test process from the same client code and Flower's strategies.

The engine tests compare what Flower's engines produced with this recomputation,
and the robustness test drives Flower's own strategy objects with real reply
Messages (only the transport is left out).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.app.metadata import Metadata
from flwr.serverapp.strategy import Strategy

from trainguard.federated.client_app import client_update
from trainguard.federated.config import FederatedConfig, parse_config
from trainguard.federated.strategies import CLIENT_RECORD, UNIT_WEIGHT
from trainguard.federated.task import Weights, get_weights, global_model, load_federated_data


def small_config(**sections: Any) -> FederatedConfig:
    """A tiny tabular config (synthetic credit, logistic regression), sections overridden."""
    raw: dict[str, Any] = {
        "data": {"source": "synthetic-credit", "options": {"n_samples": 1500}},
        "partition": {"num_clients": 3},
        "model": {"name": "logreg"},
        "train": {"rounds": 2, "lr": 0.1},
        "engine": {"num_cpus": 1},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(raw)


def initial_weights(cfg: FederatedConfig) -> Weights:
    """The global model's starting weights for ``cfg``."""
    return get_weights(global_model(cfg, load_federated_data(cfg)).model)


def client_round(
    cfg: FederatedConfig, weights: Weights, server_round: int
) -> list[tuple[Weights, int]]:
    """What every client sends in one round: weights and row count."""
    out = []
    for pid in range(cfg.partition.num_clients):
        sent, n, _ = client_update(cfg, pid, weights, server_round)
        out.append((sent, n))
    return out


def reply(keys: list[str], weights: Weights, n: int, pid: int, server_round: int) -> Message:
    """A client's train reply as the ClientApp builds it."""
    meta = Metadata(
        run_id=1, message_id="", src_node_id=pid + 1, dst_node_id=0, reply_to_message_id="m",
        group_id=str(server_round), created_at=time.time(), ttl=60.0, message_type="train",
    )  # fmt: skip
    content = RecordDict(
        {
            "arrays": ArrayRecord(
                {k: Array(np.asarray(w)) for k, w in zip(keys, weights, strict=True)}
            ),
            "metrics": MetricRecord({"num-examples": n, UNIT_WEIGHT: 1}),
            CLIENT_RECORD: ConfigRecord({"partition-id": pid}),
        }
    )
    return Message(content=content, metadata=meta)


def strategy_rounds(cfg: FederatedConfig, strategy: Strategy) -> Weights:
    """``cfg.train.rounds`` rounds of ``strategy.aggregate_train`` over the clients' replies."""
    tm = global_model(cfg, load_federated_data(cfg))
    keys = list(tm.model.state_dict().keys())
    weights = get_weights(tm.model)
    for r in range(1, cfg.train.rounds + 1):
        replies = [
            reply(keys, w, n, pid, r) for pid, (w, n) in enumerate(client_round(cfg, weights, r))
        ]
        arrays, _ = strategy.aggregate_train(r, replies)
        assert arrays is not None
        weights = arrays.to_numpy_ndarrays()
    return weights
