"""What federation is compared with: each client training alone, and training on the pooled data.

Both baselines use the federated run's model, local SGD recipe and total number of
local epochs (``rounds * local_epochs``), and are scored on the server's test set,
so the gain of federation over the average single institution, and its gap to
centralised training, are measured on equal terms.
"""

from __future__ import annotations

from pydantic import BaseModel

from trainguard.core.datasets import Dataset
from trainguard.core.training import dataset_tensors
from trainguard.federated.config import FederatedConfig
from trainguard.federated.task import (
    FederatedData,
    evaluate_model,
    global_model,
    load_federated_data,
    local_train,
)


class Baselines(BaseModel):
    """Test AUC of each client alone and of centralised training (None where AUC is undefined)."""

    local_auc: list[float | None]
    central_auc: float | None

    @property
    def mean_local_auc(self) -> float | None:
        """Average AUC over the clients that have one."""
        vals = [v for v in self.local_auc if v is not None]
        return sum(vals) / len(vals) if vals else None


def _train_and_score(
    cfg: FederatedConfig, data: FederatedData, rows: Dataset, seed: int
) -> float | None:
    tm = global_model(cfg, data)
    x, y = dataset_tensors(rows, tm.vocab)
    local_train(
        tm.model,
        x,
        y,
        epochs=cfg.train.rounds * cfg.train.local_epochs,
        batch_size=cfg.train.batch_size,
        lr=cfg.train.lr,
        seed=seed,
    )
    tx, ty = dataset_tensors(data.test, tm.vocab)
    return evaluate_model(tm.model, tx, ty)["auc"]


def baselines(cfg: FederatedConfig) -> Baselines:
    """Train the run's model on each client's rows alone and on all training rows; score both."""
    data = load_federated_data(cfg)
    local = [_train_and_score(cfg, data, data.client(i), seed=i) for i in range(len(data.parts))]
    return Baselines(local_auc=local, central_auc=_train_and_score(cfg, data, data.train, seed=0))
