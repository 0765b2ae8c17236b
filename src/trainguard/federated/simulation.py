"""The simulation engine: Flower's ``run_simulation`` (Ray) runs every client on this machine."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from trainguard.core.errors import require
from trainguard.federated.config import FederatedConfig
from trainguard.federated.results import FederatedResult


@contextlib.contextmanager
def flower_log_level(level: int = logging.WARNING) -> Iterator[None]:
    """Lower Flower's console chatter to ``level`` for the duration of a run."""
    logger = logging.getLogger("flwr")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def run_simulation(
    cfg: FederatedConfig, output: str | Path, *, verbose: bool = False
) -> FederatedResult:
    """Run ``cfg`` with one virtual SuperNode per client under Flower's simulation engine.

    The ServerApp writes ``result.json`` and ``model.pt`` into ``output``; the
    result is returned. Ray gets ``engine.num_cpus`` CPUs and each ClientApp
    ``engine.client_cpus`` of them.
    """
    require("flwr", "federated")
    require("ray", "federated")
    from flwr.simulation import run_simulation as flower_run_simulation

    from trainguard.federated.client_app import make_client_app
    from trainguard.federated.server_app import make_server_app

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    backend = {
        "client_resources": {"num_cpus": cfg.engine.client_cpus, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": cfg.engine.num_cpus,
            "num_gpus": 0,
            "include_dashboard": False,
            "logging_level": "ERROR",
            "log_to_driver": verbose,
        },
    }
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    with flower_log_level(logging.INFO if verbose else logging.ERROR):
        flower_run_simulation(
            server_app=make_server_app(cfg, out, engine="simulation"),
            client_app=make_client_app(cfg),
            num_supernodes=cfg.partition.num_clients,
            backend_config=backend,  # type: ignore[arg-type]
        )
    return FederatedResult.load(out)
