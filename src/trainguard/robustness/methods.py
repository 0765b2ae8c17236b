"""The adversary of adversarial training: its configuration and one training step per method.

See :mod:`trainguard.robustness.training` for the methods and their references; this
module holds the per-batch losses (FGSM, fast, PGD, TRADES) and the FreeLB step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from trainguard.core.validation import check_choice, check_int, check_positive, check_real
from trainguard.robustness.attacks import Classifier, fgsm, pgd, projected_ascent
from trainguard.robustness.norms import Domain, Norm, ascent_direction, into_threat_set
from trainguard.robustness.text_attacks import attack_space, is_embedding_model

Method = Literal["fgsm", "fast", "pgd", "trades", "freelb"]
METHODS: tuple[Method, ...] = ("fgsm", "fast", "pgd", "trades", "freelb")
_DEFAULT_STEPS = {"fgsm": 1, "fast": 1, "pgd": 10, "trades": 10, "freelb": 3}

__all__ = ["METHODS", "AdversarialConfig", "Method", "train_step"]


@dataclass(frozen=True)
class AdversarialConfig:
    """The adversary seen in training.

    Attributes
    ----------
    method
        One of :data:`METHODS`.
    eps
        Radius of the threat ball (input units; embedding units for text models).
    norm
        ``"linf"`` or ``"l2"``; ``None`` picks L-inf for inputs, L2 for embeddings.
    steps
        Ascent steps for ``pgd``/``trades``/``freelb``; ``None``: 10, 10, 3.
    alpha
        Step size; ``None``: ``2.5 eps / steps`` (``1.25 eps`` for ``fast``).
    beta
        TRADES weight of the robustness term (6 in the paper).
    fgsm_weight
        Weight of the clean loss in FGSM training (0.5 in the paper).
    domain
        Valid input range of raw inputs (ignored in embedding space).
    """

    method: Method
    eps: float
    norm: Norm | None = None
    steps: int | None = None
    alpha: float | None = None
    beta: float = 6.0
    fgsm_weight: float = 0.5
    domain: Domain = (0.0, 1.0)

    def __post_init__(self) -> None:
        check_choice(self.method, "method", "adversarial training", METHODS)
        check_positive(self.eps, "eps", "adversarial training")
        if self.norm is not None:
            check_choice(self.norm, "norm", "adversarial training", ("linf", "l2"))
        if self.steps is not None:
            check_int(self.steps, "steps", "adversarial training", low=1)
        if self.alpha is not None:
            check_positive(self.alpha, "alpha", "adversarial training")
        check_real(self.beta, "beta", "adversarial training", low=0.0)
        check_real(self.fgsm_weight, "fgsm_weight", "adversarial training", low=0.0, high=1.0)

    def resolved(self, text: bool) -> tuple[Norm, int, float]:
        """Norm, steps and step size in effect (defaults filled in)."""
        norm: Norm = self.norm or ("l2" if text else "linf")
        steps = self.steps or _DEFAULT_STEPS[self.method]
        default_alpha = 1.25 * self.eps if self.method == "fast" else 2.5 * self.eps / steps
        return norm, steps, self.alpha or default_alpha


@dataclass
class _Batch:
    """One batch in the space the adversary works in."""

    forward: Classifier
    base: torch.Tensor  # inputs, with the autograd link to embeddings for text
    perturbable: torch.Tensor | None
    domain: Domain
    y: torch.Tensor

    @property
    def fixed(self) -> torch.Tensor:
        return self.base.detach()

    def shifted(self, adv: torch.Tensor) -> torch.Tensor:
        """``base`` moved to ``adv`` while keeping the gradient path to the embeddings."""
        return self.base + (adv - self.fixed).detach()

    def threat(self, z: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
        return into_threat_set(self.fixed, z, eps, norm, self.domain, self.perturbable)


def _batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, domain: Domain) -> _Batch:
    forward, base, perturbable, dom = attack_space(model, x, domain)
    return _Batch(forward, base, perturbable, dom, y)


def _crafted(model: nn.Module, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Run ``make`` with the model in eval mode (adversarial examples), then back to train."""
    model.eval()
    try:
        return make()
    finally:
        model.train()


