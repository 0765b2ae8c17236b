"""Tensor-only formats: NumPy ``.npy`` (object arrays carry a pickle) and safetensors.

``.npy`` (NEP 1): magic, version, a little-endian header length, a Python-literal
header dict (``descr``, ``fortran_order``, ``shape``); object arrays store a pickle after
the header, which is walked; plain arrays are only checked for their declared size.

safetensors: an 8-byte little-endian header length *N*, *N* bytes of JSON mapping
tensor names to ``dtype``/``shape``/``data_offsets`` (plus optional string
``__metadata__``), then the byte buffer. The checks follow the reference
implementation's ``Metadata::validate`` (huggingface/safetensors ``safetensors/src/
tensor.rs``): header at most 100,000,000 bytes and inside the file, valid UTF-8 JSON
object starting with ``{``, known dtypes, offsets that tile the buffer from 0 with no
gap or overlap, each span equal to its shape's element count times the dtype size,
and no bytes after the buffer. Duplicate JSON keys are flagged as well (two parsers
may keep different copies).
"""

from __future__ import annotations

import ast
import json
import math
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from trainguard.core.findings import Severity
from trainguard.supplychain.pickle_scan import scan_pickle
from trainguard.supplychain.reader import Source

if TYPE_CHECKING:
    from trainguard.supplychain.scanner import Opener, ScanJob

SAFETENSORS_MAX_HEADER = 100_000_000
_NPY_MAX_HEADER = 10_000  # numpy.lib.format's default max_header_size
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16,
    "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64,
    "U64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


def _npy_header(src: Source) -> tuple[dict[str, Any], int]:
    """Parse the ``.npy`` header; return it and the offset where the data starts."""
    magic = src.read(8)
    major = magic[6]
    if major not in (1, 2, 3):
        raise ValueError(f"unsupported .npy version {major}.{magic[7]}")
    n = struct.unpack("<H" if major == 1 else "<I", src.read(2 if major == 1 else 4))[0]
    if n > _NPY_MAX_HEADER:
        raise ValueError(f"header of {n} bytes exceeds numpy's limit of {_NPY_MAX_HEADER}")
    text = src.read(n).decode("utf-8" if major == 3 else "latin-1")
    header = ast.literal_eval(text)
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError("header must be a dict with keys descr, fortran_order, shape")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"bad shape {shape!r}")
    if not isinstance(header["fortran_order"], bool):
        raise ValueError("fortran_order must be a bool")
    return header, src.tell()


def scan_npy(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    """Check a ``.npy`` header; walk the pickle of an object array."""
    src = open_source()
    try:
        header, start = _npy_header(src)
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        job.sink.add(
            "numpy-header", Severity.HIGH, f"invalid .npy header: {exc}", location=location
        )
        return
    if dtype.hasobject:

        def after_header() -> Source:
            s = open_source()
            s.skip(start)
            return s

        scan_pickle(after_header, job.context(location, depth), count=1)
        return
    need = math.prod(header["shape"]) * dtype.itemsize
    have = src.remaining()
    if have is not None and have != need:
        job.sink.add(
            "numpy-header" if have < need else "trailing-data",
            Severity.MEDIUM if have < need else Severity.LOW,
            f"header declares {need} data bytes, file holds {have}",
            location=location,
        )


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate keys {dup[:3]}")
    return dict(pairs)


def safetensors_problems(header_bytes: bytes, buffer_size: int) -> list[str]:
    """Everything wrong with a safetensors header, given the size of the data buffer.

    Returns an empty list for a valid header.
    """
    if not header_bytes.startswith(b"{"):
        return ["header does not start with '{'"]
    try:
        text = header_bytes.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_pairs_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [f"header is not valid JSON: {exc}"]
    if not isinstance(header, dict):
        return ["header is not a JSON object"]
    problems: list[str] = []
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        problems.append("__metadata__ must map strings to strings")
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if not isinstance(info, dict):
            problems.append(f"{name}: entry is not an object")
            continue
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_BITS:
            problems.append(f"{name}: unknown dtype {dtype!r}")
            continue
        if not (
            isinstance(shape, list)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(v) is int and v >= 0 for v in [*shape, *offsets])
        ):
            problems.append(f"{name}: shape and data_offsets must be non-negative integers")
            continue
        begin, end = offsets
        bits = math.prod(shape) * DTYPE_BITS[dtype]
        if end < begin or bits % 8 or bits // 8 != end - begin:
            problems.append(f"{name}: {end - begin} bytes for {dtype} of shape {shape}")
        spans.append((begin, end, name))
    cursor = 0
    for begin, end, name in sorted(spans):
        if begin != cursor:
            what = "overlaps the previous tensor" if begin < cursor else "leaves a gap"
            problems.append(f"{name}: data at {begin} {what} (expected {cursor})")
        cursor = max(cursor, end)
    if cursor != buffer_size:
        problems.append(f"tensors cover {cursor} bytes of a {buffer_size}-byte buffer")
    return problems


def scan_safetensors(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    """Validate a safetensors header without reading the tensor bytes."""
    src = open_source()
    n = struct.unpack("<Q", src.read(8))[0]
    size = src.remaining()
    limit = min(SAFETENSORS_MAX_HEADER, job.limits.max_json_bytes)
    if n > limit or (size is not None and n > size):
        problems = [f"header length {n} exceeds the file or the {limit}-byte limit"]
    else:
        header = src.read(n)
        left = src.remaining()
        if left is None:  # a decompressed stream: count what is left
            left = 0
            while chunk := src.read_at_most(1 << 20):
                left += len(chunk)
        problems = safetensors_problems(header, left)
    for p in problems[:20]:
        job.sink.add("safetensors-header", Severity.HIGH, p, location=location)
