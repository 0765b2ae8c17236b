"""Adversarial robustness: attacks, adversarial training and robustness evaluation.

Modules: :mod:`~trainguard.robustness.attacks` (FGSM, PGD, APGD-CE),
:mod:`~trainguard.robustness.char_attacks` (character-level text perturbations, pure
Python), :mod:`~trainguard.robustness.text_attacks` (embedding PGD, greedy character
attack), :mod:`~trainguard.robustness.training` (FGSM, fast, PGD, TRADES, FreeLB
training), :mod:`~trainguard.robustness.evaluation` (robust accuracy curves),
:mod:`~trainguard.robustness.masking` (gradient-masking sanity checks) and
:mod:`~trainguard.robustness.stage` (run stages).

The names below are imported on first use, so ``trainguard.robustness.char_attacks``
loads without PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainguard.robustness.attacks import ATTACKS, apgd, fgsm, pgd
    from trainguard.robustness.char_attacks import perturb
    from trainguard.robustness.evaluation import RobustnessCurve, robustness_curve
    from trainguard.robustness.masking import GradientMaskingReport, gradient_masking_checks
    from trainguard.robustness.stage import (
        RobustnessReport,
        adversarial_train_stage,
        evaluate_robustness,
        robustness_stage,
    )
    from trainguard.robustness.text_attacks import char_attack, embedding_pgd
    from trainguard.robustness.training import (
        METHODS,
        AdversarialConfig,
        adversarial_fit,
        train_adversarial,
    )

_EXPORTS = {
    "ATTACKS": "attacks",
    "AdversarialConfig": "training",
    "GradientMaskingReport": "masking",
    "METHODS": "training",
    "RobustnessCurve": "evaluation",
    "RobustnessReport": "stage",
    "adversarial_fit": "training",
    "adversarial_train_stage": "stage",
    "apgd": "attacks",
    "char_attack": "text_attacks",
    "embedding_pgd": "text_attacks",
    "evaluate_robustness": "stage",
    "fgsm": "attacks",
    "gradient_masking_checks": "masking",
    "perturb": "char_attacks",
    "pgd": "attacks",
    "robustness_curve": "evaluation",
    "robustness_stage": "stage",
    "train_adversarial": "training",
}

__all__ = [
    "ATTACKS",
    "METHODS",
    "AdversarialConfig",
    "GradientMaskingReport",
    "RobustnessCurve",
    "RobustnessReport",
    "adversarial_fit",
    "adversarial_train_stage",
    "apgd",
    "char_attack",
    "embedding_pgd",
    "evaluate_robustness",
    "fgsm",
    "gradient_masking_checks",
    "perturb",
    "pgd",
    "robustness_curve",
    "robustness_stage",
    "train_adversarial",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
