"""The model zoo every capability uses: small, plain ``nn.Module``s, Opacus-compatible.

No BatchNorm anywhere (per-sample gradients need layers that treat samples
independently); GroupNorm-free too, to keep the models small and fast on CPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainguard.core.atomic import atomic_open
from trainguard.core.datasets import Dataset
from trainguard.core.errors import ConfigError, ModelError


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer on flattened inputs."""

    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        return self.linear(x.flatten(1))


class MLP(nn.Module):
    """Fully connected network with ReLU hidden layers."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: Sequence[int] = (64, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer."""
        return self.body(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """Two 3x3 conv blocks (16 and 32 channels, max-pool) and a 2-layer classifier head.

    Works for any ``(c, h, w)`` input with ``h`` and ``w`` divisible by 4 (28x28 MNIST,
    8x8 digits). ``features`` returns the penultimate activations, which the
    backdoor detectors and the data-side defences inspect.
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 28, 28),
        n_classes: int = 10,
        width: int = 16,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in in_shape)
        if h % 4 or w % 4:
            raise ModelError(f"SmallCNN needs image sides divisible by 4, got {h}x{w}")
        self.conv = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (after the hidden ReLU)."""
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        return self.head(self.features(x))


class BagOfEmbeddings(nn.Module):
    """Text classifier: mean of token embeddings (padding masked), then an MLP head.

    ``forward`` takes token ids ``(n, L)`` (0 = padding). ``forward_embeddings`` takes
    the embedded tokens and the padding mask, so attacks can work in embedding space.
    """

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 64, hidden: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.fc = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings ``(n, L, dim)`` and the float mask ``(n, L)`` of real tokens."""
        return self.embedding(ids), (ids != 0).float()

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from embedded tokens and their mask."""
        pooled = (emb * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.head(self.fc(pooled))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Return logits for token ids."""
        emb, mask = self.embed(ids)
        return self.forward_embeddings(emb, mask)


ModelFactory = Callable[..., nn.Module]

_REGISTRY: dict[str, ModelFactory] = {
    "logreg": LogisticRegression,
    "mlp": MLP,
    "cnn": SmallCNN,
    "text": BagOfEmbeddings,
}


def register_model(name: str, factory: ModelFactory) -> None:
    """Add a model constructor to the zoo under ``name``."""
    _REGISTRY[name] = factory


def model_names() -> list[str]:
    """Names of the registered models."""
    return sorted(_REGISTRY)


def default_model_name(ds: Dataset) -> str:
    """The zoo model that suits a data set: ``cnn`` for images, ``text`` for text, else ``mlp``."""
    return {"image": "cnn", "text": "text"}.get(ds.kind, "mlp")


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a registered model, else raise :class:`ConfigError` naming them."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; expected one of {', '.join(model_names())}")
    return name


def build_model(name: str, **config: Any) -> nn.Module:
    """Construct zoo model ``name`` with keyword ``config``; clear error for unknown names."""
    factory = _REGISTRY[check_model_name(name)]
    try:
        return factory(**config)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: bad configuration {config} ({exc})") from None


def model_config_for(
    name: str, ds: Dataset, vocab_size: int | None = None, **overrides: Any
) -> dict[str, Any]:
    """The constructor arguments of zoo model ``name`` for data set ``ds``."""
    if name == "cnn":
        if ds.kind != "image":
            raise ConfigError(f"model 'cnn' needs image data; {ds.name} is {ds.kind}")
        cfg: dict[str, Any] = {"in_shape": list(ds.input_shape), "n_classes": ds.n_classes}
    elif name == "text":
        if vocab_size is None:
            raise ConfigError("model 'text' needs a fitted vocabulary (vocab_size)")
        cfg = {"vocab_size": vocab_size, "n_classes": ds.n_classes}
    else:
        if ds.kind == "text":
            raise ConfigError(
                f"model {name!r} needs numeric features; use model 'text' for {ds.name}"
            )
        n_features = 1
        for s in ds.input_shape:
            n_features *= s
        cfg = {"n_features": n_features, "n_classes": ds.n_classes}
    cfg.update(overrides)
    return cfg


def save_model(
    model: nn.Module,
    path: str | Path,
    *,
    name: str,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save a zoo model as a tensors-only checkpoint that loads with ``weights_only=True``.

    The architecture name, its config and ``extra`` (for example a vocabulary) are
    stored as a JSON string, so loading never needs to unpickle Python objects.
    """
    payload = {
        "trainguard_model": json.dumps({"name": name, "config": config, "extra": extra or {}}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)
    return Path(path)


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_model`; return the model and its metadata."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such model file")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
        meta = json.loads(payload["trainguard_model"])
        model = build_model(meta["name"], **meta["config"])
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, EOFError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{p}: not a trainguard model checkpoint ({first})") from None
    model.eval()
    return model, meta
