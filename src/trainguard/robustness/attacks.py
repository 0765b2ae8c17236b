"""White-box evasion attacks as plain functions: FGSM, PGD (L-inf, L2) and APGD-CE.

Every attack takes a classifier (an ``nn.Module`` or any callable from an input batch
to logits), inputs ``x`` and true labels ``y``, and returns adversarial inputs of the
same shape inside the ``norm`` ball of radius ``eps`` around ``x`` and inside the
input ``domain`` (``(0, 1)`` for images, ``None`` for unbounded features). The whole
batch is attacked at once. With ``target`` (one class per sample) an attack is
targeted: it pushes the prediction towards ``target`` instead of away from ``y``.
``perturbable`` (1 = may change, 0 = fixed, broadcastable to ``x``) restricts the
coordinates an attacker controls (padding tokens, immutable table columns).

The model is used in the mode it is in (call ``model.eval()`` first for evaluation);
only input gradients are computed, parameter gradients are left untouched.

References
----------
- I. Goodfellow, J. Shlens, C. Szegedy. "Explaining and Harnessing Adversarial
  Examples", ICLR 2015 (FGSM).
- A. Madry, A. Makelov, L. Schmidt, D. Tsipras, A. Vladu. "Towards Deep Learning Models
  Resistant to Adversarial Attacks", ICLR 2018 (PGD with random start).
- F. Croce, M. Hein. "Reliable evaluation of adversarial robustness with an ensemble of
  diverse parameter-free attacks", ICML 2020 (APGD).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from trainguard.core.registry import Registry
from trainguard.core.validation import check_int, check_positive, check_real
from trainguard.robustness.norms import (
    Domain,
    Norm,
    Seed,
    as_generator,
    ascent_direction,
    check_threat,
    into_threat_set,
    random_start,
)

Classifier = Callable[[torch.Tensor], torch.Tensor]
"""Anything that maps an input batch to logits (an ``nn.Module`` qualifies)."""

ATTACKS: Registry[torch.Tensor] = Registry("attack")
"""Attack name -> function ``(model, x, y, *, eps, ...) -> x_adv``."""

__all__ = [
    "ATTACKS",
    "Classifier",
    "apgd",
    "attack_loss",
    "fgsm",
    "fooled",
    "input_gradient",
    "pgd",
    "projected_ascent",
]


def attack_loss(
    logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample loss an attacker maximises: CE to ``y``, or minus CE to ``target``."""
    if target is None:
        return nn.functional.cross_entropy(logits, y, reduction="none")
    return -nn.functional.cross_entropy(logits, target, reduction="none")


