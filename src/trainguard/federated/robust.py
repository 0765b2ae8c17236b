"""Model updates as flat vectors, and the robust rule Flower lacks: norm-bounded averaging.

Flower ships Krum, Multi-Krum, the coordinate-wise median, the trimmed mean and
Bulyan (used as they are, see :mod:`trainguard.federated.strategies`). What it
lacks is norm bounding, the defence Sun et al. (2019) found effective against
model-replacement backdoors; it is here as a pure function over lists of arrays,
with an explicit generator for its optional noise and guards for zero-norm updates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_positive, check_real

Weights = list[np.ndarray]
_TINY = 1e-12


def model_update(local_w: Sequence[np.ndarray], global_w: Sequence[np.ndarray]) -> Weights:
    """``local - global`` layer by layer."""
    return [
        np.asarray(w, dtype=np.float64) - np.asarray(g, dtype=np.float64)
        for w, g in zip(local_w, global_w, strict=True)
    ]


def flatten(update: Sequence[np.ndarray]) -> np.ndarray:
    """All layers of an update as one float64 vector."""
    if not update:
        return np.zeros(0)
    return np.concatenate([np.asarray(u, dtype=np.float64).ravel() for u in update])


def l2_norm(update: Sequence[np.ndarray]) -> float:
    """Euclidean norm of an update over all its layers."""
    return float(np.linalg.norm(flatten(update)))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two flat vectors; 0.0 when either has zero norm."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < _TINY or nb < _TINY:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def norm_bounded_mean(
    updates: Sequence[Sequence[np.ndarray]],
    weights: Sequence[float] | None = None,
    *,
    max_norm: float,
    noise_std: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Weights:
    """Weighted mean of updates each clipped to L2 norm ``max_norm``, plus optional Gaussian noise.

    Norm bounding with "weak differential privacy" (Sun, Kairouz, Suresh, McMahan
    2019, "Can you really backdoor federated learning?", Sec. 4): every update
    ``u`` becomes ``u * min(1, M / ||u||)`` (a zero update stays zero), the clipped
    updates are averaged with ``weights`` (uniform by default), and
    ``N(0, noise_std^2)`` noise from ``rng`` is added to every coordinate.

    Parameters
    ----------
    updates
        One update per client, each a list of layer arrays of the same shapes.
    weights
        Non-negative weight per client (for example its number of examples).
    max_norm
        The bound ``M`` on each update's L2 norm.
    noise_std
        Standard deviation of the added noise (0: none).
    rng
        Generator for the noise; required when ``noise_std > 0``.
    """
    if not updates:
        raise ParameterError(
            "The 'updates' parameter of norm_bounded_mean must be non-empty. Got [] instead."
        )
    check_positive(max_norm, "max_norm", "norm_bounded_mean")
    check_real(noise_std, "noise_std", "norm_bounded_mean", low=0.0)
    w = np.ones(len(updates)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(updates),) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ParameterError(
            "The 'weights' parameter of norm_bounded_mean must be one finite non-negative weight "
            f"per update with a positive sum. Got {list(w)!r} instead."
        )
    w = w / w.sum()
    out = [np.zeros_like(np.asarray(layer, dtype=np.float64)) for layer in updates[0]]
    for wi, update in zip(w, updates, strict=True):
        norm = l2_norm(update)
        factor = 1.0 if norm <= max_norm else max_norm / max(norm, _TINY)
        for acc, layer in zip(out, update, strict=True):
            acc += wi * factor * np.asarray(layer, dtype=np.float64)
    if noise_std > 0:
        if rng is None:
            raise ParameterError(
                "The 'rng' parameter of norm_bounded_mean must be a numpy Generator when noise_std > 0. Got None instead."
            )
        out = [acc + rng.normal(0.0, noise_std, size=acc.shape) for acc in out]
    return out
