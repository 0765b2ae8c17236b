"""What every party computes: the shared data split, the zoo model, local SGD (FedProx) and evaluation.

Clients and the server rebuild the same split from the config (same seed), so
no raw rows travel; in a deployment each SuperNode only ever touches its own part.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.training import TrainedModel, make_loader, new_zoo_model
from trainguard.core.validation import check_int, check_positive, check_real
from trainguard.federated.config import DataSection, FederatedConfig, PartitionSection
from trainguard.federated.partition import partition_dataset

Weights = list[np.ndarray]


@dataclass(frozen=True)
class FederatedData:
    """The server's test set and the clients' training parts (row indices into ``train``)."""

    train: Dataset
    test: Dataset
    parts: list[np.ndarray]

    def client(self, partition_id: int) -> Dataset:
        """The training rows of client ``partition_id``."""
        return self.train.subset(self.parts[partition_id])

    @property
    def sizes(self) -> list[int]:
        """Rows per client."""
        return [len(p) for p in self.parts]


@functools.lru_cache(maxsize=4)
def _load(data_json: str, partition_json: str) -> FederatedData:
    data = DataSection.model_validate_json(data_json)
    part = PartitionSection.model_validate_json(partition_json)
    spec = data.model_dump(exclude={"test_fraction"})
    train, test = load_dataset(spec).split(data.test_fraction, seed=data.seed)
    return FederatedData(train=train, test=test, parts=partition_dataset(train, part))


def load_federated_data(cfg: FederatedConfig) -> FederatedData:
    """Load ``cfg.data``, hold out the server's test rows and partition the rest (cached per process)."""
    return _load(cfg.data.model_dump_json(), cfg.partition.model_dump_json())


def global_model(cfg: FederatedConfig, data: FederatedData) -> TrainedModel:
    """The initial global zoo model for ``cfg`` (seeded with ``cfg.train.seed``)."""
    return new_zoo_model(
        data.train,
        model_name=cfg.model.name,
        seed=cfg.train.seed,
        model_options=cfg.model.options,
    )


def get_weights(model: nn.Module) -> Weights:
    """The model's ``state_dict`` values as numpy arrays, in key order."""
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def set_weights(model: nn.Module, weights: Weights) -> None:
    """Load numpy arrays (in ``state_dict`` key order) into ``model``."""
    keys = list(model.state_dict().keys())
    model.load_state_dict(
        {k: torch.from_numpy(np.asarray(w)) for k, w in zip(keys, weights, strict=True)}
    )


def local_train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 0.05,
    proximal_mu: float = 0.0,
    seed: int = 0,
) -> float:
    """Local SGD on ``(x, y)`` from the current weights; return the mean training loss.

    With ``proximal_mu > 0`` the loss gets FedProx's proximal term
    ``mu / 2 * ||w - w_global||^2`` (Li et al. 2020, "Federated optimization in
    heterogeneous networks", Eq. 2), ``w_global`` being the weights on entry.
    """
    check_int(epochs, "epochs", "local_train", low=1)
    check_positive(lr, "lr", "local_train")
    check_real(proximal_mu, "proximal_mu", "local_train", low=0.0)
    anchor = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loader = make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    model.train()
    total, loss_sum = 0, 0.0
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xb), yb)
            if proximal_mu > 0:
                prox = sum(
                    ((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True)
                )
                loss = loss + 0.5 * proximal_mu * prox
            loss.backward()
            opt.step()
            total += len(yb)
            loss_sum += float(loss.detach()) * len(yb)
    model.eval()
    return loss_sum / max(total, 1)


def roc_auc(y: np.ndarray, proba: np.ndarray) -> float | None:
    """ROC AUC of class probabilities: binary on class 1, else one-vs-rest macro; None if undefined."""
    from sklearn.metrics import roc_auc_score

    present = np.unique(y)
    if len(present) < 2:
        return None
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    if len(present) < proba.shape[1]:
        return None
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro"))


@torch.no_grad()
def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float | None]:
    """Accuracy, mean cross-entropy and ROC AUC of ``model`` on ``(x, y)``."""
    model.eval()
    logits = torch.cat([model(x[i : i + 2048]) for i in range(0, len(x), 2048)])
    loss = float(nn.functional.cross_entropy(logits, y))
    proba = torch.softmax(logits, dim=1).numpy()
    y_np = y.numpy()
    return {
        "accuracy": float((proba.argmax(1) == y_np).mean()),
        "loss": loss,
        "auc": roc_auc(y_np, proba),
    }
