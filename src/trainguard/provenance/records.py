"""The records of a data file, each as canonical bytes, so every record gets its own hash.

CSV, JSONL and Parquet records are encoded as canonical JSON objects (keys sorted,
no insignificant white space, UTF-8): CSV values stay the strings in the file (no
type guessing, so ``1.0`` and ``1`` differ), JSONL lines are parsed and re-encoded,
Parquet rows keep their types. NPZ records are the rows of the arrays that share the
leading dimension, encoded with each array's name, dtype and shape; the other arrays
are hashed whole as entries called ``array:<name>``.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import decimal
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trainguard.core.datasets.files import iter_jsonl
from trainguard.core.errors import DataError

RecordFormat = Literal["csv", "jsonl", "parquet", "npz"]
RECORD_FORMATS: tuple[RecordFormat, ...] = ("csv", "jsonl", "parquet", "npz")
_SUFFIXES: dict[str, RecordFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npz": "npz",
}


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | _dt.timedelta):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode a {type(value).__name__} in a record")


def canonical_record(record: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of one record: sorted keys, compact separators, UTF-8.

    This is the byte string whose SHA-256 a manifest stores for a CSV, JSONL or
    Parquet record, so anyone holding the record can recompute its digest.
    """
    return json.dumps(
        record,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=True,
        default=_json_default,
    ).encode("utf-8")


def record_format(path: str | Path) -> RecordFormat:
    """The record format of a file, from its suffix (Parquet also by its magic bytes)."""
    p = Path(path)
    fmt = _SUFFIXES.get(p.suffix.lower())
    if fmt is None and p.is_file():
        with p.open("rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
    if fmt is None:
        raise DataError(
            f"{p}: cannot tell the record format; expected a .csv, .jsonl, .parquet or .npz file"
        )
    return fmt


def _csv_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(row)} fields, the header {len(header)}"
                )
            yield dict(zip(header, row, strict=True))


def _parquet_records(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=8192):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot be read as Parquet ({exc})") from None


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise DataError(f"{path}: holds arrays that need unpickling ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _array_header(name: str, arr: np.ndarray) -> bytes:
    head = json.dumps([name, arr.dtype.str, list(arr.shape[1:])], separators=(",", ":"))
    return head.encode("utf-8")


def _npz_records(path: Path) -> Iterator[tuple[str, bytes]]:
    arrays = _npz_arrays(path)
    if not arrays:
        return
    n = max((a.shape[0] for a in arrays.values() if a.ndim), default=0)
    rows = sorted(k for k, a in arrays.items() if a.ndim and a.shape[0] == n)
    for name in sorted(set(arrays) - set(rows)):
        arr = np.ascontiguousarray(arrays[name])
        yield f"array:{name}", _array_header(name, arr) + arr.tobytes()
    heads = {k: _array_header(k, arrays[k]) for k in rows}
    contiguous = {k: np.ascontiguousarray(arrays[k]) for k in rows}
    for i in range(n):
        parts = []
        for k in rows:
            body = contiguous[k][i].tobytes()
            parts += [
                struct.pack(">I", len(heads[k])),
                heads[k],
                struct.pack(">Q", len(body)),
                body,
            ]
        yield str(i), b"".join(parts)


def iter_records(
    path: str | Path, fmt: RecordFormat | None = None, *, id_column: str | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(key, canonical bytes)`` for every record of a data file, in file order.

    The key is the 0-based row number, or the value of ``id_column`` when given (CSV,
    JSONL, Parquet). Records are read in a stream (NPZ arrays are loaded whole).

    Raises
    ------
    DataError
        If the file is malformed, or ``id_column`` is missing or repeats a value.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    fmt = fmt or record_format(p)
    if fmt == "npz":
        if id_column is not None:
            raise DataError(f"{p}: 'id_column' is not supported for .npz files")
        yield from _npz_records(p)
        return
    source = {"csv": _csv_records, "jsonl": iter_jsonl, "parquet": _parquet_records}[fmt]
    seen: set[str] = set()
    try:
        for i, rec in enumerate(source(p)):
            if id_column is None:
                key = str(i)
            else:
                if id_column not in rec:
                    raise DataError(f"{p}: record {i} has no id column {id_column!r}")
                key = str(rec[id_column])
                if key in seen:
                    raise DataError(f"{p}: id column {id_column!r} repeats the value {key!r}")
                seen.add(key)
            yield key, canonical_record(rec)
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_record(path: str | Path, key: str, *, id_column: str | None = None) -> bytes:
    """The canonical bytes of the record called ``key`` in a data file."""
    for k, data in iter_records(path, id_column=id_column):
        if k == key:
            return data
    raise DataError(f"{path}: no record {key!r}")
