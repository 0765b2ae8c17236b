"""Splitting a data set over federated clients: IID, by a column (institution), Dirichlet over labels.

Every function returns one sorted index array per client; together they cover
each row exactly once (Dirichlet and IID) or every row whose column value names a
client (by column).
"""

from __future__ import annotations

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError
from trainguard.core.validation import check_int, check_positive
from trainguard.federated.config import PartitionSection


def iid_partition(n_rows: int, n_clients: int, *, seed: int = 0) -> list[np.ndarray]:
    """Shuffle ``n_rows`` indices with ``seed`` and cut them into ``n_clients`` near-equal parts."""
    check_int(n_clients, "n_clients", "iid_partition", low=1)
    check_int(n_rows, "n_rows", "iid_partition", low=n_clients)
    perm = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(part) for part in np.array_split(perm, n_clients)]


def column_partition(values: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """One client per distinct value of ``values`` (sorted); returns the parts and the values."""
    arr = np.asarray(values)
    keys = np.unique(arr)
    return [np.flatnonzero(arr == k) for k in keys], [str(k) for k in keys]


def dirichlet_partition(
    y: np.ndarray,
    n_clients: int,
    *,
    alpha: float = 0.5,
    min_size: int = 10,
    seed: int = 0,
    max_tries: int = 100,
) -> list[np.ndarray]:
    """Label-skewed split: for each class, client shares are drawn from Dirichlet(``alpha``).

    The rows of every class are shuffled and cut at the drawn proportions, the
    scheme of Hsu, Qi and Brown (2019), "Measuring the effects of non-identical
    data distribution for federated visual classification". Draws repeat (up to
    ``max_tries``) until every client holds at least ``min_size`` rows, as in
    Yurochkin et al. (2019).
    """
    check_int(n_clients, "n_clients", "dirichlet_partition", low=1)
    check_positive(alpha, "alpha", "dirichlet_partition")
    check_int(min_size, "min_size", "dirichlet_partition", low=0)
    labels = np.asarray(y)
    if len(labels) < n_clients * min_size:
        raise DataError(
            f"dirichlet_partition: {len(labels)} rows cannot give {n_clients} clients {min_size} rows each"
        )
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        parts: list[list[int]] = [[] for _ in range(n_clients)]
        for c in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == c))
            shares = rng.dirichlet(np.full(n_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
            for client, chunk in enumerate(np.split(rows, cuts)):
                parts[client].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise DataError(
        f"dirichlet_partition: no draw in {max_tries} gave every client {min_size} rows; "
        "raise alpha or lower min_size"
    )


def _column_values(ds: Dataset, column: str) -> np.ndarray:
    if column in ds.meta:
        return ds.meta[column]
    if column in ds.sensitive:
        return ds.sensitive[column]
    if column in ds.feature_names:
        return ds.X[:, ds.feature_names.index(column)]
    known = sorted([*ds.meta, *ds.sensitive])
    raise DataError(
        f"{ds.name}: no column {column!r} to partition by; expected one of {', '.join(known) or 'none'}"
    )


def partition_dataset(ds: Dataset, cfg: PartitionSection) -> list[np.ndarray]:
    """Index arrays, one per client, for ``ds`` under the partition config ``cfg``."""
    n = cfg.num_clients
    if cfg.scheme == "iid":
        return iid_partition(len(ds), n, seed=cfg.seed)
    if cfg.scheme == "dirichlet":
        return dirichlet_partition(ds.y, n, alpha=cfg.alpha, min_size=cfg.min_size, seed=cfg.seed)
    parts, keys = column_partition(_column_values(ds, str(cfg.column)))
    if len(parts) != n:
        raise DataError(
            f"{ds.name}: column {cfg.column!r} has {len(parts)} values ({', '.join(keys[:10])}); "
            f"set partition.num_clients to {len(parts)}"
        )
    return parts