def fooled(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """Boolean mask of samples where the attack succeeded (misclassified / hit the target)."""
    pred = logits.argmax(1)
    return pred != y if target is None else pred == target


def _gradient(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of ``values.sum()`` with respect to ``x``; zeros where it does not exist.

    A model whose output does not depend differentiably on ``x`` (a quantiser, an
    ``argmax`` inside) gets a zero gradient instead of an error: that is exactly the
    gradient masking the evaluation checks look for.
    """
    grad = None
    if values.requires_grad:
        (grad,) = torch.autograd.grad(values.sum(), [x], allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.detach()


def input_gradient(
    model: Classifier, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample attack loss, its gradient with respect to ``x``, and the logits."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        loss = attack_loss(logits, y, target)
        grad = _gradient(loss, x)
    return loss.detach(), grad, logits.detach()


def projected_ascent(
    objective: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    x_start: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    norm: Norm,
    domain: Domain,
    perturbable: torch.Tensor | None = None,
) -> torch.Tensor:
    """Maximise a per-sample ``objective`` over the threat set around ``x``.

    The PGD iteration of Madry et al. (2018): from ``x_start``, ``steps`` times move
    ``alpha`` along the steepest-ascent direction of ``objective`` for ``norm``, then
    map back into the ball and the domain. PGD uses the cross-entropy as objective,
    TRADES the KL divergence to the clean prediction.
    """
    x_adv = x_start.detach()
    for _ in range(steps):
        z = x_adv.requires_grad_(True)
        with torch.enable_grad():
            grad = _gradient(objective(z), z)
        step = z.detach() + alpha * ascent_direction(grad, norm)
        x_adv = into_threat_set(x, step, eps, norm, domain, perturbable).detach()
    return x_adv


def _check_steps(steps: int, restarts: int, owner: str) -> None:
    check_int(steps, "steps", owner, low=1)
    check_int(restarts, "restarts", owner, low=1)


@ATTACKS.register("fgsm")
def fgsm(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: Norm = "linf",
    target: torch.Tensor | None = None,
    domain: Domain = (0.0, 1.0),
    perturbable: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fast Gradient Sign Method: one step of size ``eps`` along the loss gradient.

    ``x + eps * sign(grad)`` for L-inf (Goodfellow et al. 2015), the normalised
    gradient for L2 (the "fast gradient method"), then clamped to ``domain``.
    """
    eps, norm = check_threat(eps, norm, "fgsm")
    _, grad, _ = input_gradient(model, x, y, target)
    step = x + eps * ascent_direction(grad, norm)
    return into_threat_set(x, step, eps, norm, domain, perturbable)


def _pgd_run(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    norm: Norm,
    start: bool,
    target: torch.Tensor | None,
    domain: Domain,
    perturbable: torch.Tensor | None,
    gen: torch.Generator,
) -> torch.Tensor:
    x_start = x
    if start:
        x_start = into_threat_set(
            x, x + random_start(x, eps, norm, gen), eps, norm, domain, perturbable
        )
    return projected_ascent(
        lambda z: attack_loss(model(z), y, target), x, x_start,
        eps=eps, alpha=alpha, steps=steps, norm=norm, domain=domain, perturbable=perturbable,
    )  # fmt: skip


@ATTACKS.register("pgd")
def pgd(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float | None = None,
    steps: int = 10,
    norm: Norm = "linf",
    random_start: bool = True,
    restarts: int = 1,
    target: torch.Tensor | None = None,
    domain: Domain = (0.0, 1.0),
    perturbable: torch.Tensor | None = None,
    seed: Seed = 0,
) -> torch.Tensor:
    """Projected Gradient Descent (Madry et al. 2018) under an L-inf or L2 budget.

    Each of ``steps`` iterations moves ``alpha`` along the steepest-ascent direction
    of the cross-entropy (sign of the gradient for L-inf, normalised gradient for L2),
    then projects back onto the ``eps`` ball and the input ``domain``. With
    ``random_start`` the first point is drawn inside the ball; with ``restarts > 1``
    the attack is repeated and each sample keeps a successful restart if there is
    one, else the one with the highest loss.

    Parameters
    ----------
    model
        Classifier returning logits.
    x, y
        Inputs and their true labels.
    eps
        Radius of the threat ball, in input units.
    alpha
        Step size; default ``2.5 * eps / steps`` (Madry et al.).
    steps
        Gradient steps per restart.
    norm
        ``"linf"`` or ``"l2"``.
    random_start
        Start from a uniform random point in the ball instead of ``x``.
    restarts
        Independent runs; only samples not yet fooled are attacked again.
    target
        Target classes for a targeted attack (``None``: untargeted).
    domain
        Valid input range, or ``None``.
    perturbable
        Mask of coordinates the attacker may change.
    seed
        Seed or generator of the random starts.

    Returns
    -------
    torch.Tensor
        Adversarial inputs, detached, same shape as ``x``.
    """
    eps, norm = check_threat(eps, norm, "pgd")
    _check_steps(steps, restarts, "pgd")
    alpha = 2.5 * eps / steps if alpha is None else check_positive(alpha, "alpha", "pgd")
    gen = as_generator(seed)
    run = partial(
        _pgd_run, model, eps=eps, alpha=alpha, steps=steps, norm=norm, start=random_start,
        domain=domain, gen=gen,
    )  # fmt: skip
    return _with_restarts(model, run, x, y, target, perturbable, restarts)


def _subset(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    """Rows ``idx`` of a per-sample tensor; shared (broadcast) masks pass through."""
    if t is None or t.dim() == 0 or len(t) == 1:
        return t
    return t[idx]


def _with_restarts(
    model: Classifier,
    run: Callable[..., torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    target: torch.Tensor | None,
    perturbable: torch.Tensor | None,
    restarts: int,
) -> torch.Tensor:
    """Run ``run`` up to ``restarts`` times; later runs only on samples not yet fooled."""
    best = x.detach().clone()
    best_loss = torch.full((len(x),), -torch.inf)
    done = torch.zeros(len(x), dtype=torch.bool)
    for _ in range(restarts):
        idx = (~done).nonzero().squeeze(1)
        if len(idx) == 0:
            break
        ys, ts = y[idx], _subset(target, idx)
        adv = run(x=x[idx], y=ys, target=ts, perturbable=_subset(perturbable, idx))
        with torch.no_grad():
            logits = model(adv)
            loss = attack_loss(logits, ys, ts)
            hit = fooled(logits, ys, ts)
        better = hit | (loss > best_loss[idx])
        best[idx[better]] = adv[better]
        best_loss[idx[better]] = loss[better]
        done[idx[hit]] = True
    return best


def _apgd_checkpoint(losses: list[torch.Tensor], k: int, rho: float) -> torch.Tensor:
    """Condition 1 of APGD: the loss rose in at most ``rho * k`` of the last ``k`` steps."""
    recent = torch.stack(losses[-(k + 1) :])
    increases = (recent[1:] > recent[:-1]).sum(0)
    return increases <= k * rho


def _apgd_run(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    norm: Norm,
    rho: float,
    target: torch.Tensor | None,
    domain: Domain,
    perturbable: torch.Tensor | None,
    gen: torch.Generator,
) -> torch.Tensor:
    project = partial(
        into_threat_set, x, eps=eps, norm=norm, domain=domain, perturbable=perturbable
    )
    # Checkpoints w_j: first after 22% of the steps, then shrinking by 3% down to 6%.
    k, k_min, k_decr = (
        max(int(0.22 * steps), 1),
        max(int(0.06 * steps), 1),
        max(int(0.03 * steps), 1),
    )
    x_adv = project(x + random_start(x, eps, norm, gen))
    loss, grad, logits = input_gradient(model, x_adv, y, target)
    success = fooled(logits, y, target)
    x_fooled = x_adv.clone()
    x_best, grad_best, loss_best = x_adv.clone(), grad.clone(), loss.clone()
    step = torch.full((len(x),) + (1,) * (x.dim() - 1), 2.0 * eps)
    x_prev = x_adv.clone()
    history = [loss]
    reduced_last = torch.ones(len(x), dtype=torch.bool)
    loss_best_last = loss_best.clone()
    since_check = 0
    for i in range(steps):
        momentum = 1.0 if i == 0 else 0.75
        z = project(x_adv + step * ascent_direction(grad, norm))
        x_next = project(x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_prev))
        x_prev, x_adv = x_adv, x_next
        loss, grad, logits = input_gradient(model, x_adv, y, target)
        hit = fooled(logits, y, target)
        x_fooled[hit] = x_adv[hit]
        success |= hit
        history.append(loss)
        better = loss > loss_best
        x_best[better], grad_best[better], loss_best[better] = (
            x_adv[better],
            grad[better],
            loss[better],
        )
        since_check += 1
        if since_check == k:
            stalled = ~reduced_last & (loss_best_last >= loss_best)
            reduce = _apgd_checkpoint(history, k, rho) | stalled
            step[reduce] /= 2.0
            x_adv[reduce], grad[reduce] = x_best[reduce], grad_best[reduce]
            reduced_last, loss_best_last = reduce, loss_best.clone()
            since_check, k = 0, max(k - k_decr, k_min)
    return torch.where(success.reshape((-1,) + (1,) * (x.dim() - 1)), x_fooled, x_best)


@ATTACKS.register("apgd-ce")
def apgd(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int = 100,
    norm: Norm = "linf",
    restarts: int = 1,
    rho: float = 0.75,
    target: torch.Tensor | None = None,
    domain: Domain = (0.0, 1.0),
    perturbable: torch.Tensor | None = None,
    seed: Seed = 0,
) -> torch.Tensor:
    """Auto-PGD on the cross-entropy loss (APGD-CE, Croce & Hein 2020).

    A step-size-free PGD: it starts with step ``2 * eps``, uses momentum 0.75, and at
    checkpoints (after 22% of the steps, then at intervals shrinking by 3% of the
    budget down to 6%) halves a sample's step size and restarts it from its best point
    when the loss rose in at most ``rho`` of the steps since the last checkpoint, or
    when its best loss did not improve and its step was not already reduced. Returns
    the last point that fooled the model, else the point of highest loss. The strong
    default for robustness evaluation.

    Parameters are as in :func:`pgd`; ``rho`` is the checkpoint threshold (0.75 in the
    paper) and ``steps`` defaults to the paper's 100.
    """
    eps, norm = check_threat(eps, norm, "apgd")
    _check_steps(steps, restarts, "apgd")
    rho = check_real(rho, "rho", "apgd", low=0.0, high=1.0)
    gen = as_generator(seed)
    run = partial(
        _apgd_run, model, eps=eps, steps=steps, norm=norm, rho=rho, domain=domain, gen=gen
    )
    return _with_restarts(model, run, x, y, target, perturbable, restarts)
