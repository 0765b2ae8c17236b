"""The demo: each lifecycle stage on built-in data, written into one run directory.

Every capability adds its stage function to ``DEMO_STAGES``; each reads and extends
the shared :class:`DemoState` (the data set, the trained model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.findings import Finding, Severity
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.core.training import TrainedModel
from trainguard.pipeline.train import plain_train_stage


@dataclass
class DemoState:
    """What the demo's stages share."""

    run: RunDir
    train: Dataset
    test: Dataset
    model: TrainedModel | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def data_stage(st: DemoState) -> None:
    """Describe the data set: size, classes, balance."""
    with recorded_stage(st.run, "data", "Data") as stage:
        counts = np.bincount(st.train.y, minlength=st.train.n_classes)
        imbalance = float(counts.max() / max(counts.min(), 1))
        stage.findings.append(
            Finding(
                stage="data",
                check_id="class-balance",
                title="Class balance of the training set",
                passed=imbalance <= 3.0,
                threshold=3.0,
                severity=Severity.LOW,
                metrics={
                    "rows_train": float(len(st.train)),
                    "rows_test": float(len(st.test)),
                    "classes": float(st.train.n_classes),
                    "max_min_class_ratio": imbalance,
                },
                message=f"{st.train.name}: {len(st.train)} training rows over {st.train.n_classes} classes",
                table=[
                    {"class": c, "rows": int(n)}
                    for c, n in zip(st.train.class_names, counts, strict=True)
                ],
            )
        )
        stage.summary = (
            f"{len(st.train)} train / {len(st.test)} test rows, class ratio {imbalance:.2f}"
        )


def train_stage(st: DemoState) -> None:
    """Train the zoo CNN and gate on test accuracy."""
    st.model = plain_train_stage(
        st.run,
        st.train,
        st.test,
        model_name="cnn",
        epochs=15,
        batch_size=64,
        lr=2e-3,
        seed=0,
        min_accuracy=0.9,
    )


DEMO_STAGES: list[Callable[[DemoState], None]] = [data_stage, train_stage]


def run_demo(root: str | Path = "runs") -> RunDir:
    """Run every demo stage on scikit-learn's digits and return the run directory."""
    run = RunDir.create("demo", root, config={"dataset": "digits"})
    train, test = load_dataset("digits").split(0.25, seed=0)
    st = DemoState(run=run, train=train, test=test)
    for stage_fn in DEMO_STAGES:
        stage_fn(st)
    return run
