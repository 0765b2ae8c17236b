"""Neural Cleanse: reverse-engineer the smallest trigger for every label, flag outliers.

Wang et al. 2019, "Neural Cleanse: Identifying and Mitigating Backdoor Attacks in
Neural Networks" (IEEE S&P). For each label ``t`` it solves::

    min_{m, p}  CE(f((1 - m) * x + m * p), t) + lambda * |m|_1

with ``m`` and ``p`` in tanh space, Adam (lr 0.1, betas 0.5/0.9) and the paper's
dynamic ``lambda``: start at ``init_cost``; after ``patience`` epochs with attack
success at or above ``attack_threshold`` multiply it by 1.5, after ``patience``
epochs below divide it by 1.5 ** 1.5. The smallest mask that reaches the threshold is
kept. A label whose mask L1 norm lies below the median with an anomaly index
(``|x - median| / (1.4826 * MAD)``) above 2 is an infected label. The compromised
neurons are the penultimate-layer neurons whose mean activation rises most when the
reversed trigger is stamped on clean inputs (Section VI-A).

All labels are optimised together in one batched forward pass (their losses are
independent and Adam is element-wise, so this equals optimising them one by one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainguard.backdoor._nn import (
    anomaly_index,
    check_images,
    generator,
    minibatches,
    penultimate,
)
from trainguard.backdoor.triggers import ImageTrigger
from trainguard.core.findings import Finding, Severity
from trainguard.core.progress import progress_bar
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_int, check_positive, check_real

_TANH_EPS = 1e-6


@dataclass
class NeuralCleanseResult:
    """Per-label reversed triggers, their sizes, anomaly indices and the verdict.

    Attributes
    ----------
    mask_l1
        L1 norm of the smallest successful mask per label.
    anomaly
        Anomaly index per label (MAD-based, 0 at the median).
    success_rate
        Fraction of the clean reference inputs each reversed trigger sends to its label.
    triggers
        The reversed trigger of every label.
    flagged_labels
        Labels whose norm lies below the median with an anomaly index above ``threshold``.
    neurons
        Compromised penultimate neurons of the suspected target, most affected first.
    neuron_gain
        Mean activation increase of those neurons under the reversed trigger.
    """

    mask_l1: np.ndarray
    anomaly: np.ndarray
    success_rate: np.ndarray
    triggers: list[ImageTrigger]
    threshold: float
    flagged_labels: list[int]
    neurons: list[int] = field(default_factory=list)
    neuron_gain: list[float] = field(default_factory=list)

    @property
    def trojaned(self) -> bool:
        """True when at least one label is flagged."""
        return bool(self.flagged_labels)

    @property
    def target(self) -> int:
        """The suspected target: the label with the smallest reversed mask."""
        return int(np.argmin(self.mask_l1))

    @property
    def score(self) -> float:
        """Anomaly index of the smallest mask (the model-level suspicion score)."""
        return float(self.anomaly[self.target])

    def to_findings(self, stage: str, *, evidence: list[str] | None = None) -> list[Finding]:
        """One finding: is the model trojaned, on which label, with which trigger."""
        t = self.target
        verdict = (
            f"label {t} is an outlier: reversed trigger of L1 {self.mask_l1[t]:.1f} "
            f"(median {np.median(self.mask_l1):.1f}), anomaly index {self.anomaly[t]:.2f}"
            if self.trojaned
            else f"no label below the median has an anomaly index above {self.threshold:g}"
        )
        return [
            Finding(
                stage=stage,
                check_id="neural-cleanse",
                title="Neural Cleanse: reversed-trigger size outlier",
                severity=Severity.HIGH if self.trojaned else Severity.INFO,
                passed=not self.trojaned,
                threshold=self.threshold,
                metrics={
                    "anomaly_index": self.score,
                    "suspected_target": float(t),
                    "target_mask_l1": float(self.mask_l1[t]),
                    "median_mask_l1": float(np.median(self.mask_l1)),
                    "target_trigger_success": float(self.success_rate[t]),
                },
                message=verdict
                + (f"; compromised neurons {self.neurons}" if self.trojaned else ""),
                evidence=list(evidence or []),
                table=[
                    {
                        "label": k,
                        "mask_l1": round(float(self.mask_l1[k]), 3),
                        "anomaly_index": round(float(self.anomaly[k]), 3),
                        "trigger_success": round(float(self.success_rate[k]), 3),
                    }
                    for k in range(len(self.mask_l1))
                ],
            )
        ]


def _to_unit(raw: torch.Tensor) -> torch.Tensor:
    return torch.tanh(raw) / (2 - _TANH_EPS) + 0.5


def _from_unit(v: torch.Tensor) -> torch.Tensor:
    return torch.atanh((v - 0.5) * (2 - _TANH_EPS))


def reverse_triggers(
    model: nn.Module,
    x: torch.Tensor,
    labels: list[int],
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 0.1,
    init_cost: float = 1e-3,
    attack_threshold: float = 0.99,
    patience: int = 3,
    epoch_steps: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neural Cleanse's optimisation for ``labels`` at once; masks, patterns, mask norms.

    Returns ``masks (k, h, w)``, ``patterns (k, c, h, w)`` and ``l1 (k,)``: for each label
    the smallest mask that reached ``attack_threshold`` on an epoch's mini-batches (the
    last mask when none did).
    """
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    g = generator(seed)
    k = len(labels)
    _, c, h, w = x.shape
    mask_raw = _from_unit(0.05 + 0.9 * torch.rand(k, 1, h, w, generator=g)).requires_grad_()
    pattern_raw = _from_unit(0.05 + 0.9 * torch.rand(k, c, h, w, generator=g)).requires_grad_()
    opt = torch.optim.Adam([mask_raw, pattern_raw], lr=lr, betas=(0.5, 0.9))
    target = torch.tensor(labels)
    cost = torch.full((k,), init_cost)
    up = torch.zeros(k, dtype=torch.long)
    down = torch.zeros(k, dtype=torch.long)
    best_l1 = torch.full((k,), float("inf"))
    best_mask = torch.zeros(k, h, w)
    best_pattern = torch.zeros(k, c, h, w)
    batches = minibatches(len(x), batch_size, steps, g)
    n_epochs = max(1, steps // epoch_steps)
    try:
        with progress_bar("neural cleanse", total=n_epochs) as bar:
            for _ in range(n_epochs):
                hits = torch.zeros(k)
                for idx in [next(batches) for _ in range(epoch_steps)]:
                    xb = x[idx]
                    m, p = _to_unit(mask_raw), _to_unit(pattern_raw)
                    xt = (1 - m[:, None]) * xb[None] + (m * p)[:, None]
                    logits = model(xt.reshape(-1, c, h, w)).reshape(k, len(idx), -1)
                    ce = nn.functional.cross_entropy(
                        logits.reshape(k * len(idx), -1),
                        target.repeat_interleave(len(idx)),
                        reduction="none",
                    ).reshape(k, -1)
                    l1 = m.abs().sum((1, 2, 3))
                    opt.zero_grad(set_to_none=True)
                    (ce.mean(1) + cost * l1).sum().backward()
                    opt.step()
                    hits += (logits.argmax(-1) == target[:, None]).float().mean(1).detach()
                acc = hits / epoch_steps
                with torch.no_grad():
                    m, p = _to_unit(mask_raw)[:, 0], _to_unit(pattern_raw)
                    l1_now = m.abs().sum((1, 2))
                    better = (acc >= attack_threshold) & (l1_now < best_l1)
                    best_l1[better] = l1_now[better]
                    best_mask[better] = m[better]
                    best_pattern[better] = p[better]
                    ok = acc >= attack_threshold
                    up = torch.where(ok, up + 1, torch.zeros_like(up))
                    down = torch.where(ok, torch.zeros_like(down), down + 1)
                    cost = torch.where(up >= patience, cost * 1.5, cost)
                    cost = torch.where(down >= patience, cost / 1.5**1.5, cost)
                    up[up >= patience] = 0
                    down[down >= patience] = 0
                bar.advance()
    finally:
        for prm in model.parameters():
            prm.requires_grad_(True)
    with torch.no_grad():
        never = torch.isinf(best_l1)
        m, p = _to_unit(mask_raw)[:, 0], _to_unit(pattern_raw)
        best_mask[never] = m[never]
        best_pattern[never] = p[never]
        best_l1[never] = m[never].abs().sum((1, 2))
    return best_mask.numpy(), best_pattern.numpy(), best_l1.numpy().astype(np.float64)


def compromised_neurons(
    model: nn.Module, x: torch.Tensor, trigger: ImageTrigger, *, top: int = 3
) -> tuple[list[int], list[float]]:
    """Penultimate neurons whose mean activation rises most under ``trigger`` (NC, VI-A)."""
    gain = penultimate(model, trigger.stamp(x)).mean(0) - penultimate(model, x).mean(0)
    order = np.argsort(-gain)[:top]
    return [int(i) for i in order], [float(gain[i]) for i in order]


def neural_cleanse(
    model: nn.Module,
    x: torch.Tensor,
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 0.1,
    init_cost: float = 1e-3,
    attack_threshold: float = 0.99,
    patience: int = 3,
    epoch_steps: int = 10,
    threshold: float = 2.0,
    top_neurons: int = 3,
    seed: int = 0,
) -> NeuralCleanseResult:
    """Run Neural Cleanse on ``model`` with clean reference images ``x`` ``(n, c, h, w)``.

    Parameters
    ----------
    model
        Classifier returning logits; inputs in [0, 1].
    x
        Clean images the defender holds (a few hundred suffice on MNIST).
    steps
        Optimisation steps per label (mini-batches of ``batch_size``).
    lr, init_cost, attack_threshold, patience
        The paper's Adam learning rate, initial ``lambda``, success threshold (0.99)
        and the epochs of patience before ``lambda`` is adjusted.
    epoch_steps
        Mini-batches per epoch (the unit of the ``lambda`` schedule).
    threshold
        Anomaly index above which a small-norm label is flagged (the paper's 2).
    top_neurons
        How many compromised neurons to report for the suspected target.
    seed
        Seed of the initial masks and the mini-batch order.
    """
    owner = "neural_cleanse"
    x = check_images(x, owner, min_rows=2)
    check_int(steps, "steps", owner, low=1)
    check_int(batch_size, "batch_size", owner, low=1)
    check_int(epoch_steps, "epoch_steps", owner, low=1)
    check_int(patience, "patience", owner, low=1)
    check_positive(lr, "lr", owner)
    check_positive(init_cost, "init_cost", owner)
    check_real(attack_threshold, "attack_threshold", owner, low=0.0, high=1.0, low_open=True)
    check_positive(threshold, "threshold", owner)
    n_classes = int(predict_logits(model, x[:1]).shape[1])
    masks, patterns, l1 = reverse_triggers(
        model,
        x,
        list(range(n_classes)),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        init_cost=init_cost,
        attack_threshold=attack_threshold,
        patience=patience,
        epoch_steps=epoch_steps,
        seed=seed,
    )
    triggers = [
        ImageTrigger("reversed", masks[k], patterns[k], np.zeros_like(patterns[k]))
        for k in range(n_classes)
    ]
    success = np.array(
        [
            float((predict_logits(model, t.stamp(x)).argmax(1) == k).float().mean())
            for k, t in enumerate(triggers)
        ]
    )
    anomaly = anomaly_index(l1)
    median = float(np.median(l1))
    flagged = [k for k in range(n_classes) if l1[k] < median and anomaly[k] > threshold]
    result = NeuralCleanseResult(
        mask_l1=l1,
        anomaly=anomaly,
        success_rate=success,
        triggers=triggers,
        threshold=threshold,
        flagged_labels=flagged,
    )
    if hasattr(model, "features") and top_neurons > 0:
        result.neurons, result.neuron_gain = compromised_neurons(
            model, x, triggers[result.target], top=top_neurons
        )
    return result
