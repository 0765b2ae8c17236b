"""Save and load watermark verification records (JSON; query images as base64 float32)."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from trainguard.core.atomic import atomic_open
from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError
from trainguard.provenance.watermark.image import ImageWatermark
from trainguard.provenance.watermark.text import TextWatermark

SCHEMA = "trainguard.watermark-record/v1"
WatermarkRecord = ImageWatermark | TextWatermark


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "base64": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def _from_array(d: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(d["base64"], validate=True)
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def save_record(record: WatermarkRecord, path: str | Path) -> Path:
    """Write a verification record atomically with owner-only permissions (0600)."""
    d: dict[str, Any] = {"schema": SCHEMA}
    for f in dataclasses.fields(record):
        v = getattr(record, f.name)
        d[f.name] = _array(v) if isinstance(v, np.ndarray) else v
    with atomic_open(path, "w", perms=0o600) as fh:
        json.dump(d, fh, indent=1)
    return Path(path)


def load_record(path: str | Path) -> WatermarkRecord:
    """Read a record written by :func:`save_record`."""
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{p}: cannot read the watermark record ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: not a JSON watermark record ({exc.msg})") from None
    if not isinstance(d, dict) or d.pop("schema", None) != SCHEMA:
        raise DataError(f"{p}: not a trainguard watermark record")
    try:
        if d.get("kind") == "image":
            d["queries"] = _from_array(d["queries"])
            d["query_labels"] = _from_array(d["query_labels"])
            d["shape"] = tuple(d["shape"])
            return ImageWatermark(**d)
        if d.get("kind") == "text":
            return TextWatermark(**d)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{p}: malformed watermark record ({exc})") from None
    raise DataError(f"{p}: unknown watermark kind {d.get('kind')!r}; expected 'image' or 'text'")


def save_marked(ds: Dataset, path: str | Path) -> Path:
    """Write a marked data set in the format of ``path``'s suffix.

    Images go to ``.npz`` (``X``, ``y``, ``class_names``), text to ``.jsonl``
    (``text``, ``label``).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if ds.kind == "text" and ds.texts is not None and suffix == ".jsonl":
        lines = [
            json.dumps({"text": t, "label": ds.class_names[int(y)]}, ensure_ascii=False)
            for t, y in zip(ds.texts, ds.y, strict=True)
        ]
        with atomic_open(p, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return p
    if ds.kind != "text" and suffix == ".npz":
        with atomic_open(p, "wb") as fh:
            np.savez(fh, X=ds.X, y=ds.y, class_names=np.array(ds.class_names))
        return p
    expected = ".jsonl" if ds.kind == "text" else ".npz"
    raise DataError(f"{p}: a marked {ds.kind} data set is written as {expected}")
