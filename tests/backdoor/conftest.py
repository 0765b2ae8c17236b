"""Tiny digits CNNs shared by the backdoor tests: one clean, one BadNets-trojaned (target 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from trainguard.backdoor import (
    ImageTrigger,
    PoisonedDataset,
    backdoor_test_set,
    badnets_trigger,
    poison_dataset,
)
from trainguard.core.datasets import Dataset, load_digits_dataset
from trainguard.core.training import fit, make_loader, seed_everything
from trainguard.core.zoo import SmallCNN

TARGET = 3


@dataclass
class Digits:
    train: Dataset
    test: Dataset
    trigger: ImageTrigger
    poisoned: PoisonedDataset
    clean_model: nn.Module
    trojan_model: nn.Module

    def x(self, ds: Dataset) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(ds.X))

    def y(self, ds: Dataset) -> torch.Tensor:
        return torch.from_numpy(ds.y)

    def triggered(self) -> tuple[torch.Tensor, torch.Tensor]:
        bt = backdoor_test_set(self.test, self.trigger, target=TARGET)
        return self.x(bt), self.y(bt)


def _train(ds: Dataset, seed: int) -> nn.Module:
    seed_everything(seed)
    model = SmallCNN(in_shape=(1, 8, 8))
    x = torch.from_numpy(np.ascontiguousarray(ds.X))
    loader = make_loader(x, torch.from_numpy(ds.y), batch_size=32, shuffle=True, seed=seed)
    fit(model, loader, epochs=15, lr=3e-3)
    return model


@pytest.fixture(scope="session")
def digits_models() -> Digits:
    train, test = load_digits_dataset().split(0.25, seed=0)
    trigger = badnets_trigger((1, 8, 8), size=3, position=(5, 5), seed=0)
    poisoned = poison_dataset(train, trigger, rate=0.1, target=TARGET, seed=0)
    return Digits(
        train=train,
        test=test,
        trigger=trigger,
        poisoned=poisoned,
        clean_model=_train(train, seed=1),
        trojan_model=_train(poisoned.dataset, seed=2),
    )
