"""The pipeline's stages, one module per lifecycle stage, and their registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from trainguard.core.findings import StageResult
from trainguard.pipeline.config import DataAuditConfig, TrainConfig
from trainguard.pipeline.context import PipelineContext
from trainguard.pipeline.stages.data_audit import run_data_audit
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
}
