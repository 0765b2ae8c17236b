"""Neural Cleanse: reverse-engineer the smallest trigger for every label, flag outliers.

Wang et al. 2019, "Neural Cleanse: Identifying and Mitigating Backdoor Attacks in
Neural Networks" (IEEE S&P). For each label ``t`` it solves::

    min_{m, p}  CE(f((1 - m) * x + m * p), t) + lambda * |m|_1

with ``m`` and ``p`` in tanh space (``tanh / 2 + 0.5``), Adam (lr 0.1, betas 0.5/0.9)
and the dynamic ``lambda`` of the authors' code: 0 until the trigger reaches
``attack_threshold`` for ``patience`` epochs, then ``init_cost`` (1e-3); afterwards
``patience`` epochs at or above the threshold multiply it by 1.5 and ``patience``
epochs below divide it by 1.5 ** 1.5; a label stops early once ``lambda`` has moved both
ways and its best norm has not improved for ``5 * patience`` epochs. The smallest mask
that reaches the threshold is kept. A label whose mask L1 norm lies below the median
with an anomaly index (``|x - median| / (1.4826 * MAD)``) above 2 is an infected label. The compromised
neurons are the penultimate-layer neurons whose mean activation rises most when the
reversed trigger is stamped on clean inputs (Section VI-A).

All labels are optimised together in one batched forward pass, each with its own Adam
state (their losses are independent, so this equals optimising them one by one); a
label that has stopped leaves the batch.
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
from trainguard.backdoor.triggers import ImageTrigger, reversed_patch
from trainguard.core.findings import Finding, Severity
from trainguard.core.progress import progress_bar
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_int, check_positive, check_real

_TANH_EPS = 1e-6
NC_STEPS = 1500
"""Default cap on Neural Cleanse's optimisation steps per label."""


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


@dataclass
class _CostSchedule:
    """Neural Cleanse's per-label ``lambda`` control (the authors' ``visualizer.py``).

    ``lambda`` is 0 until attack success has reached the threshold for ``patience``
    epochs, then ``init_cost``; afterwards ``patience`` epochs at or above the threshold
    multiply it by ``multiplier`` and ``patience`` epochs below divide it by
    ``multiplier ** 1.5``. A label stops once ``lambda`` has moved both ways and its
    best norm has not improved for ``early_stop_patience`` epochs.
    """

    k: int
    init_cost: float
    patience: int
    multiplier: float
    early_stop_patience: int

    def __post_init__(self) -> None:
        self.cost = torch.zeros(self.k)
        self.set_count = torch.zeros(self.k, dtype=torch.long)
        self.up = torch.zeros(self.k, dtype=torch.long)
        self.down = torch.zeros(self.k, dtype=torch.long)
        self.went_up = torch.zeros(self.k, dtype=torch.bool)
        self.went_down = torch.zeros(self.k, dtype=torch.bool)
        self.stale = torch.zeros(self.k, dtype=torch.long)
        self.stop_best = torch.full((self.k,), float("inf"))

    def update(self, ok: torch.Tensor, best_l1: torch.Tensor) -> torch.Tensor:
        """Advance one epoch (``ok``: success reached); return the labels that are done."""
        unset = self.cost == 0
        self.set_count = torch.where(unset & ok, self.set_count + 1, 0)
        start = unset & (self.set_count >= self.patience)
        self.cost[start] = self.init_cost
        self.up = torch.where(~unset & ok, self.up + 1, 0)
        self.down = torch.where(~unset & ~ok, self.down + 1, 0)
        raise_, lower = self.up >= self.patience, self.down >= self.patience
        self.cost = torch.where(raise_, self.cost * self.multiplier, self.cost)
        self.cost = torch.where(lower, self.cost / self.multiplier**1.5, self.cost)
        self.went_up |= raise_
        self.went_down |= lower
        self.up[raise_] = 0
        self.down[lower] = 0
        found = torch.isfinite(best_l1)
        self.stale = torch.where(found & (best_l1 >= self.stop_best), self.stale + 1, 0)
        self.stop_best = torch.minimum(self.stop_best, best_l1)
        return self.went_up & self.went_down & (self.stale >= self.early_stop_patience)


