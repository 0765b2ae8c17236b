"""``load_dataset(spec)``: one entry point for built-in and user data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trainguard.core.datasets.base import Dataset
from trainguard.core.datasets.builtin import (
    load_breast_cancer_dataset,
    load_digits_dataset,
    make_synthetic_credit,
)
from trainguard.core.datasets.files import load_adult, load_jsonl, load_mnist, load_npz, load_table
from trainguard.core.errors import ConfigError, DataError

BUILTIN = ("digits", "breast_cancer", "synthetic-credit")
FOLDER_FORMATS = ("mnist", "adult")


class DatasetSpec(BaseModel):
    """What to load.

    ``source`` is a built-in name (``digits``, ``breast_cancer``, ``synthetic-credit``),
    a folder format with its path (``mnist:DIR``, ``adult:DIR``), or a file path
    (``.csv``, ``.parquet``, ``.npz``, ``.jsonl``). Tables need ``label``; text tables
    need ``text``.
    """

    model_config = ConfigDict(extra="forbid")

    source: str
    label: str | None = None
    sensitive: list[str] = Field(default_factory=list)
    text: str | None = None
    drop: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, gt=0)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)


def _table(spec: DatasetSpec, path: Path) -> Dataset:
    if spec.label is None:
        raise ConfigError(
            f"dataset {path}: 'label' is required for a table (name the label column)"
        )
    return load_table(
        path, label=spec.label, sensitive=spec.sensitive, text=spec.text, drop=spec.drop
    )


def load_dataset(spec: str | DatasetSpec | dict[str, Any]) -> Dataset:
    """Load a data set from a spec string, a :class:`DatasetSpec` or its dict form.

    Examples
    --------
    >>> ds = load_dataset("digits")
    >>> ds.X.shape
    (1797, 1, 8, 8)
    """
    if isinstance(spec, str):
        spec = DatasetSpec(source=spec)
    elif isinstance(spec, dict):
        try:
            spec = DatasetSpec.model_validate(spec)
        except ValueError as exc:
            raise ConfigError(f"dataset: {_first_error(exc)}") from None
    ds = _load(spec)
    if spec.limit is not None:
        ds = ds.head(spec.limit, seed=spec.seed)
    return ds


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        return f"field '{loc}': {e['msg']}"
    return str(exc).splitlines()[0]


def _load(spec: DatasetSpec) -> Dataset:
    src = spec.source
    if src == "digits":
        return load_digits_dataset()
    if src == "breast_cancer":
        return load_breast_cancer_dataset()
    if src == "synthetic-credit":
        opts = dict(spec.options)
        opts.setdefault("seed", spec.seed)
        try:
            return make_synthetic_credit(**opts)
        except TypeError as exc:
            raise ConfigError(f"dataset synthetic-credit: bad option ({exc})") from None
    fmt, sep, rest = src.partition(":")
    if sep and fmt in FOLDER_FORMATS:
        if fmt == "mnist":
            return load_mnist(rest)
        return load_adult(rest, sensitive=spec.sensitive or ("sex", "race"))
    path = Path(src)
    if not path.exists():
        known = ", ".join([*BUILTIN, *(f"{f}:DIR" for f in FOLDER_FORMATS)])
        raise DataError(f"unknown dataset {src!r}: not a file, and not one of {known}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path)
    if suffix in (".jsonl", ".ndjson"):
        return load_jsonl(
            path, text=spec.text or "text", label=spec.label or "label", sensitive=spec.sensitive
        )
    if suffix in (".csv", ".parquet", ".pq", ".tsv", ".txt") or path.is_file():
        return _table(spec, path)
    raise DataError(
        f"{path}: cannot tell the data format; use .csv, .parquet, .npz, .jsonl, or mnist:DIR / adult:DIR"
    )
