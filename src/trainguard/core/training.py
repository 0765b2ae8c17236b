"""Training and evaluation helpers for the zoo's models (plain PyTorch loops)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainguard.core.datasets import Dataset
from trainguard.core.progress import progress_bar
from trainguard.core.text import Vocabulary
from trainguard.core.validation import check_int, check_positive
from trainguard.core.zoo import (
    build_model,
    default_model_name,
    load_model,
    model_config_for,
    save_model,
)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator (used by layer initialisation) and return a fresh one."""
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def dataset_tensors(
    ds: Dataset, vocab: Vocabulary | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and labels of ``ds`` as tensors (texts encoded with ``vocab``)."""
    if ds.kind == "text":
        if vocab is None or ds.texts is None:
            raise ValueError("text data needs a fitted Vocabulary")
        x = torch.from_numpy(vocab.encode(ds.texts))
    else:
        x = torch.from_numpy(np.ascontiguousarray(ds.X, dtype=np.float32))
    return x, torch.from_numpy(ds.y.astype(np.int64))


def make_loader(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    weights: torch.Tensor | np.ndarray | None = None,
) -> DataLoader[Any]:
    """A DataLoader over ``(x, y)`` or ``(x, y, w)`` when sample weights are given."""
    tensors: list[torch.Tensor] = [x, y]
    if weights is not None:
        tensors.append(torch.as_tensor(np.asarray(weights), dtype=torch.float32))
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=g)


@dataclass
class History:
    """Per-epoch records of a training run (``loss``, ``train_accuracy``, ``val_accuracy``, ...)."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    def last(self, key: str) -> float:
        """The value of ``key`` in the last epoch."""
        return self.epochs[-1][key]

    def series(self, key: str) -> list[float]:
        """The values of ``key`` over the epochs."""
        return [e[key] for e in self.epochs if key in e]


def _batch_loss(
    model: nn.Module, batch: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, y = batch[0], batch[1]
    logits = model(x)
    if len(batch) > 2:
        per = nn.functional.cross_entropy(logits, y, reduction="none")
        w = batch[2]
        loss = (per * w).sum() / w.sum().clamp_min(1e-12)
    else:
        loss = nn.functional.cross_entropy(logits, y)
    return loss, logits, y


def fit(
    model: nn.Module,
    loader: DataLoader[Any],
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: torch.optim.Optimizer | None = None,
    val_loader: DataLoader[Any] | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    description: str = "training",
) -> History:
    """Train ``model`` with cross-entropy (sample-weighted when the loader yields weights).

    Uses Adam unless ``optimizer`` is given. Returns the per-epoch loss and accuracy
    (and validation accuracy with ``val_loader``); ``on_epoch`` sees each record.
    """
    check_int(epochs, "epochs", "fit", low=1)
    check_positive(lr, "lr", "fit")
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = History()
    with progress_bar(description, total=epochs * len(loader)) as bar:
        for epoch in range(epochs):
            model.train()
            total, correct, loss_sum = 0, 0, 0.0
            for batch in loader:
                opt.zero_grad(set_to_none=True)
                loss, logits, y = _batch_loss(model, list(batch))
                loss.backward()
                opt.step()
                total += len(y)
                correct += int((logits.argmax(1) == y).sum())
                loss_sum += float(loss.detach()) * len(y)
                bar.advance()
            record = {
                "epoch": float(epoch + 1),
                "loss": loss_sum / max(total, 1),
                "train_accuracy": correct / max(total, 1),
            }
            if val_loader is not None:
                record["val_accuracy"] = evaluate(model, val_loader)["accuracy"]
            history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(epoch, record)
    model.eval()
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x``, in eval mode, batched."""
    model.eval()
    return (
        torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        if len(x)
        else torch.empty(0)
    )


def predict_proba(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities of ``model`` on ``x`` as a numpy array."""
    return torch.softmax(predict_logits(model, x, batch_size=batch_size), dim=1).numpy()


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader[Any]) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``loader``."""
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for batch in loader:
        x, y = batch[0], batch[1]
        logits = model(x)
        loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    return {"accuracy": correct / max(total, 1), "loss": loss_sum / max(total, 1)}


@dataclass
class TrainedModel:
    """A zoo model with what is needed to rebuild and feed it."""

    model: nn.Module
    name: str
    config: dict[str, Any]
    vocab: Vocabulary | None
    history: History

    def tensors(self, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels of ``ds`` encoded for this model."""
        return dataset_tensors(ds, self.vocab)


def train_model(
    train: Dataset,
    *,
    model_name: str | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    val: Dataset | None = None,
    sample_weight: np.ndarray | None = None,
    model_options: dict[str, Any] | None = None,
) -> TrainedModel:
    """Build the zoo model that suits ``train`` (or ``model_name``) and fit it."""
    tm = new_zoo_model(train, model_name=model_name, seed=seed, model_options=model_options)
    x, y = tm.tensors(train)
    loader = make_loader(
        x, y, batch_size=batch_size, shuffle=True, seed=seed, weights=sample_weight
    )
    val_loader = None
    if val is not None:
        vx, vy = tm.tensors(val)
        val_loader = make_loader(vx, vy, batch_size=1024)
    tm.history = fit(
        tm.model,
        loader,
        epochs=epochs,
        lr=lr,
        val_loader=val_loader,
        description=f"training {tm.name}",
    )
    return tm


def new_zoo_model(
    train: Dataset,
    *,
    model_name: str | None = None,
    seed: int = 0,
    model_options: dict[str, Any] | None = None,
) -> TrainedModel:
    """The untrained zoo model that suits ``train`` (or ``model_name``), seeded, with its vocabulary.

    For training loops other than :func:`fit` (DP-SGD, adversarial training): they
    train ``tm.model`` and set ``tm.history``.
    """
    name = model_name or default_model_name(train)
    seed_everything(seed)
    vocab = Vocabulary().fit(train.texts or []) if train.kind == "text" else None
    config = model_config_for(
        name, train, vocab_size=len(vocab) if vocab else None, **(model_options or {})
    )
    model = build_model(name, **config)
    return TrainedModel(model=model, name=name, config=config, vocab=vocab, history=History())


def save_trained(tm: TrainedModel, path: str | Path) -> Path:
    """Save a trained zoo model (with its vocabulary, for text) as a safe checkpoint."""
    extra = {"vocab": tm.vocab.to_dict()} if tm.vocab is not None else {}
    return save_model(tm.model, path, name=tm.name, config=tm.config, extra=extra)


def load_trained(path: str | Path) -> TrainedModel:
    """Load a checkpoint written by :func:`save_trained` (``weights_only``, never unpickles code)."""
    model, meta = load_model(path)
    vocab_d = meta.get("extra", {}).get("vocab")
    vocab = Vocabulary.from_dict(vocab_d) if vocab_d else None
    return TrainedModel(
        model=model, name=meta["name"], config=meta["config"], vocab=vocab, history=History()
    )
