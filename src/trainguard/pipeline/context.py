"""What the stages of one pipeline run share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ConfigError
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel, load_trained

MODEL_ARTIFACT = "model.pt"
POISONED = "poisoned"
"""``extras`` key: the ground-truth mask of rows a simulation poisoned (training split)."""
FEDERATED = "federated"
"""``extras`` key: the validated federated config of ``train.mode: federated``."""
SIMULATION = "simulation"
"""``extras`` key: the planted backdoor (a :class:`~trainguard.backdoor.PoisonedDataset`)."""


@dataclass
class PipelineContext:
    """The run, the data split, the config folder, and the trained model (loaded on demand)."""

    run: RunDir
    train: Dataset
    test: Dataset
    base_dir: Path
    extras: dict[str, Any] = field(default_factory=dict)
    _model: TrainedModel | None = None

    @property
    def model_path(self) -> Path:
        """Where the train stage stores the model."""
        return self.run.artifacts / MODEL_ARTIFACT

    def model(self) -> TrainedModel:
        """The trained model of this run; a clear error when no stage trained one."""
        if self._model is None:
            if not self.model_path.is_file():
                raise ConfigError("this stage needs a trained model: add a 'train' stage before it")
            self._model = load_trained(self.model_path)
        return self._model

    def set_model(self, tm: TrainedModel) -> None:
        """Remember the model the train stage produced."""
        self._model = tm

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p
