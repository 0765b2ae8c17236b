"""The pipeline's stages, one module per lifecycle stage, and their registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trainguard.core.findings import StageResult
from trainguard.pipeline.config import (
    AttackConfig,
    DataAuditConfig,
    ServeConfig,
    ShipConfig,
    TrainConfig,
)
from trainguard.pipeline.context import PipelineContext
from trainguard.pipeline.stages.attack import run_attack
from trainguard.pipeline.stages.data_audit import (
    data_audit_inputs,
    drop_flagged_rows,
    run_data_audit,
)
from trainguard.pipeline.stages.serve import run_serve
from trainguard.pipeline.stages.ship import run_ship
from trainguard.pipeline.stages.train import run_train

StageFn = Callable[[PipelineContext, Any], list[StageResult]]


@dataclass(frozen=True)
class StageDef:
    """A lifecycle stage: its title, its options model and the function that runs it.

    ``after`` applies what the stage changes in the context (not only in the report),
    both when it ran and when it was restored from the cache.
    """

    name: str
    title: str
    options: type[BaseModel]
    run: StageFn
    after: Callable[[PipelineContext], None] | None = None
    inputs: Callable[[PipelineContext, Any], list[Path]] | None = None
    """The files and folders the options name (their content is part of the cache key)."""


STAGES: dict[str, StageDef] = {
    "data_audit": StageDef(
        "data_audit",
        "Data audit",
        DataAuditConfig,
        run_data_audit,
        after=drop_flagged_rows,
        inputs=data_audit_inputs,
    ),
    "train": StageDef("train", "Training", TrainConfig, run_train),
    "attack": StageDef("attack", "Attack testing", AttackConfig, run_attack),
    "ship": StageDef(
        "ship",
        "Ship",
        ShipConfig,
        run_ship,
        inputs=lambda ctx, o: [ctx.resolve(o.advisories)] if o.advisories else [],
    ),
    "serve": StageDef(
        "serve",
        "Serve",
        ServeConfig,
        run_serve,
        inputs=lambda ctx, o: [ctx.resolve(o.guard_policy)] if o.guard_policy else [],
    ),
}
