"""Partitions cover every row once, follow the requested skew, reproduce with a seed, and refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest

from trainguard.core.datasets import make_synthetic_credit
from trainguard.core.errors import DataError, ParameterError
from trainguard.federated.config import PartitionSection
from trainguard.federated.partition import (
    column_partition,
    dirichlet_partition,
    iid_partition,
    partition_dataset,
)


def _covers_once(parts: list[np.ndarray], n: int) -> bool:
    joined = np.concatenate(parts)
    return len(joined) == n and len(np.unique(joined)) == n


def test_iid_parts_are_balanced_and_cover_every_row() -> None:
    parts = iid_partition(103, 4, seed=1)
    assert _covers_once(parts, 103)
    assert sorted(len(p) for p in parts) == [25, 26, 26, 26]
    assert all(
        np.array_equal(a, b) for a, b in zip(parts, iid_partition(103, 4, seed=1), strict=True)
    )


def _label_spread(y: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean total-variation distance between each client's label mix and the global one."""
    glob = np.bincount(y, minlength=2) / len(y)
    return float(
        np.mean([0.5 * np.abs(np.bincount(y[p], minlength=2) / len(p) - glob).sum() for p in parts])
    )


def test_dirichlet_skew_grows_as_alpha_shrinks() -> None:
    y = np.random.default_rng(0).integers(0, 2, size=2000)
    skewed = dirichlet_partition(y, 5, alpha=0.1, min_size=20, seed=0)
    mild = dirichlet_partition(y, 5, alpha=100.0, min_size=20, seed=0)
    assert _covers_once(skewed, 2000) and _covers_once(mild, 2000)
    assert min(len(p) for p in skewed) >= 20
    assert _label_spread(y, skewed) > 0.2 > 0.05 > _label_spread(y, mild)


def test_column_partition_by_institution() -> None:
    ds = make_synthetic_credit(600, n_institutions=4, seed=3)
    parts = partition_dataset(
        ds, PartitionSection(scheme="column", column="institution", num_clients=4)
    )
    assert _covers_once(parts, 600)
    for i, p in enumerate(parts):
        assert set(ds.meta["institution"][p]) == {i}
    by_group, keys = column_partition(ds.sensitive["group"])
    assert keys == ["A", "B"] and _covers_once(by_group, 600)


def test_bad_partitions_are_refused_with_the_reason() -> None:
    ds = make_synthetic_credit(300, n_institutions=3, seed=0)
    with pytest.raises(DataError, match=r"set partition\.num_clients to 3"):
        partition_dataset(
            ds, PartitionSection(scheme="column", column="institution", num_clients=5)
        )
    with pytest.raises(DataError, match="no column 'branch'"):
        partition_dataset(ds, PartitionSection(scheme="column", column="branch", num_clients=3))
    with pytest.raises(DataError, match="cannot give 10 clients 50 rows"):
        dirichlet_partition(ds.y, 10, min_size=50)
    with pytest.raises(ParameterError, match="'alpha' parameter of dirichlet_partition"):
        dirichlet_partition(ds.y, 3, alpha=0.0)
