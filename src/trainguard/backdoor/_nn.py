"""PyTorch helpers the backdoor detectors share: activations, layers, batches, MAD."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from trainguard.core.errors import DataError, ModelError

MAD_CONSISTENCY = 1.4826
"""Consistency constant that makes the MAD estimate the standard deviation of a normal."""


def anomaly_index(values: np.ndarray) -> np.ndarray:
    """``|v - median| / (1.4826 * MAD)`` for each value (Wang et al. 2019, Section IV-C)."""
    v = np.asarray(values, dtype=np.float64)
    med = np.median(v)
    mad = MAD_CONSISTENCY * np.median(np.abs(v - med))
    return np.abs(v - med) / max(mad, 1e-12)


def check_images(x: torch.Tensor, owner: str, *, min_rows: int = 1) -> torch.Tensor:
    """Return ``x`` as a float tensor ``(n, c, h, w)`` after checking its shape."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 4:
        raise DataError(f"{owner}: expected images (n, c, h, w), got shape {tuple(x.shape)}")
    if len(x) < min_rows:
        raise DataError(f"{owner}: needs at least {min_rows} clean images, got {len(x)}")
    return x


@torch.no_grad()
def penultimate(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> np.ndarray:
    """Penultimate activations ``model.features(x)`` as a numpy array ``(n, d)``."""
    feats = getattr(model, "features", None)
    if not callable(feats):
        raise ModelError(
            f"{type(model).__name__} has no features() method; use a zoo model (SmallCNN, MLP)"
        )
    model.eval()
    out = [feats(x[i : i + batch_size]).flatten(1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def stimulation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The inner layers whose neurons the stimulation scan inspects, with their names.

    The output of every convolution block (each ``nn.MaxPool2d``; its channels are the
    neurons, as in ABS), or, for a network without convolutions, every hidden ``ReLU``.
    """
    named: list[tuple[str, nn.Module]] = list(model.named_modules())
    pools: list[tuple[str, nn.Module]] = [(n, m) for n, m in named if isinstance(m, nn.MaxPool2d)]
    if pools:
        return pools
    relus: list[tuple[str, nn.Module]] = [(n, m) for n, m in named if isinstance(m, nn.ReLU)]
    if relus:
        return relus
    raise ModelError(
        f"{type(model).__name__}: no pooling or ReLU layer to stimulate; pass layers= explicitly"
    )


def last_conv(model: nn.Module) -> nn.Conv2d:
    """The last ``nn.Conv2d`` of ``model`` (Fine-Pruning prunes its channels)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ModelError(f"{type(model).__name__} has no convolution layer to prune")
    return convs[-1]


@torch.no_grad()
def layer_activations(
    model: nn.Module, layer: nn.Module, x: torch.Tensor, *, batch_size: int = 512
) -> torch.Tensor:
    """Outputs of ``layer`` when ``model`` runs on ``x`` (captured with a forward hook)."""
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        captured.append(out.detach())

    handle = layer.register_forward_hook(hook)
    try:
        model.eval()
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size])
    finally:
        handle.remove()
    return torch.cat(captured)


def replace_output(
    layer: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]
) -> Callable[[], None]:
    """Make ``layer`` return ``fn(output)``; returns the function that undoes it."""

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> torch.Tensor:
        return fn(out)

    return layer.register_forward_hook(hook).remove


def minibatches(
    n: int, batch_size: int, steps: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """``steps`` index batches drawn from ``range(n)`` without replacement within each."""
    b = min(batch_size, n)
    for _ in range(steps):
        yield torch.randperm(n, generator=generator)[:b]


def generator(seed: int) -> torch.Generator:
    """A seeded CPU generator."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g
