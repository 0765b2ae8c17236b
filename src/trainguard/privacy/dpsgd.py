"""DP-SGD training on Opacus: calibrated noise, Poisson sampling, per-epoch epsilon, clean stop.

Abadi et al. (2016), "Deep learning with differential privacy": clip each example's
gradient to L2 norm ``max_grad_norm``, add Gaussian noise of standard deviation
``noise_multiplier * max_grad_norm`` to the sum, and count the privacy spent by the
sampled Gaussian mechanism. Opacus does the per-sample gradients, clipping, noise
and accounting; :func:`train_private` adds the calibration to a target (epsilon,
delta, epochs) on the exact step count, the fastest grad-sample mode for the model,
both accountants' epsilon after every epoch, and stopping before the budget is
exceeded when a noise multiplier is given.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn
from torch.utils.data import DataLoader

from trainguard.core.errors import ParameterError
from trainguard.core.findings import Finding, Severity
from trainguard.core.progress import progress_bar
from trainguard.core.training import History, evaluate
from trainguard.core.validation import check_choice, check_int, check_positive
from trainguard.privacy.accounting import (
    ACCOUNTANTS,
    Accountant,
    calibrate_noise,
    epsilon_curve,
    max_steps,
)
from trainguard.privacy.engine import (
    GRAD_SAMPLE_MODES,
    GradSampleMode,
    ModeChoice,
    OptimizerName,
    check_dp_compatible,
    make_dp_compatible,
    make_private,
    private_step,
    select_grad_sample_mode,
)
from trainguard.privacy.params import check_delta, check_epsilon


@dataclass(frozen=True)
class EpochPrivacy:
    """Privacy spent after an epoch, by both accountants."""

    epoch: int
    steps: int
    epsilon_rdp: float
    epsilon_prv: float | None


@dataclass
class PrivateTraining:
    """A model trained with DP-SGD and the privacy it spent."""

    model: nn.Module
    history: History
    noise_multiplier: float
    sample_rate: float
    delta: float
    target_epsilon: float
    max_grad_norm: float
    accountant: Accountant
    grad_sample_mode: str
    steps: int
    planned_steps: int
    epochs: list[EpochPrivacy] = field(default_factory=list)
    mode_choice: ModeChoice | None = None
    opacus_history: list[tuple[float, float, int]] = field(default_factory=list)
    """What the PrivacyEngine's own accountant recorded: ``[(sigma, q, steps)]``."""

    @property
    def stopped_early(self) -> bool:
        """True when training stopped before the planned steps to stay within the budget."""
        return self.steps < self.planned_steps

    @property
    def epsilon_rdp(self) -> float:
        """Epsilon spent, by the RDP accountant."""
        return self.epochs[-1].epsilon_rdp if self.epochs else 0.0

    @property
    def epsilon_prv(self) -> float | None:
        """Epsilon spent, by the PRV accountant (None where it cannot bound it)."""
        return self.epochs[-1].epsilon_prv if self.epochs else 0.0

    @property
    def epsilon(self) -> float:
        """Epsilon spent by the accountant the budget was enforced with."""
        prv = self.epsilon_prv
        return self.epsilon_rdp if self.accountant == "rdp" or prv is None else prv

    def to_findings(self, stage: str, *, evidence: list[str] | None = None) -> list[Finding]:
        """A gate on the epsilon spent (at most the target) with both accountants' figures."""
        stop = " (stopped early: the budget was spent)" if self.stopped_early else ""
        return [
            Finding(
                stage=stage,
                check_id="dp-epsilon",
                title="Privacy spent by DP-SGD",
                severity=Severity.HIGH,
                passed=self.epsilon <= self.target_epsilon * (1 + 1e-9),
                threshold=self.target_epsilon,
                metrics={
                    "epsilon": self.epsilon,
                    "epsilon_rdp": self.epsilon_rdp,
                    "epsilon_prv": self.epsilon_prv,
                    "delta": self.delta,
                    "noise_multiplier": self.noise_multiplier,
                    "sample_rate": self.sample_rate,
                    "steps": float(self.steps),
                    "max_grad_norm": self.max_grad_norm,
                },
                message=(
                    f"(epsilon={self.epsilon:.3f}, delta={self.delta:g}) by the {self.accountant.upper()} "
                    f"accountant for target epsilon {self.target_epsilon:g}; noise multiplier "
                    f"{self.noise_multiplier:.3f}, grad-sample mode {self.grad_sample_mode}{stop}"
                ),
                evidence=list(evidence or []),
                table=[
                    {
                        "epoch": e.epoch,
                        "steps": e.steps,
                        "epsilon_rdp": round(e.epsilon_rdp, 4),
                        "epsilon_prv": None if e.epsilon_prv is None else round(e.epsilon_prv, 4),
                    }
                    for e in self.epochs
                ],
            )
        ]


