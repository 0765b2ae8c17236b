"""Input conversion: labels to booleans, sensitive features to integer group codes.

Every public metric accepts lists, tuples, numpy arrays and pandas Series (and a
one-column DataFrame for labels). Sensitive features may also be a 2-D array, a
DataFrame or a ``{name: values}`` mapping; several columns define intersectional
groups (every observed combination of their values is one group).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainguard.core.errors import DataError, ParameterError


def as_1d(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D numpy array (a column vector or one-column frame is squeezed)."""
    if values is None:
        raise ParameterError(f"The '{name}' parameter must be an array-like. Got None instead.")
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataError(f"{name}: expected one column, got {values.shape[1]}")
        values = values.iloc[:, 0]
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    return arr


def check_length(arr: np.ndarray, n: int, name: str, reference: str = "y_true") -> None:
    """Raise :class:`DataError` unless ``arr`` has ``n`` rows."""
    if len(arr) != n:
        raise DataError(f"{name} has {len(arr)} rows but {reference} has {n}")


def binary_labels(values: Any, name: str, pos_label: object = None) -> np.ndarray:
    """Boolean "is positive" array of binary labels ``values``.

    With ``pos_label=None`` the values must be booleans or come from ``{0, 1}`` or
    ``{-1, 1}`` (1 is positive), as in fairlearn; otherwise every value that is not
    ``pos_label`` must be one and the same other value.
    """
    arr = as_1d(values, name)
    if len(arr) == 0:
        raise DataError(f"{name}: no rows")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise DataError(f"{name}: has missing values (NaN at row {int(np.argmax(np.isnan(arr)))})")
    if arr.dtype == bool:
        return arr if pos_label in (None, True, 1) else ~arr
    if pos_label is None:
        ok = (arr == 1) | (arr == 0) | (arr == -1)
        if arr.dtype.kind in "iuf" and ok.all() and not ((arr == 0).any() and (arr == -1).any()):
            return np.asarray(arr == 1)
        raise DataError(
            f"{name}: labels must be binary from {{0, 1}} or {{-1, 1}} when pos_label is not "
            f"given; found values {_some_values(arr)}"
        )
    pos = np.asarray(arr == pos_label)
    rest = arr[~pos]
    if len(rest) and not np.all(rest == rest[0]):
        raise DataError(
            f"{name}: labels must be binary (pos_label={pos_label!r} and one other value); "
            f"found values {_some_values(arr)}"
        )
    return pos


def _some_values(arr: np.ndarray, limit: int = 6) -> str:
    uniq = pd.unique(arr[:100_000])
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in uniq[:limit])
    return shown + (", ..." if len(uniq) > limit else "")


def check_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """Sample weights as float64 (finite, non-negative, ``n`` rows), or ``None``."""
    if sample_weight is None:
        return None
    w = as_1d(sample_weight, "sample_weight").astype(np.float64)
    check_length(w, n, "sample_weight")
    if not np.isfinite(w).all() or (w < 0).any():
        raise DataError("sample_weight: weights must be finite and non-negative")
    return w


@dataclass(frozen=True)
class Groups:
    """Integer group codes of each row and the observed groups they index.

    ``labels[i]`` is the tuple of sensitive-feature values of group ``i`` (one value
    per feature); groups are sorted by these values, as in fairlearn's MetricFrame.
    """

    codes: np.ndarray
    labels: tuple[tuple[Any, ...], ...]
    feature_names: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        """Number of observed groups."""
        return len(self.labels)

    def name(self, i: int) -> str:
        """Readable name of group ``i``: ``"Female"`` or ``"Female x Black"``."""
        return " x ".join(str(v) for v in self.labels[i])

    def names(self) -> list[str]:
        """Readable names of all groups, in order."""
        return [self.name(i) for i in range(self.n_groups)]

    def index(self, label: object) -> int:
        """Position of a group given by its value (a tuple for several features) or name."""
        if isinstance(label, str) and label in (names := self.names()):
            return names.index(label)
        key = label if isinstance(label, tuple) else (label,)
        for i, lab in enumerate(self.labels):
            if tuple(str(v) for v in lab) == tuple(str(v) for v in key):
                return i
        raise DataError(
            f"group {label!r} does not occur in the sensitive features; "
            f"the groups are: {', '.join(self.names()[:20])}"
        )


def _columns(sensitive_features: Any) -> list[tuple[str, Any]]:
    if isinstance(sensitive_features, Mapping):
        return [(str(k), v) for k, v in sensitive_features.items()]
    if isinstance(sensitive_features, pd.DataFrame):
        return [(str(c), sensitive_features[c]) for c in sensitive_features.columns]
    if isinstance(sensitive_features, pd.Series):
        name = sensitive_features.name
        return [(str(name) if name is not None else "sensitive_feature_0", sensitive_features)]
    if sensitive_features is None:
        raise ParameterError(
            "The 'sensitive_features' parameter must be an array-like. Got None instead."
        )
    arr = np.asarray(sensitive_features)
    if arr.ndim == 1:
        return [("sensitive_feature_0", arr)]
    if arr.ndim == 2:
        return [(f"sensitive_feature_{j}", arr[:, j]) for j in range(arr.shape[1])]
    raise DataError(f"sensitive_features: expected 1-D or 2-D values, got shape {arr.shape}")


def encode_groups(sensitive_features: Any, n: int) -> Groups:
    """Factorise one or more sensitive features into sorted intersectional group codes."""
    cols = _columns(sensitive_features)
    if not cols:
        raise DataError("sensitive_features: no columns given")
    codes_per: list[np.ndarray] = []
    uniques_per: list[list[Any]] = []
    for name, values in cols:
        vals = (
            values
            if isinstance(values, pd.Series)
            else as_1d(values, f"sensitive feature {name!r}")
        )
        check_length(np.empty(len(vals)), n, f"sensitive feature {name!r}")
        codes, uniques = pd.factorize(vals, sort=True)
        if (codes < 0).any():
            row = int(np.argmax(codes < 0))
            raise DataError(f"sensitive feature {name!r}: has missing values (row {row})")
        codes_per.append(codes.astype(np.int64))
        uniques_per.append(list(np.asarray(uniques).tolist()))
    sizes = [len(u) for u in uniques_per]
    combined = np.zeros(n, dtype=np.int64)
    for codes, size in zip(codes_per, sizes, strict=True):
        combined = combined * size + codes
    total = int(np.prod(sizes, dtype=np.float64))
    if total <= max(4 * n, 1024):
        present = np.flatnonzero(np.bincount(combined, minlength=total))
        lookup = np.full(total, -1, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        compact = lookup[combined]
    else:
        present, compact = np.unique(combined, return_inverse=True)
    parts = np.unravel_index(present, sizes)
    labels = tuple(
        tuple(uniques_per[j][int(parts[j][i])] for j in range(len(cols)))
        for i in range(len(present))
    )
    return Groups(
        codes=np.asarray(compact, dtype=np.int64),
        labels=labels,
        feature_names=tuple(name for name, _ in cols),
    )


def attribute_slug(name: str) -> str:
    """Finding-id form of an attribute name: ``"sex x race"`` becomes ``"sexxrace"``."""
    return "x".join(part.strip() for part in name.split(" x ")).replace(" ", "-")


def attribute_sets(names: Sequence[str], *, intersection: bool = True) -> list[list[str]]:
    """Each attribute alone and, for several, all of them together (their intersection)."""
    sets = [[n] for n in names]
    if intersection and len(names) > 1:
        sets.append(list(names))
    return sets
