"""The plain (unprotected) training stage, the baseline the protected ones are compared with."""

from __future__ import annotations

from trainguard.core.datasets import Dataset
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.core.training import TrainedModel, train_model
from trainguard.core.training_findings import record_training


def plain_train_stage(
    run: RunDir,
    train: Dataset,
    test: Dataset,
    *,
    model_name: str | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    min_accuracy: float | None = None,
) -> TrainedModel:
    """Train a zoo model without protection; add stage ``train`` to ``run``."""
    with recorded_stage(run, "train", "Training") as stage:
        tm = train_model(
            train,
            model_name=model_name,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            val=test,
        )
        findings, acc = record_training(run, "train", tm, test, min_accuracy=min_accuracy)
        stage.findings.extend(findings)
        stage.summary = f"{tm.name}, test accuracy {acc:.3f}"
    return tm
