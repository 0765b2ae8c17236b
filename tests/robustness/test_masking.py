"""Gradient-masking sanity checks: a quantised-input model is flagged, a normal one passes."""

from __future__ import annotations

import torch
from torch import nn

from trainguard.core.training import TrainedModel
from trainguard.robustness.evaluation import robustness_curve
from trainguard.robustness.masking import gradient_masking_checks

Data = tuple[torch.Tensor, torch.Tensor]


class Quantised(nn.Module):
    """A model behind a non-differentiable input quantiser: its input gradient is zero."""

    def __init__(self, inner: nn.Module, levels: int = 4) -> None:
        super().__init__()
        self.inner = inner
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * self.levels) / self.levels)


def test_normal_model_passes(digits_mlp: TrainedModel, digits_test: Data) -> None:
    x, y = digits_test[0][:150], digits_test[1][:150]
    report = gradient_masking_checks(digits_mlp.model, x, y, eps=0.1, steps=10)
    assert not report.suspicious, report.checks
    (finding,) = report.to_findings("robustness")
    assert finding.passed is True and finding.check_id == "gradient-masking"
    assert {row["check"] for row in finding.table} == {
        "iterative-vs-single-step",
        "unbounded-radius",
        "more-iterations",
        "random-noise",
    }


def test_quantised_input_layer_is_flagged(digits_mlp: TrainedModel, digits_test: Data) -> None:
    x, y = digits_test[0][:150], digits_test[1][:150]
    masked = Quantised(digits_mlp.model).eval()
    # The masked model *looks* robust to PGD ...
    curve = robustness_curve(masked, x, y, epsilons=[0.1], attack="pgd", steps=10)
    normal = robustness_curve(digits_mlp.model, x, y, epsilons=[0.1], attack="pgd", steps=10)
    assert curve.accuracy[0] > normal.accuracy[0] + 0.2
    # ... but the checks see through it: huge radius does not break it, a transfer attack does.
    report = gradient_masking_checks(masked, x, y, eps=0.1, steps=10, surrogate=digits_mlp.model)
    assert report.suspicious
    assert {"unbounded-radius", "transfer"} <= set(report.failed)
    (finding,) = report.to_findings("robustness")
    assert finding.passed is False and "Possible gradient masking" in finding.title
    curve.trusted = False
    (claim,) = curve.to_findings("robustness", min_robust_accuracy=0.5)
    assert claim.passed is None and "not a robustness claim" in claim.message
