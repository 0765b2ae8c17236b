"""An end-to-end membership audit: train a target on half a population, attack it, compare claims.

The population is split at random into members (the target's training set) and
non-members. The target is trained with a :class:`TrainingRecipe` (plain or
DP-SGD); the loss-threshold attack and, with shadow models, LiRA score every
example; the empirical epsilon lower bound is set beside the epsilon the DP
accountant claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from trainguard.core.datasets import Dataset
from trainguard.core.training import (
    TrainedModel,
    evaluate,
    fit,
    make_loader,
    new_zoo_model,
    predict_logits,
)
from trainguard.core.validation import check_int
from trainguard.privacy.accounting import default_delta
from trainguard.privacy.audit.membership import lira_attack, loss_attack
from trainguard.privacy.audit.metrics import MembershipInference
from trainguard.privacy.dpsgd import train_private


@dataclass(frozen=True)
class TrainingRecipe:
    """How a target (and its shadow models) are trained; ``dp=True`` uses DP-SGD.

    The defaults train a wide MLP long enough to memorise its training set (the
    deliberately overfit baseline an audit should catch).
    """

    model_name: str | None = "mlp"
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    dp: bool = False
    target_epsilon: float = 1.0
    delta: float | None = None
    max_grad_norm: float = 1.0
    model_options: dict[str, Any] = field(default_factory=lambda: {"hidden": (256, 256)})

    @property
    def label(self) -> str:
        """``"non-private"`` or ``"DP eps=<target>"``."""
        return f"DP eps={self.target_epsilon:g}" if self.dp else "non-private"

    def private_twin(
        self,
        target_epsilon: float = 1.0,
        *,
        batch_size: int = 100,
        epochs: int = 20,
        lr: float = 1e-2,
    ) -> TrainingRecipe:
        """The same model trained with DP-SGD at ``target_epsilon`` (larger batches, fewer epochs, as DP-SGD needs)."""
        return replace(
            self,
            dp=True,
            target_epsilon=target_epsilon,
            batch_size=batch_size,
            epochs=epochs,
            lr=lr,
        )

    def fit(self, data: Dataset, *, seed: int = 0) -> tuple[TrainedModel, float | None]:
        """Train on ``data``; return the model and the epsilon spent (None when not private)."""
        tm = new_zoo_model(
            data, model_name=self.model_name, seed=seed, model_options=self.model_options
        )
        x, y = tm.tensors(data)
        loader = make_loader(x, y, batch_size=self.batch_size, shuffle=True, seed=seed)
        if not self.dp:
            tm.history = fit(
                tm.model, loader, epochs=self.epochs, lr=self.lr, description=f"training {tm.name}"
            )
            return tm, None
        result = train_private(
            tm.model,
            loader,
            epochs=self.epochs,
            target_epsilon=self.target_epsilon,
            delta=self.delta if self.delta is not None else default_delta(len(data)),
            max_grad_norm=self.max_grad_norm,
            lr=self.lr,
            accountant="rdp",
            grad_sample_mode="hooks",
            seed=seed,
            prv_curve=False,
        )
        tm.model, tm.history = result.model, result.history
        return tm, result.epsilon


@dataclass
class AuditResult:
    """The attacks on one trained target, with its accuracy on members and non-members."""

    recipe: TrainingRecipe
    attacks: list[MembershipInference]
    train_accuracy: float
    test_accuracy: float
    epsilon: float | None
    delta: float


def audit_training(
    population: Dataset, recipe: TrainingRecipe, *, n_shadow: int = 0, seed: int = 0
) -> AuditResult:
    """Train ``recipe`` on a random half of ``population`` and attack it (loss, and LiRA with shadows)."""
    shadows = check_int(n_shadow, "n_shadow", "audit_training", low=0)
    rng = np.random.default_rng(seed)
    is_member = np.zeros(len(population), dtype=bool)
    is_member[rng.permutation(len(population))[: len(population) // 2]] = True
    members = population.subset(is_member)
    tm, eps = recipe.fit(members, seed=seed)
    delta = recipe.delta if recipe.delta is not None else default_delta(len(members))
    x, y = tm.tensors(population)
    attacks = [loss_attack(tm.model, x, y, is_member, claimed_epsilon=eps, delta=delta)]
    if shadows:

        def train_shadow(indices: np.ndarray, shadow_seed: int) -> torch.Tensor:
            shadow, _ = recipe.fit(population.subset(indices), seed=shadow_seed)
            return predict_logits(shadow.model, shadow.tensors(population)[0])

        attacks.append(
            lira_attack(
                tm.model, x, y, is_member, train_shadow, n_shadow=shadows, seed=seed + 1000,
                claimed_epsilon=eps, delta=delta,
            )
        )  # fmt: skip
    acc_in = evaluate(tm.model, make_loader(x[is_member], y[is_member], batch_size=1024))
    acc_out = evaluate(tm.model, make_loader(x[~is_member], y[~is_member], batch_size=1024))
    return AuditResult(recipe, attacks, acc_in["accuracy"], acc_out["accuracy"], eps, delta)
