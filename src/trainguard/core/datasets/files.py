"""Loaders for data sets a user brings: CSV/Parquet tables, NPZ arrays, JSONL text, MNIST IDX."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainguard.core.datasets.base import Dataset, Kind
from trainguard.core.errors import DataError


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    return p


def _encode_labels(values: np.ndarray, source: str, label: str) -> tuple[np.ndarray, list[str]]:
    if len(values) == 0:
        raise DataError(f"{source}: no rows")
    as_str = np.array([str(v).strip() for v in values], dtype=object)
    if any(s in ("", "nan", "None") for s in as_str):
        raise DataError(f"{source}: label column '{label}' has missing values")
    classes, y = np.unique(as_str, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{source}: label column '{label}' has a single class ({classes[0]!r}); need at least 2"
        )
    return y.astype(np.int64), [str(c) for c in classes]


def dataset_from_frame(
    df: object,
    *,
    name: str,
    label: str,
    sensitive: Sequence[str] = (),
    text: str | None = None,
    drop: Sequence[str] = (),
    keep_sensitive_features: bool = True,
) -> Dataset:
    """Turn a pandas DataFrame into a :class:`Dataset`.

    Numeric columns are standardised (missing values take the median); text-like
    columns are one-hot encoded (missing values become the category ``missing``).
    Sensitive columns stay in ``Dataset.sensitive`` as strings and, unless
    ``keep_sensitive_features`` is false, among the features too. With ``text``,
    that column becomes ``Dataset.texts`` and no other column is a feature.
    """
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype("string").str.strip()
    wanted = [label, *sensitive, *([text] if text else []), *drop]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        cols = ", ".join(map(str, df.columns[:30]))
        raise DataError(f"{name}: no column {missing[0]!r}; the columns are: {cols}")
    y, classes = _encode_labels(df[label].to_numpy(), name, label)
    sens = {
        c: df[c].astype("string").fillna("missing").to_numpy(dtype=object).astype(str)
        for c in sensitive
    }
    if text is not None:
        texts = df[text].astype("string").fillna("").tolist()
        return Dataset(
            name=name,
            kind="text",
            X=np.zeros((len(df), 0), np.float32),
            y=y,
            class_names=classes,
            label_name=label,
            texts=[str(t) for t in texts],
            sensitive=sens,
        )
    excluded = {label, *drop}
    if not keep_sensitive_features:
        excluded |= set(sensitive)
    feats = df[[c for c in df.columns if c not in excluded]]
    numeric = [
        c
        for c in feats.columns
        if pd.api.types.is_numeric_dtype(feats[c]) and not pd.api.types.is_bool_dtype(feats[c])
    ]
    categorical = [c for c in feats.columns if c not in numeric]
    parts: list[np.ndarray] = []
    names: list[str] = []
    if numeric:
        num = feats[numeric].astype(float)
        num = num.fillna(num.median())
        arr = num.to_numpy(dtype=np.float64)
        std = arr.std(0)
        std[std == 0] = 1.0
        parts.append((arr - arr.mean(0)) / std)
        names += [str(c) for c in numeric]
    if categorical:
        dummies = pd.get_dummies(
            feats[categorical].astype("string").fillna("missing"), prefix_sep="="
        )
        parts.append(dummies.to_numpy(dtype=np.float64))
        names += [str(c) for c in dummies.columns]
    if not parts:
        raise DataError(
            f"{name}: no feature columns left after removing the label and dropped columns"
        )
    X = np.concatenate(parts, axis=1).astype(np.float32)
    return Dataset(
        name=name,
        kind="tabular",
        X=X,
        y=y,
        class_names=classes,
        feature_names=names,
        label_name=label,
        sensitive=sens,
    )


def load_table(
    path: str | Path,
    *,
    label: str,
    sensitive: Sequence[str] = (),
    text: str | None = None,
    drop: Sequence[str] = (),
    keep_sensitive_features: bool = True,
) -> Dataset:
    """Load a CSV or Parquet file (by content: Parquet files start with ``PAR1``)."""
    import pandas as pd

    p = _existing(path)
    if p.is_dir():
        raise DataError(f"{p}: is a folder; expected a CSV or Parquet file")
    with p.open("rb") as fh:
        magic = fh.read(4)
    try:
        df = pd.read_parquet(p) if magic == b"PAR1" else pd.read_csv(p)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{p}: cannot be read as a {'Parquet' if magic == b'PAR1' else 'CSV'} table ({first})"
        ) from None
    return dataset_from_frame(
        df,
        name=p.stem,
        label=label,
        sensitive=sensitive,
        text=text,
        drop=drop,
        keep_sensitive_features=keep_sensitive_features,
    )


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON object of every non-blank line of a JSON-lines file, streamed."""
    p = _existing(path)
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{p}:{lineno}: expected a JSON object per line")
            yield obj


