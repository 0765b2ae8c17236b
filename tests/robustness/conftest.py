"""Small trained models shared by the robustness tests (trained once per session)."""

from __future__ import annotations

import pytest
import torch

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.training import TrainedModel, train_model


@pytest.fixture(scope="session")
def digits_split() -> tuple[Dataset, Dataset]:
    return load_dataset("digits").split(0.2, seed=0)


@pytest.fixture(scope="session")
def digits_mlp(digits_split: tuple[Dataset, Dataset]) -> TrainedModel:
    """An undefended MLP on 8x8 digits (about 95% test accuracy)."""
    train, _ = digits_split
    tm = train_model(train, model_name="mlp", epochs=5, lr=1e-2, batch_size=64, seed=0)
    tm.model.eval()
    return tm


@pytest.fixture(scope="session")
def digits_test(
    digits_split: tuple[Dataset, Dataset], digits_mlp: TrainedModel
) -> tuple[torch.Tensor, torch.Tensor]:
    return digits_mlp.tensors(digits_split[1])
