"""The train stage: plain, DP-SGD (privacy package) or adversarial (robustness package)."""

from __future__ import annotations

from typing import Any

from trainguard.core.findings import StageResult
from trainguard.pipeline.config import TrainConfig
from trainguard.pipeline.context import PipelineContext
from trainguard.pipeline.train import plain_train_stage


def run_train(ctx: PipelineContext, opts: TrainConfig) -> list[StageResult]:
    """Train the model as configured; the model lands in ``artifacts/model.pt``."""
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
            ctx.run, ctx.train, ctx.test, **common, method=opts.method, eps=opts.eps
        )
    else:
        tm = plain_train_stage(ctx.run, ctx.train, ctx.test, **common)
    ctx.set_model(tm)
    return [ctx.run.result.stage("train")]
