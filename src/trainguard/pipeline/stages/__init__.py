"""The pipeline's stages, one module per lifecycle stage, and their registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from trainguard.pipeline.stages.data_audit import run_data_audit
from trainguard.pipeline.stages.serve import run_serve
from trainguard.pipeline.stages.ship import run_ship
from trainguard.pipeline.stages.train import run_train

StageFn = Callable[[PipelineContext, Any], list[StageResult]]


@dataclass(frozen=True)
class StageDef:
    """A lifecycle stage: its title, its options model and the function that runs it."""

    name: str
    title: str
    options: type[BaseModel]
    run: StageFn


STAGES: dict[str, StageDef] = {
    "data_audit": StageDef("data_audit", "Data audit", DataAuditConfig, run_data_audit),
    "train": StageDef("train", "Training", TrainConfig, run_train),
    "attack": StageDef("attack", "Attack testing", AttackConfig, run_attack),
    "ship": StageDef("ship", "Ship", ShipConfig, run_ship),
    "serve": StageDef("serve", "Serve", ServeConfig, run_serve),
}
