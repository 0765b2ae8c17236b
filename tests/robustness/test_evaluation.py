"""Robust-accuracy curves: monotone in eps, per-class breakdown, findings and plot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainguard.core.errors import ParameterError
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel
from trainguard.robustness.evaluation import robustness_curve

Data = tuple[torch.Tensor, torch.Tensor]


def test_curve_falls_with_eps_and_breaks_down_by_class(
    digits_mlp: TrainedModel, digits_test: Data, tmp_path
) -> None:
    x, y = digits_test[0][:200], digits_test[1][:200]
    names = [f"d{i}" for i in range(10)]
    curve = robustness_curve(
        digits_mlp.model, x, y, epsilons=[0.2, 0.05, 0.1], steps=20, class_names=names
    )
    assert curve.epsilons == [0.05, 0.1, 0.2]
    assert curve.clean_accuracy >= curve.accuracy[0] >= curve.accuracy[1] >= curve.accuracy[2]
    assert curve.accuracy[2] < 0.1 < curve.clean_accuracy
    counts = np.bincount(y.numpy(), minlength=10)
    for eps_row, overall in zip(curve.per_class, curve.accuracy, strict=True):
        assert np.isclose(np.dot(eps_row, counts) / counts.sum(), overall)
    assert curve.success_rate[2] > 0.9
    run = RunDir.create("curve", tmp_path)
    plot = curve.plot(run, "curve")
    assert (run.path / plot).stat().st_size > 1000
    (finding,) = curve.to_findings(
        "robustness", evidence=[plot], min_robust_accuracy=0.5, gate_eps=0.05
    )
    assert finding.passed is (curve.accuracy[0] >= 0.5)
    assert [row["class"] for row in finding.table] == names
    assert finding.metrics["robust_accuracy@0.1"] == curve.accuracy[1]


def test_empty_epsilons_rejected(digits_mlp: TrainedModel, digits_test: Data) -> None:
    with pytest.raises(ParameterError, match="'epsilons' parameter of robustness_curve"):
        robustness_curve(digits_mlp.model, *digits_test, epsilons=[])