def load_jsonl(
    path: str | Path, *, text: str = "text", label: str = "label", sensitive: Sequence[str] = ()
) -> Dataset:
    """Load a JSON-lines text data set: one object per line with a text and a label field."""
    import pandas as pd

    p = _existing(path)
    rows = list(iter_jsonl(p))
    return dataset_from_frame(
        pd.DataFrame(rows), name=p.stem, label=label, text=text, sensitive=sensitive
    )


def load_npz(path: str | Path) -> Dataset:
    """Load arrays ``X`` and ``y`` (and optionally ``class_names``) from an ``.npz`` file.

    Object arrays are refused (they would need unpickling). ``X`` of rank 3 or 4 is
    treated as images (``(n, h, w)`` or ``(n, c, h, w)``); uint8 pixels are scaled to [0, 1].
    """
    p = _existing(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise DataError(
            f"{p}: cannot be read without unpickling ({exc}); store plain numeric arrays"
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p}: not a readable .npz file ({exc})") from None
    X = arrays.get("X", arrays.get("x"))
    y = arrays.get("y")
    if X is None or y is None:
        raise DataError(f"{p}: expected arrays 'X' and 'y', found {sorted(arrays)}")
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{p}: 'y' must be 1-D with one label per row of 'X'")
    kind: Kind = "image" if X.ndim in (3, 4) else "tabular"
    Xf = X.astype(np.float32) / (255.0 if X.dtype == np.uint8 else 1.0)
    if X.ndim == 3:
        Xf = Xf[:, None]
    yi, classes = _encode_labels(y, str(p), "y")
    if "class_names" in arrays and len(arrays["class_names"]) == len(classes):
        classes = [str(c) for c in arrays["class_names"]]
    return Dataset(name=p.stem, kind=kind, X=Xf, y=yi, class_names=classes)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (MNIST's format), gzipped or not, with its header checked."""
    p = _existing(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{p}: corrupt gzip stream ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{p}: not an unsigned-byte IDX file (bad magic number)")
    nd = raw[3]
    header = 4 + 4 * nd
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        raise DataError(
            f"{p}: IDX header declares {expected} values but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: expected {stem} or {stem}.gz")


def load_mnist(path: str | Path, *, split: str = "t10k") -> Dataset:
    """Load MNIST from IDX files as ``(n, 1, 28, 28)`` images in [0, 1].

    ``path`` is a folder holding ``<split>-images-idx3-ubyte[.gz]`` and
    ``<split>-labels-idx1-ubyte[.gz]`` (``split`` is ``t10k`` or ``train``).
    """
    folder = _existing(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected the folder holding the MNIST IDX files")
    images = read_idx(_find(folder, f"{split}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{split}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{folder}: image and label files do not match ({images.shape} vs {labels.shape})"
        )
    return Dataset(
        name="mnist",
        kind="image",
        X=(images.astype(np.float32) / 255.0)[:, None],
        y=labels.astype(np.int64),
        class_names=[str(i) for i in range(10)],
        label_name="digit",
    )


ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]


def load_adult(path: str | Path, *, sensitive: Sequence[str] = ("sex", "race")) -> Dataset:
    """Load UCI Adult (``adult.data`` and ``adult.test`` in a folder) as one table.

    The label is ``income`` (``>50K`` or ``<=50K``; the test file's trailing dots are
    removed); ``meta["split"]`` says which file a row came from; ``fnlwgt`` (a census
    sampling weight, not a person's attribute) is dropped.
    """
    import pandas as pd

    folder = _existing(path)
    frames = []
    for split, fname in (("train", "adult.data"), ("test", "adult.test")):
        f = folder / fname
        if not f.is_file():
            raise DataError(f"{folder}: expected {fname}")
        df = pd.read_csv(f, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?", comment="|")
        df = df.dropna(subset=["income"])
        df["income"] = df["income"].astype(str).str.rstrip(".")
        df["_split"] = split
        frames.append(df)
    full = pd.concat(frames, ignore_index=True)
    split_col = full.pop("_split").to_numpy(dtype=str)
    ds = dataset_from_frame(
        full, name="adult", label="income", sensitive=list(sensitive), drop=["fnlwgt"]
    )
    ds.meta["split"] = split_col
    return ds
