"""Secure aggregation with Flower's SecAgg+ (Bell et al. 2020), through Flower's legacy workflow.

In flwr 1.42 SecAgg+ exists only as ``flwr.server.workflow.SecAggPlusWorkflow``
(server) and ``flwr.client.mod.secaggplus_mod`` (client). The workflow requires a
``LegacyContext`` with a legacy ``flwr.server.strategy.FedAvg`` and exchanges
legacy ``FitIns``/``FitRes`` records; the Message-API strategies have no SecAgg+
counterpart. So this one feature runs the legacy workflow, inside the same
Message-API ``ServerApp`` and ``ClientApp`` (their train handler answers the
legacy records, see :mod:`trainguard.federated.client_app`); everything else uses
the Message API only. The server sees only the masked sum: per-client anomaly
scores and robust rules are impossible by design, which the config enforces.
"""

from __future__ import annotations

import time
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid

from trainguard.federated.config import FederatedConfig
from trainguard.federated.results import FederatedResult
from trainguard.federated.server_app import RoundRecorder, finish, make_evaluator
from trainguard.federated.task import Weights, get_weights, global_model, load_federated_data


def count_or_fraction(value: float) -> int | float:
    """SecAgg+'s convention: values up to 1 are fractions of the sampled clients, larger ones counts."""
    return float(value) if value <= 1 else int(value)


def run_secagg_server(
    grid: Grid, context: Context, cfg: FederatedConfig, out: Path, *, engine: str = "simulation"
) -> FederatedResult:
    """Run the rounds with the SecAgg+ workflow; write and return the result (no per-client scores)."""
    from flwr.common import Scalar, ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg as LegacyFedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    started = time.perf_counter()
    data = load_federated_data(cfg)
    recorder = RoundRecorder(cfg, make_evaluator(cfg, data))

    def evaluate_fn(
        server_round: int, weights: Weights, config: dict[str, Scalar]
    ) -> tuple[float, dict[str, Scalar]]:
        metrics = recorder(server_round, weights)
        return metrics["loss"], dict(metrics)

    def fit_config(server_round: int) -> dict[str, Scalar]:
        return {"server-round": server_round}

    strategy = LegacyFedAvg(
        fraction_fit=cfg.train.fraction_train,
        fraction_evaluate=0.0,
        min_fit_clients=cfg.clients_per_round,
        min_available_clients=cfg.partition.num_clients,
        evaluate_fn=evaluate_fn,
        on_fit_config_fn=fit_config,
        initial_parameters=ndarrays_to_parameters(get_weights(global_model(cfg, data).model)),
    )
    legacy = LegacyContext(
        context=context, config=ServerConfig(num_rounds=cfg.train.rounds), strategy=strategy
    )
    s = cfg.secagg
    workflow = DefaultWorkflow(
        fit_workflow=SecAggPlusWorkflow(
            num_shares=count_or_fraction(s.num_shares),
            reconstruction_threshold=count_or_fraction(s.reconstruction_threshold),
            max_weight=float(sum(data.sizes)),
            clipping_range=s.clipping_range,
            quantization_range=s.quantization_range,
            timeout=s.timeout,
        )
    )
    workflow(grid, legacy)
    return finish(cfg, data, recorder, out, engine=engine, started=started, secure=True)
