"""The Flower ServerApp (Message API): rounds, central evaluation, anomaly scores, DP epsilon, the result.

:func:`run_server` drives a ``flwr.serverapp.strategy`` strategy with
``strategy.start(grid=..., initial_arrays=..., evaluate_fn=...)`` and writes a
:class:`~trainguard.federated.results.FederatedResult` and the final model into
the output folder. With SecAgg+ the rounds run through
:func:`trainguard.federated.secagg.run_secagg_server` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp

from trainguard.core.training import dataset_tensors, predict_logits, save_trained
from trainguard.federated.accounting import dp_delta, epsilon_after
from trainguard.federated.attacks import attackers, stamp_trigger
from trainguard.federated.config import FederatedConfig
from trainguard.federated.results import MODEL_FILE, FederatedResult, RoundRecord
from trainguard.federated.runtime import config_from_context, output_from_context
from trainguard.federated.strategies import ScoredStrategy, build_strategy
from trainguard.federated.task import (
    FederatedData,
    Weights,
    evaluate_model,
    global_model,
    load_federated_data,
    set_weights,
)


def make_evaluator(
    cfg: FederatedConfig, data: FederatedData
) -> Callable[[Weights], dict[str, float | None]]:
    """Central evaluation on the server's test rows: accuracy, loss, AUC, and backdoor success.

    Backdoor success (with a backdoor attack) is the share of test rows not of the
    target class that the model assigns to the target once they carry the trigger.
    """
    tm = global_model(cfg, data)
    x, y = dataset_tensors(data.test, tm.vocab)
    triggered: torch.Tensor | None = None
    if cfg.attack.kind == "backdoor":
        others = data.test.subset(data.test.y != cfg.attack.target_label)
        triggered = dataset_tensors(stamp_trigger(others, cfg.attack), tm.vocab)[0]

    def evaluate(weights: Weights) -> dict[str, float | None]:
        set_weights(tm.model, weights)
        metrics = evaluate_model(tm.model, x, y)
        if triggered is not None:
            hits = predict_logits(tm.model, triggered).argmax(1) == cfg.attack.target_label
            metrics["backdoor_success"] = float(hits.float().mean()) if len(hits) else None
        return metrics

    return evaluate


class RoundRecorder:
    """Collects one :class:`RoundRecord` per central evaluation, with the seconds since the last one."""

    def __init__(
        self, cfg: FederatedConfig, evaluate: Callable[[Weights], dict[str, float | None]]
    ) -> None:
        self.cfg = cfg
        self.evaluate = evaluate
        self.records: list[RoundRecord] = []
        self.last_weights: Weights = []
        self._clock = time.perf_counter()

    def __call__(
        self, server_round: int, weights: Weights, clipping_norm: float | None = None
    ) -> dict[str, float]:
        """Evaluate the global weights after ``server_round``; return the non-missing metrics."""
        seconds = time.perf_counter() - self._clock if server_round > 0 else 0.0
        m = self.evaluate(weights)
        self.last_weights = [np.array(w, copy=True) for w in weights]
        self.records.append(
            RoundRecord(
                round=server_round,
                auc=m["auc"],
                accuracy=float(m["accuracy"] or 0.0),
                loss=float(m["loss"] or 0.0),
                backdoor_success=m.get("backdoor_success"),
                epsilon=epsilon_after(self.cfg, server_round),
                clipping_norm=clipping_norm,
                seconds=seconds,
            )
        )
        self._clock = time.perf_counter()
        return {k: float(v) for k, v in m.items() if v is not None}


def finish(
    cfg: FederatedConfig,
    data: FederatedData,
    recorder: RoundRecorder,
    out: Path,
    *,
    engine: str,
    started: float,
    scores: ScoredStrategy | None = None,
    secure: bool = False,
) -> FederatedResult:
    """Save the final model and the result into ``out``; return the result."""
    out.mkdir(parents=True, exist_ok=True)
    tm = global_model(cfg, data)
    set_weights(tm.model, recorder.last_weights)
    save_trained(tm, out / MODEL_FILE)
    result = FederatedResult(
        config=cfg,
        engine=engine,
        rounds=recorder.records,
        scores=[] if scores is None else scores.scores,
        malicious=sorted(attackers(cfg)),
        client_sizes=data.sizes,
        delta=dp_delta(cfg) if cfg.dp.mode != "none" else None,
        secure_aggregation=secure,
        seconds=time.perf_counter() - started,
    )
    result.save(out)
    return result


def run_server(
    grid: Grid, cfg: FederatedConfig, out: Path, *, engine: str = "simulation"
) -> FederatedResult:
    """Run ``cfg.train.rounds`` rounds of the configured strategy on ``grid``; write and return the result."""
    started = time.perf_counter()
    data = load_federated_data(cfg)
    tm = global_model(cfg, data)
    recorder = RoundRecorder(cfg, make_evaluator(cfg, data))
    strategy, core = build_strategy(cfg, malicious=attackers(cfg))

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        norm = getattr(core, "clipping_norm", None) if cfg.dp.mode != "none" else None
        return MetricRecord(recorder(server_round, arrays.to_numpy_ndarrays(), norm))  # type: ignore[arg-type]

    strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(tm.model.state_dict()),
        num_rounds=cfg.train.rounds,
        timeout=cfg.engine.timeout,
        evaluate_fn=evaluate_fn,
    )
    scored = strategy if isinstance(strategy, ScoredStrategy) else None
    return finish(cfg, data, recorder, out, engine=engine, started=started, scores=scored)


def make_server_app(
    cfg: FederatedConfig | None = None,
    output: str | Path | None = None,
    *,
    engine: str = "simulation",
) -> ServerApp:
    """A ServerApp bound to ``cfg`` and ``output`` (simulation), or reading both from the run config."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        c = config_from_context(context, cfg)
        out = output_from_context(context, output)
        if c.secagg.enabled:
            from trainguard.federated.secagg import run_secagg_server

            run_secagg_server(grid, context, c, out, engine=engine)
        else:
            run_server(grid, c, out, engine=engine)

    return app


app = make_server_app(engine="deployment")
"""The ServerApp a deployment loads (``trainguard.federated.server_app:app``)."""
