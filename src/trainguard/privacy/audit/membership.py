"""Membership-inference attacks: the loss threshold (Yeom et al. 2018) and LiRA (Carlini et al. 2022).

Both turn a trained model and labelled examples into one score per example,
higher meaning "more likely a training member"; :func:`evaluate_attack` then
measures how well the scores separate members from non-members.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from trainguard.core.errors import ParameterError
from trainguard.core.progress import progress_bar
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_int
from trainguard.privacy.audit.metrics import MembershipInference, evaluate_attack

ShadowTrainer = Callable[[np.ndarray, int], torch.Tensor]
"""Trains a model on rows ``indices`` of the attack population with ``seed``; returns its
logits on the whole population (so each shadow can encode inputs its own way)."""


def per_example_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Cross-entropy of each example under ``model`` (eval mode)."""
    logits = predict_logits(model, x)
    return nn.functional.cross_entropy(logits, y, reduction="none").numpy()


def loss_threshold_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Negative per-example loss: members have lower loss.

    Yeom et al. (2018), "Privacy risk in machine learning: analyzing the connection
    to overfitting". Yeom's attack predicts "member" below the mean training loss; the evaluation
    sweeps every threshold (AUC, TPR at low FPR).
    """
    return -per_example_loss(model, x, y)


def logit_confidence(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """``log(p_y / (1 - p_y))`` computed stably as ``z_y - logsumexp(z_k, k != y)`` (LiRA's statistic)."""
    z = logits.detach().double()
    true = z.gather(1, y[:, None])[:, 0]
    others = z.scatter(1, y[:, None], -torch.inf)
    return (true - torch.logsumexp(others, dim=1)).numpy()


def _fill(values: np.ndarray, fallback: np.ndarray | np.floating[Any]) -> np.ndarray:
    return np.where(np.isfinite(values), values, fallback)


def lira_scores(
    target: np.ndarray,
    shadow: np.ndarray,
    shadow_in: np.ndarray,
    *,
    online: bool = True,
    fix_variance: bool = True,
) -> np.ndarray:
    """Likelihood-ratio membership scores (Carlini et al. 2022, Algorithm 1).

    ``target`` holds the target model's logit-scaled confidence for each example,
    ``shadow`` the shadow models' ``(m, n)``, ``shadow_in`` whether each example was in
    each shadow's training set. Online: log-likelihood of ``target`` under the fitted
    IN Gaussian minus under the OUT Gaussian. Offline: the one-sided log-probability
    that an OUT confidence is below ``target``. ``fix_variance`` uses one global
    variance per side (better with few shadow models, Section VI-A of the paper);
    an example with no IN (or OUT) shadow takes the global mean shift.
    """
    t = np.asarray(target, dtype=np.float64)
    c = np.asarray(shadow, dtype=np.float64)
    inside = np.asarray(shadow_in, dtype=bool)
    if c.ndim != 2 or c.shape != inside.shape or c.shape[1] != t.shape[0]:
        raise ParameterError(
            "The 'shadow' and 'shadow_in' parameters of lira_scores must both be (n_shadow, n) "
            f"with n = len(target). Got {c.shape}, {inside.shape} and {t.shape} instead."
        )
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # examples with no IN or no OUT shadow
        mean_out = np.nanmean(np.where(~inside, c, np.nan), axis=0)
        mean_in = np.nanmean(np.where(inside, c, np.nan), axis=0)
        shift = np.nanmean(mean_in - mean_out)
        mean_out = _fill(mean_out, mean_in - shift)
        mean_in = _fill(mean_in, mean_out + shift)
        std_out_global = np.nanstd(np.where(~inside, c - mean_out, np.nan))
        std_in_global = np.nanstd(np.where(inside, c - mean_in, np.nan))
        if fix_variance:
            std_out = np.full_like(t, std_out_global)
            std_in = np.full_like(t, std_in_global)
        else:
            std_out = _fill(np.nanstd(np.where(~inside, c, np.nan), axis=0), std_out_global)
            std_in = _fill(np.nanstd(np.where(inside, c, np.nan), axis=0), std_in_global)
    std_out, std_in = np.maximum(std_out, 1e-6), np.maximum(std_in, 1e-6)
    if not online:
        return stats.norm.logcdf(t, mean_out, std_out)
    return stats.norm.logpdf(t, mean_in, std_in) - stats.norm.logpdf(t, mean_out, std_out)


def shadow_confidences(
    train_shadow: ShadowTrainer, y: torch.Tensor, *, n_shadow: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train ``n_shadow`` models on random halves of the population; return confidences and membership.

    Each example joins each shadow's training set with probability 1/2 (seeded).
    Returns ``(confidences (m, n), in_mask (m, n))``.
    """
    m = check_int(n_shadow, "n_shadow", "shadow_confidences", low=1)
    rng = np.random.default_rng(seed)
    inside = rng.random((m, len(y))) < 0.5
    conf = np.empty((m, len(y)))
    with progress_bar("training shadow models", total=m) as bar:
        for k in range(m):
            conf[k] = logit_confidence(train_shadow(np.flatnonzero(inside[k]), seed + 1 + k), y)
            bar.advance()
    return conf, inside


def loss_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    is_member: np.ndarray,
    *,
    claimed_epsilon: float | None = None,
    delta: float = 0.0,
) -> MembershipInference:
    """Run the loss-threshold attack on ``model`` and evaluate it against the true membership."""
    scores = loss_threshold_scores(model, x, y)
    return evaluate_attack(
        scores, is_member, attack="loss", claimed_epsilon=claimed_epsilon, delta=delta
    )


def lira_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    is_member: np.ndarray,
    train_shadow: ShadowTrainer,
    *,
    n_shadow: int = 16,
    online: bool = True,
    seed: int = 0,
    claimed_epsilon: float | None = None,
    delta: float = 0.0,
) -> MembershipInference:
    """Run LiRA on ``model`` with ``n_shadow`` shadow models trained by ``train_shadow``.

    ``(x, y)`` is the attack population (the target's members and non-members);
    ``train_shadow`` should follow the target's training recipe, which the attacker
    is assumed to know.
    """
    conf, inside = shadow_confidences(train_shadow, y, n_shadow=n_shadow, seed=seed)
    target = logit_confidence(predict_logits(model, x), y)
    scores = lira_scores(target, conf, inside, online=online)
    name = "lira" if online else "lira-offline"
    return evaluate_attack(
        scores, is_member, attack=name, claimed_epsilon=claimed_epsilon, delta=delta
    )