def _kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(softmax(p) || softmax(q))."""
    return F.kl_div(F.log_softmax(logits_q, 1), F.softmax(logits_p, 1), reduction="none").sum(1)


def _loss(
    model: nn.Module, b: _Batch, cfg: AdversarialConfig, text: bool, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training loss of one batch for the single-backward methods, and the adversarial logits."""
    norm, steps, alpha = cfg.resolved(text)
    common: dict[str, Any] = {"norm": norm, "domain": b.domain, "perturbable": b.perturbable}
    if cfg.method == "fgsm":
        adv = _crafted(model, lambda: fgsm(b.forward, b.fixed, b.y, eps=cfg.eps, **common))
        adv_logits = b.forward(b.shifted(adv))
        w = cfg.fgsm_weight
        loss = w * F.cross_entropy(b.forward(b.base), b.y) + (1 - w) * F.cross_entropy(
            adv_logits, b.y
        )
        return loss, adv_logits
    if cfg.method in ("fast", "pgd"):
        adv = _crafted(
            model,
            lambda: pgd(
                b.forward, b.fixed, b.y, eps=cfg.eps, alpha=alpha, steps=steps, seed=gen, **common
            ),
        )
        adv_logits = b.forward(b.shifted(adv))
        return F.cross_entropy(adv_logits, b.y), adv_logits
    # TRADES: the inner maximisation starts at x + 0.001 N(0, I) (Zhang et al., Alg. 1).

    def trades_adv() -> torch.Tensor:
        with torch.no_grad():
            clean = b.forward(b.fixed)
            start = b.threat(
                b.fixed + 0.001 * torch.randn(b.fixed.shape, generator=gen), cfg.eps, norm
            )
        return projected_ascent(
            lambda z: _kl(clean, b.forward(z)),
            b.fixed,
            start,
            eps=cfg.eps,
            alpha=alpha,
            steps=steps,
            **common,
        )

    adv = _crafted(model, trades_adv)
    logits = b.forward(b.base)
    adv_logits = b.forward(b.shifted(adv))
    loss = F.cross_entropy(logits, b.y) + cfg.beta * _kl(logits, adv_logits).mean()
    return loss, adv_logits


def _freelb_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: AdversarialConfig,
    text: bool,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """FreeLB (Zhu et al. 2020, Alg. 1): K ascent steps, parameter gradients averaged.

    The perturbation starts at ``U(-eps, eps) / sqrt(N)`` on the ``N`` perturbable
    coordinates of each sample; each step adds ``alpha`` times the normalised
    gradient and projects onto the ball. Leaves the gradients in the parameters.
    """
    norm, steps, alpha = cfg.resolved(text)
    b = _batch(model, x, y, cfg.domain)
    mask = torch.ones_like(b.fixed) if b.perturbable is None else b.perturbable.expand_as(b.fixed)
    n_coords = mask.reshape(len(x), -1).sum(1).clamp_min(1.0)
    init = (2 * torch.rand(b.fixed.shape, generator=gen) - 1) * cfg.eps * mask
    delta = (
        b.threat(
            b.fixed + init / n_coords.sqrt().reshape(-1, *[1] * (init.dim() - 1)), cfg.eps, norm
        )
        - b.fixed
    )
    loss_sum = torch.zeros(())
    for _ in range(steps):
        b = _batch(model, x, y, cfg.domain)  # embeddings change with the accumulated step
        delta.requires_grad_(True)
        adv_logits = b.forward(b.base + delta)
        loss = F.cross_entropy(adv_logits, y) / steps
        loss.backward()
        loss_sum = loss_sum + loss.detach()
        grad = torch.zeros_like(delta) if delta.grad is None else delta.grad
        moved = b.fixed + delta.detach() + alpha * ascent_direction(grad, norm)
        delta = (b.threat(moved, cfg.eps, norm) - b.fixed).detach()
    return loss_sum, adv_logits.detach()


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AdversarialConfig,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step of ``config.method`` on one batch; the loss and adversarial logits."""
    text = is_embedding_model(model, x)
    opt.zero_grad(set_to_none=True)
    if config.method == "freelb":
        loss, adv_logits = _freelb_step(model, x, y, config, text, gen)
    else:
        loss, adv_logits = _loss(model, _batch(model, x, y, config.domain), config, text, gen)
        loss.backward()
    opt.step()
    return loss.detach(), adv_logits.detach()
