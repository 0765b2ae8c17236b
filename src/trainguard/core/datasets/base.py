"""The in-memory data set every capability works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from trainguard.core.errors import DataError, ParameterError

Kind = Literal["tabular", "image", "text"]


@dataclass
class Dataset:
    """Features, labels and metadata of a supervised data set.

    Attributes
    ----------
    X
        ``float32`` features: ``(n, d)`` for tables, ``(n, c, h, w)`` in ``[0, 1]`` for
        images. For text data ``X`` is ``(n, 0)`` and the raw strings are in ``texts``.
    y
        ``int64`` class indices in ``[0, len(class_names))``.
    sensitive
        Per-row sensitive attributes (for fairness), by column name, as strings.
    meta
        Other per-row columns that are not features (institution id, record id).
    """

    name: str
    kind: Kind
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    feature_names: list[str] = field(default_factory=list)
    label_name: str = "label"
    texts: list[str] | None = None
    sensitive: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.X.shape[0] != n:
            raise DataError(f"{self.name}: X has {self.X.shape[0]} rows but y has {n}")
        if self.texts is not None and len(self.texts) != n:
            raise DataError(f"{self.name}: {len(self.texts)} texts for {n} labels")
        for col, values in {**self.sensitive, **self.meta}.items():
            if len(values) != n:
                raise DataError(f"{self.name}: column '{col}' has {len(values)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input (without the batch dimension)."""
        return tuple(self.X.shape[1:])

    def subset(self, index: np.ndarray) -> Dataset:
        """Rows ``index`` (an integer or boolean array) as a new data set."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return replace(
            self,
            X=self.X[idx],
            y=self.y[idx],
            texts=None if self.texts is None else [self.texts[i] for i in idx],
            sensitive={k: v[idx] for k, v in self.sensitive.items()},
            meta={k: v[idx] for k, v in self.meta.items()},
        )

    def split(
        self, test_fraction: float = 0.2, *, seed: int = 0, stratify: bool = True
    ) -> tuple[Dataset, Dataset]:
        """Split into a training and a test set (stratified by label by default)."""
        if not 0.0 < test_fraction < 1.0:
            raise ParameterError(
                f"The 'test_fraction' parameter of Dataset.split must be a float in (0, 1). Got {test_fraction!r} instead."
            )
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(self))
        strat = self.y if stratify and np.bincount(self.y).min() >= 2 else None
        train, test = train_test_split(
            idx, test_size=test_fraction, random_state=seed, stratify=strat
        )
        return self.subset(np.sort(train)), self.subset(np.sort(test))

    def head(self, n: int, *, seed: int | None = None) -> Dataset:
        """The first ``n`` rows, or ``n`` random rows when ``seed`` is given."""
        if n >= len(self):
            return self
        if seed is None:
            return self.subset(np.arange(n))
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), size=n, replace=False)))
