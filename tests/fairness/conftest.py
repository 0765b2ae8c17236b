"""Shared fixtures of the fairness tests: input containers, small seeded data sets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest


def as_list(x: np.ndarray) -> Any:
    return x.tolist()


def as_ndarray(x: np.ndarray) -> Any:
    return np.asarray(x)


def as_series(x: np.ndarray) -> Any:
    return pd.Series(x)


CONTAINERS: list[Callable[[np.ndarray], Any]] = [as_list, as_ndarray, as_series]
"""Input containers, as fairlearn's test/unit/input_convertors.py parametrises them."""


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """Small models train faster on one thread when the machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_case(
    n: int = 600, seed: int = 0, *, groups: tuple[str, ...] = ("a", "b", "c")
) -> dict[str, np.ndarray]:
    """Labels, predictions, two sensitive columns and weights with group-dependent rates."""
    rng = np.random.default_rng(seed)
    g1 = rng.choice(
        np.array(groups), n, p=np.linspace(1, 2, len(groups)) / np.linspace(1, 2, len(groups)).sum()
    )
    g2 = rng.choice(np.array(["x", "y"]), n)
    shift = {g: 0.15 * i for i, g in enumerate(groups)}
    y_true = (rng.random(n) < 0.35 + np.vectorize(shift.get)(g1)).astype(int)
    y_pred = (rng.random(n) < 0.25 + 0.4 * y_true + 0.1 * (g2 == "x")).astype(int)
    weight = rng.uniform(0.2, 3.0, n)
    return {"y_true": y_true, "y_pred": y_pred, "g1": g1, "g2": g2, "weight": weight}


def credit_with_group(n: int = 2000, seed: int = 0) -> Any:
    """Synthetic credit rows (group B disadvantaged in the labels) with the group as a feature."""
    from dataclasses import replace

    from trainguard.core.datasets import make_synthetic_credit

    ds = make_synthetic_credit(n, bias=1.5, seed=seed)
    is_b = (ds.sensitive["group"] == "B").astype(np.float32)[:, None]
    return replace(ds, X=np.hstack([ds.X, is_b]), feature_names=[*ds.feature_names, "group=B"])