def train_private(
    model: nn.Module,
    loader: DataLoader[Any],
    *,
    epochs: int,
    target_epsilon: float,
    delta: float,
    max_grad_norm: float = 1.0,
    noise_multiplier: float | None = None,
    lr: float = 1e-3,
    optimizer: OptimizerName = "adam",
    accountant: Accountant = "prv",
    grad_sample_mode: GradSampleMode | Literal["auto"] = "auto",
    val_loader: DataLoader[Any] | None = None,
    seed: int | None = None,
    fix_model: bool = False,
    prv_curve: bool = True,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> PrivateTraining:
    """Train ``model`` with DP-SGD on ``loader`` (yielding ``(x, y)``) within (target_epsilon, delta).

    Parameters
    ----------
    model
        Trained in place (a fixed copy with ``fix_model=True``); must be Opacus-compatible.
    loader
        Its batch size sets the Poisson sampling rate ``q = 1 / len(loader)``.
    epochs
        Passes over the data; the noise is calibrated to ``epochs * len(loader)`` steps.
    target_epsilon, delta
        The privacy budget, by ``accountant`` (``"prv"`` tighter, ``"rdp"`` faster).
    max_grad_norm
        Per-example clipping bound C.
    noise_multiplier
        Fixed sigma; training then stops at the last step that keeps the budget.
    grad_sample_mode
        An Opacus mode, or ``"auto"`` to time each on a batch and take the fastest.
    seed
        Seeds Poisson sampling and noise (OS entropy when None); layer initialisation
        is the caller's.
    prv_curve
        Also compute the PRV epsilon after every epoch (about 0.1 s each); without it
        only the RDP curve is kept, unless ``accountant="prv"`` needs the last value.
    """
    n_epochs = check_int(epochs, "epochs", "train_private", low=1)
    eps = check_epsilon(target_epsilon, "train_private", "target_epsilon")
    dlt = check_delta(delta, "train_private", allow_zero=False)
    clip = check_positive(max_grad_norm, "max_grad_norm", "train_private")
    check_choice(accountant, "accountant", "train_private", ACCOUNTANTS)
    check_choice(
        grad_sample_mode, "grad_sample_mode", "train_private", (*GRAD_SAMPLE_MODES, "auto")
    )
    if noise_multiplier is not None:
        check_positive(noise_multiplier, "noise_multiplier", "train_private")
    model = make_dp_compatible(model) if fix_model else model
    check_dp_compatible(model)
    choice = None
    if grad_sample_mode == "auto":
        x0, y0 = next(iter(loader))[:2]
        choice = select_grad_sample_mode(model, x0, y0, max_grad_norm=clip)
    mode: GradSampleMode = choice.mode if choice else grad_sample_mode  # type: ignore[assignment]
    parts = make_private(
        model,
        loader,
        noise_multiplier=1.0,
        max_grad_norm=clip,
        mode=mode,
        optimizer=optimizer,
        lr=lr,
        accountant=accountant,
        seed=seed,
    )
    q, per_epoch = parts.sample_rate, len(parts.loader)
    planned = n_epochs * per_epoch
    if noise_multiplier is None:
        sigma = calibrate_noise(
            target_epsilon=eps, delta=dlt, sample_rate=q, steps=planned, accountant=accountant
        )
        limit = planned
    else:
        sigma = float(noise_multiplier)
        limit = max_steps(
            noise_multiplier=sigma,
            sample_rate=q,
            delta=dlt,
            target_epsilon=eps,
            limit=planned,
            accountant=accountant,
        )
    parts.optimizer.noise_multiplier = sigma
    history, steps, epoch_steps = History(), 0, []
    with progress_bar("DP-SGD training", total=limit) as bar:
        for epoch in range(n_epochs):
            if steps >= limit:
                break
            parts.module.train()
            loss_sum, correct, total = 0.0, 0, 0
            for batch in parts.loader:
                if steps >= limit:
                    break
                loss, hits, n = private_step(parts, batch)
                loss_sum, correct, total, steps = (
                    loss_sum + loss,
                    correct + hits,
                    total + n,
                    steps + 1,
                )
                bar.advance()
            record = {
                "epoch": float(epoch + 1),
                "loss": loss_sum / max(total, 1),
                "train_accuracy": correct / max(total, 1),
            }
            if val_loader is not None:
                record["val_accuracy"] = evaluate(model, val_loader)["accuracy"]
            history.epochs.append(record)
            epoch_steps.append(steps)
            if on_epoch is not None:
                on_epoch(epoch, record)
    trained: nn.Module = parts.module.to_standard_module()  # type: ignore[operator]
    trained.eval()
    curve = _epochs_privacy(sigma, q, epoch_steps, dlt, prv=prv_curve or accountant == "prv")
    for record, point in zip(history.epochs, curve, strict=True):
        record["epsilon_rdp"] = point.epsilon_rdp
        record["epsilon_prv"] = math.nan if point.epsilon_prv is None else point.epsilon_prv
    return PrivateTraining(
        model=trained,
        history=history,
        noise_multiplier=sigma,
        sample_rate=q,
        delta=dlt,
        target_epsilon=eps,
        max_grad_norm=clip,
        accountant=accountant,
        grad_sample_mode=mode,
        steps=steps,
        planned_steps=planned,
        epochs=curve,
        mode_choice=choice,
        opacus_history=list(parts.engine.accountant.history),
    )


def _epochs_privacy(
    sigma: float, q: float, steps: list[int], delta: float, *, prv: bool
) -> list[EpochPrivacy]:
    rdp = epsilon_curve(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta)
    prv_eps: list[float | None] = [None] * len(steps)
    if prv:
        with contextlib.suppress(ParameterError):  # the PRV accountant cannot bound every setting
            prv_eps = list(
                epsilon_curve(
                    noise_multiplier=sigma,
                    sample_rate=q,
                    steps=steps,
                    delta=delta,
                    accountant="prv",
                )
            )
    return [
        EpochPrivacy(epoch=i + 1, steps=k, epsilon_rdp=r, epsilon_prv=p)
        for i, (k, r, p) in enumerate(zip(steps, rdp, prv_eps, strict=True))
    ]
