"""Norm-ball geometry shared by the attacks: steepest-ascent steps, projections, random starts.

All functions work per sample: the first dimension is the batch, the norm of a sample
is taken over all its other dimensions.
"""

from __future__ import annotations

from typing import Literal

import torch

from trainguard.core.validation import check_choice, check_positive

Norm = Literal["linf", "l2"]
"""Threat model: ``"linf"`` (max-abs) or ``"l2"`` (Euclidean) ball around the input."""
NORMS: tuple[Norm, ...] = ("linf", "l2")
Domain = tuple[float, float] | None
"""Valid input range ``(low, high)`` that adversarial inputs are clamped to, or ``None``."""
Seed = int | torch.Generator | None
"""An int seed, a generator to draw from, or ``None`` for fresh randomness."""

_TINY = 1e-12


def as_generator(seed: Seed) -> torch.Generator:
    """A CPU generator from an int seed, the given generator, or a fresh random seed."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


def check_threat(eps: float, norm: str, owner: str) -> tuple[float, Norm]:
    """Validate ``eps`` (> 0) and ``norm``; return them typed."""
    eps = check_positive(eps, "eps", owner)
    check_choice(norm, "norm", owner, NORMS)
    return eps, "l2" if norm == "l2" else "linf"


def _view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def sample_norm(t: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Per-sample norm ``(n,)`` of ``t``."""
    flat = t.reshape(len(t), -1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


def ascent_direction(grad: torch.Tensor, norm: Norm) -> torch.Tensor:
    """The unit-norm steepest-ascent direction: ``sign(g)`` for L-inf, ``g/||g||_2`` for L2."""
    if norm == "linf":
        return grad.sign()
    return grad / _view(sample_norm(grad, "l2").clamp_min(_TINY), grad)


def project(delta: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """Euclidean projection of each perturbation onto the ``norm`` ball of radius ``eps``."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    scale = (eps / sample_norm(delta, "l2").clamp_min(_TINY)).clamp(max=1.0)
    return delta * _view(scale, delta)


def random_start(
    like: torch.Tensor, eps: float, norm: Norm, generator: torch.Generator
) -> torch.Tensor:
    """A random perturbation inside the ball, as in Madry et al. (2018).

    L-inf: uniform in the cube ``[-eps, eps]^d``. L2: a uniformly random direction
    with a radius drawn uniformly from ``[0, eps]`` (the torchattacks/advertorch choice).
    """
    if norm == "linf":
        u = torch.rand(like.shape, generator=generator, dtype=like.dtype)
        return (2 * u - 1) * eps
    d = torch.randn(like.shape, generator=generator, dtype=like.dtype)
    r = torch.rand(len(like), generator=generator, dtype=like.dtype) * eps
    return d / _view(sample_norm(d, "l2").clamp_min(_TINY), d) * _view(r, d)


def into_threat_set(
    x: torch.Tensor,
    x_new: torch.Tensor,
    eps: float,
    norm: Norm,
    domain: Domain,
    perturbable: torch.Tensor | None,
) -> torch.Tensor:
    """Map ``x_new`` back into the allowed set around ``x``: masked, projected, clamped.

    ``perturbable`` (broadcastable to ``x``, 1 = may change, 0 = fixed) zeroes the
    perturbation of fixed coordinates; ``domain`` clamps to the valid input range.
    Clamping after the projection keeps the point inside the ball because ``x``
    itself lies inside the domain.
    """
    delta = x_new - x
    if perturbable is not None:
        delta = delta * perturbable
    out = x + project(delta, eps, norm)
    return out if domain is None else out.clamp(domain[0], domain[1])
