"""Findings every training path writes: test accuracy with its curve, and the saved model."""

from __future__ import annotations

from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity
from trainguard.core.plots import line_plot
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel, evaluate, make_loader, save_trained


def record_training(
    run: RunDir,
    stage: str,
    tm: TrainedModel,
    test: Dataset,
    *,
    min_accuracy: float | None = None,
    extra_metrics: dict[str, float] | None = None,
    model_file: str = "model.pt",
) -> tuple[list[Finding], float]:
    """Evaluate ``tm`` on ``test``, plot its curve, save it into the run.

    Returns the findings (test accuracy, gated by ``min_accuracy`` when given) and the
    test accuracy. The model is stored as ``artifacts/<model_file>``.
    """
    x, y = tm.tensors(test)
    acc = evaluate(tm.model, make_loader(x, y, batch_size=512))["accuracy"]
    evidence = []
    epochs = tm.history.series("epoch")
    if epochs:
        series = {"train": tm.history.series("train_accuracy")}
        val = tm.history.series("val_accuracy")
        if len(val) == len(epochs):
            series["test"] = val
        evidence.append(
            line_plot(
                run,
                f"{stage}_curve",
                epochs,
                series,
                xlabel="epoch",
                ylabel="accuracy",
                title="Training curve",
            )
        )
    path = save_trained(tm, run.artifact_path(model_file))
    evidence.append(run.relative(path))
    finding = Finding(
        stage=stage,
        check_id="test-accuracy",
        title=f"Test accuracy of the trained {tm.name} model",
        passed=None if min_accuracy is None else acc >= min_accuracy,
        threshold=min_accuracy,
        severity=Severity.MEDIUM,
        metrics={"test_accuracy": acc, "epochs": float(len(epochs)), **(extra_metrics or {})},
        evidence=evidence,
    )
    return [finding], acc
