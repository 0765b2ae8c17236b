"""The ``train`` stage with differential privacy: DP-SGD on a zoo model, findings into a run."""

from __future__ import annotations

from trainguard.core.datasets import Dataset
from trainguard.core.plots import line_plot
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.core.training import TrainedModel, make_loader, new_zoo_model
from trainguard.core.training_findings import record_training
from trainguard.privacy.accounting import Accountant, default_delta
from trainguard.privacy.dpsgd import PrivateTraining, train_private


def record_private_training(run: RunDir, stage: str, result: PrivateTraining) -> list[str]:
    """Plot epsilon spent per epoch (RDP and PRV) into the run; return the plot's path."""
    if not result.epochs:
        return []
    epochs = [float(e.epoch) for e in result.epochs]
    series = {"RDP": [e.epsilon_rdp for e in result.epochs]}
    prv = [e.epsilon_prv for e in result.epochs]
    if all(p is not None for p in prv):
        series["PRV"] = [float(p or 0.0) for p in prv]
    series[f"target ({result.accountant.upper()})"] = [result.target_epsilon] * len(epochs)
    return [
        line_plot(
            run,
            f"{stage}_epsilon",
            epochs,
            series,
            xlabel="epoch",
            ylabel="epsilon spent",
            title=f"Privacy spent (delta={result.delta:g})",
        )
    ]


def train_private_stage(
    run: RunDir,
    train: Dataset,
    test: Dataset,
    *,
    model_name: str | None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    target_epsilon: float,
    delta: float | None,
    max_grad_norm: float,
    min_accuracy: float | None,
    accountant: Accountant = "prv",
    stage_name: str = "train",
) -> TrainedModel:
    """Train a zoo model with DP-SGD within (target_epsilon, delta); add stage ``stage_name``.

    ``delta=None`` takes :func:`~trainguard.privacy.accounting.default_delta` of the
    training-set size. Findings: test accuracy with its curve and the saved model
    (:func:`~trainguard.core.training_findings.record_training`), and the privacy
    spent by both accountants with the per-epoch epsilon plot, gated on the target. The
    model is saved as ``artifacts/model.pt`` (``<stage_name>-model.pt`` for another stage).
    """
    name = stage_name
    model_file = "model.pt" if name == "train" else f"{name}-model.pt"
    with recorded_stage(run, name, "Training with differential privacy (DP-SGD)") as stage:
        tm = new_zoo_model(train, model_name=model_name, seed=seed)
        x, y = tm.tensors(train)
        vx, vy = tm.tensors(test)
        dlt = default_delta(len(train)) if delta is None else delta
        result = train_private(
            tm.model,
            make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed),
            epochs=epochs,
            target_epsilon=target_epsilon,
            delta=dlt,
            max_grad_norm=max_grad_norm,
            lr=lr,
            accountant=accountant,
            val_loader=make_loader(vx, vy, batch_size=1024),
            seed=seed,
        )
        tm.model, tm.history = result.model, result.history
        findings, acc = record_training(
            run,
            name,
            tm,
            test,
            min_accuracy=min_accuracy,
            extra_metrics={"epsilon": result.epsilon},
            model_file=model_file,
        )
        plots = record_private_training(run, name, result)
        stage.findings.extend([*findings, *result.to_findings(name, evidence=plots)])
        stage.summary = (
            f"{tm.name} with DP-SGD, test accuracy {acc:.3f}, epsilon {result.epsilon:.2f} "
            f"(delta {dlt:g}, {result.accountant.upper()})"
        )
    return tm
