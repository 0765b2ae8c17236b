"""Red-teaming a pipeline: a backdoor planted in the training split before the stages run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ConfigError
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.pipeline.config import PoisonSimulation

if TYPE_CHECKING:
    from trainguard.backdoor import PoisonedDataset


def plant_backdoor(
    train: Dataset, sim: PoisonSimulation, source: str
) -> tuple[Dataset, PoisonedDataset]:
    """Poison ``sim.rate`` of ``train`` with the trigger ``sim.trigger`` (SIG keeps labels)."""
    from trainguard.backdoor import image_trigger, poison_dataset

    if train.kind != "image":
        raise ConfigError(
            f"{source}: data.simulate_poisoning: needs image data (got {train.kind} data)"
        )
    if sim.target >= train.n_classes:
        raise ConfigError(
            f"{source}: data.simulate_poisoning.target: expected a class index below "
            f"{train.n_classes} (got {sim.target})"
        )
    trigger = image_trigger(sim.trigger, train.input_shape, seed=sim.seed)
    pd = poison_dataset(
        train,
        trigger,
        rate=sim.rate,
        target=sim.target,
        clean_label=sim.trigger == "sig",
        seed=sim.seed,
    )
    return pd.dataset, pd


def simulation_stage(pd: PoisonedDataset, sim: PoisonSimulation) -> StageResult:
    """The report's record of what was planted, so a reader knows what should be caught."""
    n, n_rows, name = int(pd.poisoned.sum()), len(pd.poisoned), sim.trigger
    finding = Finding(
        stage="simulation",
        check_id="planted-backdoor",
        title=f"Planted backdoor ({name}) in the training split",
        severity=Severity.INFO,
        metrics={"poisoned_rows": float(n), "rate": pd.rate, "target": float(pd.target)},
        message=(
            f"red-team simulation: {n} of {n_rows} training rows carry the {name} trigger"
            f" and the label {pd.target}; the data audit should flag them and the attack"
            " stage measures whether the trained model obeys the trigger"
        ),
    )
    return StageResult(
        name="simulation",
        title="Red-team simulation",
        summary=f"{n} poisoned rows planted ({name} -> {pd.target})",
        findings=[finding],
    )
