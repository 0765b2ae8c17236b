"""Tiny digits CNNs shared by the backdoor tests: one clean, one BadNets-trojaned (target 3).

Everything here is built once per test package: the two models, their Neural Cleanse
results (the unlearning test reuses the trojan's reversed trigger) and their
neuron-stimulation scans. One torch thread: the models are tiny and two threads contend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from trainguard.backdoor import (
    ImageTrigger,
    NeuralCleanseResult,
    PoisonedDataset,
    StimulationResult,
    backdoor_test_set,
    badnets_trigger,
    neural_cleanse,
    neuron_stimulation_scan,
    poison_dataset,
)
from trainguard.core.datasets import Dataset, load_digits_dataset
from trainguard.core.training import fit, make_loader, seed_everything
from trainguard.core.zoo import SmallCNN

TARGET = 3
WIDTH = 8


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
    model = SmallCNN(in_shape=(1, 8, 8), width=WIDTH)
    x = torch.from_numpy(np.ascontiguousarray(ds.X))
    loader = make_loader(x, torch.from_numpy(ds.y), batch_size=32, shuffle=True, seed=seed)
    fit(model, loader, epochs=10, lr=3e-3)
    return model


@pytest.fixture(scope="package")
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="package")
def digits_models(one_torch_thread: None) -> Digits:
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


@pytest.fixture(scope="package")
def nc_results(digits_models: Digits) -> dict[str, NeuralCleanseResult]:
    x = digits_models.x(digits_models.test)
    return {
        "clean": neural_cleanse(digits_models.clean_model, x, steps=300, seed=0),
        "trojan": neural_cleanse(digits_models.trojan_model, x, steps=300, seed=0),
    }


@pytest.fixture(scope="package")
def abs_results(digits_models: Digits) -> dict[str, StimulationResult]:
    x = digits_models.x(digits_models.test)
    return {
        name: neuron_stimulation_scan(model, x, max_mask_size=0.1, steps=100, top_k=3, seed=0)
        for name, model in (
            ("clean", digits_models.clean_model),
            ("trojan", digits_models.trojan_model),
        )
    }