def reverse_triggers(
    model: nn.Module,
    x: torch.Tensor,
    labels: list[int],
    *,
    steps: int = NC_STEPS,
    batch_size: int = 32,
    lr: float = 0.1,
    init_cost: float = 1e-3,
    attack_threshold: float = 0.99,
    patience: int = 5,
    multiplier: float = 1.5,
    epoch_steps: int = 10,
    early_stop_patience: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neural Cleanse's optimisation for ``labels`` at once; masks, patterns, mask norms.

    Each label has its own mask, pattern and Adam state and runs for at most ``steps``
    mini-batches (``steps // epoch_steps`` epochs), fewer when it stops early (see
    :class:`_CostSchedule`; ``early_stop_patience`` defaults to ``5 * patience``, as in
    the authors' code). Returns ``masks (k, h, w)``, ``patterns (k, c, h, w)`` and
    ``l1 (k,)``: for each label the smallest mask that reached ``attack_threshold`` over
    an epoch's mini-batches (the last mask when none did).
    """
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    g = generator(seed)
    k = len(labels)
    _, c, h, w = x.shape
    mask_raw = [_from_unit(torch.rand(1, h, w, generator=g)).requires_grad_() for _ in labels]
    pattern_raw = [_from_unit(torch.rand(c, h, w, generator=g)).requires_grad_() for _ in labels]
    opts = [
        torch.optim.Adam([m, p], lr=lr, betas=(0.5, 0.9))
        for m, p in zip(mask_raw, pattern_raw, strict=True)
    ]
    target = torch.tensor(labels)
    schedule = _CostSchedule(
        k, init_cost, patience, multiplier, early_stop_patience or 5 * patience
    )
    active = torch.ones(k, dtype=torch.bool)
    best_l1 = torch.full((k,), float("inf"))
    best_mask = torch.zeros(k, h, w)
    best_pattern = torch.zeros(k, c, h, w)
    batches = minibatches(len(x), batch_size, steps, g)
    n_epochs = max(1, steps // epoch_steps)
    try:
        with progress_bar("neural cleanse", total=n_epochs) as bar:
            for _ in range(n_epochs):
                on = torch.nonzero(active).flatten().tolist()
                hits = torch.zeros(k)
                for idx in [next(batches) for _ in range(epoch_steps)]:
                    xb = x[idx]
                    m = _to_unit(torch.stack([mask_raw[i] for i in on]))
                    p = _to_unit(torch.stack([pattern_raw[i] for i in on]))
                    xt = (1 - m[:, None]) * xb[None] + (m * p)[:, None]
                    logits = model(xt.reshape(-1, c, h, w)).reshape(len(on), len(idx), -1)
                    ce = nn.functional.cross_entropy(
                        logits.reshape(len(on) * len(idx), -1),
                        target[on].repeat_interleave(len(idx)),
                        reduction="none",
                    ).reshape(len(on), -1)
                    loss = ce.mean(1) + schedule.cost[on] * m.sum((1, 2, 3))
                    for i in on:
                        opts[i].zero_grad(set_to_none=True)
                    loss.sum().backward()
                    for i in on:
                        opts[i].step()
                    hit = (logits.argmax(-1) == target[on, None]).float().mean(1)
                    hits[on] += hit.detach()
                with torch.no_grad():
                    m = _to_unit(torch.stack(mask_raw))[:, 0]
                    l1_now = m.sum((1, 2))
                    ok = hits / epoch_steps >= attack_threshold
                    better = active & ok & (l1_now < best_l1)
                    best_l1[better] = l1_now[better]
                    best_mask[better] = m[better]
                    best_pattern[better] = _to_unit(torch.stack(pattern_raw))[better]
                    done = schedule.update(ok, best_l1)
                    active &= ~done
                bar.advance()
                if not active.any():
                    break
    finally:
        for prm in model.parameters():
            prm.requires_grad_(True)
    with torch.no_grad():
        never = torch.isinf(best_l1)
        m = _to_unit(torch.stack(mask_raw))[:, 0]
        best_mask[never] = m[never]
        best_pattern[never] = _to_unit(torch.stack(pattern_raw))[never]
        best_l1[never] = m[never].sum((1, 2))
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
    steps: int = NC_STEPS,
    batch_size: int = 32,
    lr: float = 0.1,
    init_cost: float = 1e-3,
    attack_threshold: float = 0.99,
    patience: int = 5,
    multiplier: float = 1.5,
    epoch_steps: int = 10,
    early_stop_patience: int | None = None,
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
        Most optimisation steps per label (mini-batches of ``batch_size``); a label
        usually stops earlier (the early stop of the authors' code).
    lr, init_cost, attack_threshold, patience, multiplier
        The paper's Adam learning rate, ``lambda`` once the trigger works (1e-3),
        success threshold (0.99), epochs of patience before ``lambda`` is adjusted and
        the adjustment factor (1.5 up, ``1.5 ** 1.5`` down).
    epoch_steps
        Mini-batches per epoch (the unit of the ``lambda`` schedule).
    early_stop_patience
        Epochs without a smaller successful mask before a label stops (default
        ``5 * patience``).
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
    check_real(multiplier, "multiplier", owner, low=1.0, low_open=True)
    if early_stop_patience is not None:
        check_int(early_stop_patience, "early_stop_patience", owner, low=1)
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
        multiplier=multiplier,
        epoch_steps=epoch_steps,
        early_stop_patience=early_stop_patience,
        seed=seed,
    )
    triggers = [reversed_patch(masks[k], patterns[k]) for k in range(n_classes)]
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
