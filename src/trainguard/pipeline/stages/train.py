"""The train stage: plain, DP-SGD (privacy package) or adversarial (robustness package)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from trainguard.core.errors import ConfigError
from trainguard.core.findings import StageResult
from trainguard.core.training import load_trained
from trainguard.pipeline.config import DataConfig, TrainConfig
from trainguard.pipeline.context import FEDERATED, PipelineContext
from trainguard.pipeline.train import plain_train_stage

if TYPE_CHECKING:
    from trainguard.federated import FederatedConfig


def federated_config(opts: TrainConfig, data: DataConfig, source: str) -> FederatedConfig:
    """The federated run of ``mode: federated``: its sections plus the pipeline's data.

    The clients hold the rows of the pipeline's training split (the same split);
    row removal by the data audit and a planted backdoor cannot apply to data the
    clients own, so they are refused with this mode.
    """
    from trainguard.federated import parse_config

    where = f"{source}: stages.train.federated"
    if "data" in opts.federated:
        raise ConfigError(f"{where}.data: the pipeline's data section is used; remove this")
    if data.simulate_poisoning is not None:
        raise ConfigError(
            f"{source}: data.simulate_poisoning: not with train mode 'federated' "
            "(use the federated config's attack section)"
        )
    raw = dict(opts.federated)
    if opts.model is not None:
        raw.setdefault("model", {"name": opts.model})
    raw["data"] = data.model_dump(exclude={"simulate_poisoning"})
    return parse_config(raw, source=where)


def run_train(ctx: PipelineContext, opts: TrainConfig) -> list[StageResult]:
    """Train the model as configured; the model lands in ``artifacts/model.pt``.

    The report stage is ``train``, or ``federated`` for ``mode: federated``.
    """
    common: dict[str, Any] = {
        "model_name": opts.model,
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "lr": opts.lr,
        "seed": opts.seed,
        "min_accuracy": opts.min_accuracy,
    }
    if opts.mode == "dp":
        from trainguard.privacy import train_private_stage

        tm = train_private_stage(
            ctx.run,
            ctx.train,
            ctx.test,
            **common,
            target_epsilon=opts.target_epsilon,
            delta=opts.delta,
            max_grad_norm=opts.max_grad_norm,
        )
    elif opts.mode == "adversarial":
        from trainguard.robustness import adversarial_train_stage

        tm = adversarial_train_stage(
            ctx.run, ctx.train, ctx.test, **common, method=opts.method, eps=opts.eps,
            eps_ramp=opts.eps_ramp,
        )  # fmt: skip
    elif opts.mode == "federated":
        from trainguard.federated import federated_stage

        federated_stage(ctx.run, ctx.extras[FEDERATED])
        shutil.copyfile(ctx.run.artifacts / "federated" / "model.pt", ctx.model_path)
        ctx.set_model(load_trained(ctx.model_path))
        return [ctx.run.result.stage("federated")]
    else:
        tm = plain_train_stage(ctx.run, ctx.train, ctx.test, **common)
    ctx.set_model(tm)
    return [ctx.run.result.stage("train")]
