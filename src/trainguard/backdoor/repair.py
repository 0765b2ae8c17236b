"""Backdoor repair: Fine-Pruning and unlearning with the reversed trigger.

- Fine-Pruning (Liu et al. 2018, "Fine-Pruning: Defending Against Backdooring Attacks
  on Deep Neural Networks", RAID): prune the last convolution's channels in increasing
  order of their mean activation on clean data (backdoor neurons are dormant on clean
  inputs) until clean accuracy has dropped by ``max_accuracy_drop`` (the paper stops at
  4 %), then fine-tune on clean data with the pruned channels held at zero.
- Unlearning (Wang et al. 2019, Neural Cleanse, Section VI-C): fine-tune on clean data
  in which ``stamp_fraction`` (20 %) of the rows carry the reversed trigger with their
  correct labels, so the model learns to ignore the trigger. Several reversed triggers
  (:mod:`~trainguard.backdoor.reversed` picks the ones that reproduce the backdoor)
  share the stamped rows.

Both return a repaired copy; the input model is left unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from trainguard.backdoor._nn import check_images, generator, last_conv, layer_activations
from trainguard.backdoor.triggers import ImageTrigger
from trainguard.core.errors import DataError
from trainguard.core.findings import Finding, Severity
from trainguard.core.training import fit, make_loader, predict_logits
from trainguard.core.validation import check_int, check_positive, check_real


@dataclass
class BackdoorMetrics:
    """Clean accuracy and, when triggered inputs are known, attack success rate."""

    clean_accuracy: float
    attack_success: float | None = None


@torch.no_grad()
def backdoor_metrics(
    model: nn.Module,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    triggered: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> BackdoorMetrics:
    """Accuracy on ``(x_test, y_test)`` and success on ``triggered = (x, attack labels)``."""

    def acc(x: torch.Tensor, y: torch.Tensor) -> float:
        return float((predict_logits(model, x).argmax(1) == y).float().mean())

    return BackdoorMetrics(acc(x_test, y_test), acc(*triggered) if triggered is not None else None)


@dataclass
class RepairResult:
    """The repaired model with its metrics before and after."""

    method: str
    model: nn.Module
    before: BackdoorMetrics
    after: BackdoorMetrics
    pruned: list[int] = field(default_factory=list)

    def to_findings(
        self, stage: str, *, max_attack_success: float = 0.05, max_accuracy_drop: float = 0.02
    ) -> list[Finding]:
        """One finding: attack success after repair and the clean-accuracy cost."""
        drop = self.before.clean_accuracy - self.after.clean_accuracy
        asr = self.after.attack_success
        ok = drop <= max_accuracy_drop and (asr is None or asr <= max_attack_success)
        metrics: dict[str, float | None] = {
            "clean_accuracy_before": self.before.clean_accuracy,
            "clean_accuracy_after": self.after.clean_accuracy,
            "attack_success_before": self.before.attack_success,
            "attack_success_after": asr,
        }
        if self.pruned:
            metrics["pruned_channels"] = float(len(self.pruned))
        asr_text = (
            "" if asr is None else f"attack success {self.before.attack_success:.1%} -> {asr:.1%}, "
        )
        return [
            Finding(
                stage=stage,
                check_id=f"repair-{self.method}",
                title=f"Backdoor repair by {self.method.replace('-', ' ')}",
                severity=Severity.MEDIUM if not ok else Severity.INFO,
                passed=ok,
                threshold=max_attack_success,
                metrics=metrics,
                message=f"{asr_text}clean accuracy {self.before.clean_accuracy:.1%} -> {self.after.clean_accuracy:.1%}",
            )
        ]


def _check_clean(x: torch.Tensor, y: torch.Tensor, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = check_images(x, owner, min_rows=2)
    y = torch.as_tensor(y, dtype=torch.long)
    if y.shape != (len(x),):
        raise DataError(f"{owner}: y_clean must hold one label per clean image")
    return x, y


def _channel_mask_hook(conv: nn.Conv2d, keep: torch.Tensor) -> torch.utils.hooks.RemovableHandle:
    return conv.register_forward_hook(lambda _m, _i, out: out * keep.view(1, -1, 1, 1))


def _bake_pruning(conv: nn.Conv2d, keep: torch.Tensor) -> None:
    with torch.no_grad():
        conv.weight.mul_(keep.view(-1, 1, 1, 1))
        if conv.bias is not None:
            conv.bias.mul_(keep)


def fine_prune(
    model: nn.Module,
    x_clean: torch.Tensor,
    y_clean: torch.Tensor,
    *,
    max_accuracy_drop: float = 0.04,
    max_prune_fraction: float = 0.9,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    triggered: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> RepairResult:
    """Fine-Pruning: prune dormant channels of the last convolution, then fine-tune.

    Parameters
    ----------
    model
        The (possibly backdoored) CNN; a copy is repaired.
    x_clean, y_clean
        Clean labelled data the defender holds: used to rank channels, to measure the
        accuracy drop while pruning and to fine-tune.
    max_accuracy_drop
        Stop pruning before clean accuracy falls by more than this (the paper's 4 %).
    max_prune_fraction
        Never prune more than this share of the channels.
    epochs, lr, batch_size
        Fine-tuning schedule (Adam).
    seed
        Seed of the fine-tuning shuffle.
    test, triggered
        Optional held-out clean data and triggered inputs with attack labels, to report
        clean accuracy and attack success before and after.
    """
    owner = "fine_prune"
    x_clean, y_clean = _check_clean(x_clean, y_clean, owner)
    check_real(max_accuracy_drop, "max_accuracy_drop", owner, low=0.0, high=1.0)
    check_real(max_prune_fraction, "max_prune_fraction", owner, low=0.0, high=1.0)
    check_int(epochs, "epochs", owner, low=0)
    check_positive(lr, "lr", owner)
    x_test, y_test = test if test is not None else (x_clean, y_clean)
    before = backdoor_metrics(model, x_test, y_test, triggered)
    repaired = copy.deepcopy(model)
    conv = last_conv(repaired)
    mean_act = layer_activations(repaired, conv, x_clean).relu().mean((0, 2, 3))
    order = torch.argsort(mean_act).tolist()
    keep = torch.ones(conv.out_channels)
    handle = _channel_mask_hook(conv, keep)
    try:
        base = backdoor_metrics(repaired, x_clean, y_clean).clean_accuracy
        pruned: list[int] = []
        for ch in order[: int(max_prune_fraction * conv.out_channels)]:
            keep[ch] = 0.0
            if (
                base - backdoor_metrics(repaired, x_clean, y_clean).clean_accuracy
                > max_accuracy_drop
            ):
                keep[ch] = 1.0
                break
            pruned.append(ch)
        if epochs:
            loader = make_loader(x_clean, y_clean, batch_size=batch_size, shuffle=True, seed=seed)
            fit(repaired, loader, epochs=epochs, lr=lr, description="fine-pruning")
    finally:
        handle.remove()
    _bake_pruning(conv, keep)
    after = backdoor_metrics(repaired, x_test, y_test, triggered)
    return RepairResult("fine-pruning", repaired, before, after, pruned)


def unlearn(
    model: nn.Module,
    x_clean: torch.Tensor,
    y_clean: torch.Tensor,
    trigger: ImageTrigger | Sequence[ImageTrigger],
    *,
    stamp_fraction: float = 0.2,
    epochs: int = 2,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    triggered: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> RepairResult:
    """Neural Cleanse's unlearning: fine-tune with the reversed trigger on correct labels.

    Parameters
    ----------
    model
        The backdoored model; a copy is repaired.
    x_clean, y_clean
        Clean labelled data the defender holds.
    trigger
        The reversed trigger (for example ``NeuralCleanseResult.triggers[target]``), or
        several (see :func:`~trainguard.backdoor.reversed.choose_reversed_triggers`):
        the stamped rows are then split evenly between them.
    stamp_fraction
        Share of the clean rows stamped with a trigger (the paper's 20 %).
    epochs, lr, batch_size
        Fine-tuning schedule (Adam).
    seed
        Seed of the stamped rows and of the shuffle.
    test, triggered
        Optional evaluation data, as in :func:`fine_prune`.
    """
    owner = "unlearn"
    x_clean, y_clean = _check_clean(x_clean, y_clean, owner)
    check_real(stamp_fraction, "stamp_fraction", owner, low=0.0, high=1.0)
    check_int(epochs, "epochs", owner, low=1)
    check_positive(lr, "lr", owner)
    triggers = [trigger] if isinstance(trigger, ImageTrigger) else list(trigger)
    if not triggers:
        raise DataError(f"{owner}: needs at least one trigger to stamp")
    x_test, y_test = test if test is not None else (x_clean, y_clean)
    before = backdoor_metrics(model, x_test, y_test, triggered)
    g = generator(seed)
    n_stamp = round(stamp_fraction * len(x_clean))
    rows = torch.randperm(len(x_clean), generator=g)[:n_stamp]
    x_mix = x_clean.clone()
    for k, trig in enumerate(triggers):
        part = rows[k :: len(triggers)]
        x_mix[part] = trig.stamp(x_clean[part])
    repaired = copy.deepcopy(model)
    loader = make_loader(x_mix, y_clean, batch_size=batch_size, shuffle=True, seed=seed)
    fit(repaired, loader, epochs=epochs, lr=lr, description="unlearning")
    after = backdoor_metrics(repaired, x_test, y_test, triggered)
    return RepairResult("unlearning", repaired, before, after)
