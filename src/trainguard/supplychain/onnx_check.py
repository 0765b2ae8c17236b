"""ONNX models: external-data paths that escape the model's folder.

A tensor stored outside the model names its file in ``external_data`` (key
``location``); a loader joins it to the model's folder and reads it into the tensor,
so ``../../home/user/.ssh/id_rsa`` or an absolute path exfiltrates a file through the
model's weights (CVE-2022-25882, CVE-2024-27318 in the ``onnx`` package).

The model is walked as raw protobuf wire format (tag, varint, length-delimited) along
the schema paths that can hold tensors — graph initializers, sparse initializers,
node attributes (``t``, ``tensors``, ``sparse_tensor``), subgraphs (``g``, ``graphs``),
training graphs and function bodies — and ``raw_data`` payloads are skipped, not read,
so memory stays small for multi-gigabyte models. Field numbers are from
``onnx/onnx.proto3``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from trainguard.core.findings import Severity
from trainguard.supplychain.reader import ScanAborted, Source

if TYPE_CHECKING:
    from trainguard.supplychain.scanner import Opener, ScanJob

# message -> {field number: child message}; other fields are skipped.
_SCHEMA: dict[str, dict[int, str]] = {
    "model": {7: "graph", 20: "training", 25: "function"},
    "training": {1: "graph", 2: "graph"},
    "function": {7: "node"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {13: "entry"},
    "entry": {},
}
_MAX_NESTING = 100
_MAX_PATH = 4096


def _varint(src: Source) -> int:
    result = shift = 0
    while True:
        b = src.read(1)[0]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ScanAborted("protobuf varint longer than 10 bytes")


def _walk(src: Source, end: int, kind: str, depth: int, out: list[dict[str, str]]) -> None:
    """Walk one message ending at ``end``; append each tensor's external-data entries."""
    if depth > _MAX_NESTING:
        raise ScanAborted(f"protobuf nested more than {_MAX_NESTING} levels")
    children = _SCHEMA[kind]
    entries: dict[str, str] = {}
    while src.tell() < end:
        key = _varint(src)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _varint(src)
        elif wire == 1:
            src.skip(8)
        elif wire == 5:
            src.skip(4)
        elif wire == 2:
            n = _varint(src)
            if src.tell() + n > end:
                raise ScanAborted(f"protobuf field {field} overruns its message")
            if kind == "entry" and field in (1, 2):
                text = src.read(min(n, _MAX_PATH + 1)).decode("utf-8", "replace")
                src.skip(n - min(n, _MAX_PATH + 1))
                entries["key" if field == 1 else "value"] = text
            elif field in children:
                if kind == "model":
                    out.append({"graph": "seen"})
                child: list[dict[str, str]] = []
                _walk(src, src.tell() + n, children[field], depth + 1, child)
                if kind == "tensor":
                    entries.update({c["key"]: c.get("value", "") for c in child if "key" in c})
                else:
                    out.extend(child)
            else:
                src.skip(n)
        else:
            raise ScanAborted(f"protobuf wire type {wire} is not used by ONNX")
    if kind in ("entry", "tensor") and entries:
        out.append(entries)


def path_problem(location: str, base: Path | None) -> str | None:
    """Why an external-data ``location`` is unsafe (``None`` when it stays inside ``base``)."""
    if not location or "\x00" in location:
        return "empty or NUL-containing path"
    if len(location) > _MAX_PATH:
        return f"path longer than {_MAX_PATH} characters"
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute():
        return "absolute path"
    if PureWindowsPath(location).drive or location.startswith("\\"):
        return "drive or UNC path"
    parts = PureWindowsPath(location).parts
    if ".." in parts:
        return "path climbs out with '..'"
    if base is not None:
        target = (base / location).resolve()
        if not target.is_relative_to(base.resolve()):
            return "resolves (through a link) outside the model folder"
    return None


def scan_onnx(job: ScanJob, open_source: Opener, location: str, depth: int) -> bool:
    """Check every external-data path of an ONNX model."""
    src = open_source()
    size = src.remaining()
    if size is None:
        job.unscannable(location, "ONNX model inside a compressed stream")
        return True
    out: list[dict[str, str]] = []
    try:
        _walk(src, size, "model", 0, out)
    except ScanAborted as exc:
        if not out:  # content detection is a guess for protobuf: not an ONNX model
            return False
        job.unscannable(location, f"onnx: {exc}")  # it had a graph but could not be finished
        return True
    entries = [e for e in out if "location" in e]
    top_level = location == str(job.path)
    base = job.path.parent if top_level else None
    for e in entries:
        why = path_problem(e["location"], base)
        if why is not None:
            job.sink.add(
                "onnx-external-data",
                Severity.HIGH,
                f"tensor data at {e['location']!r}: {why}",
                location=location,
            )
        elif base is not None and not os.path.exists(base / e["location"]):
            job.sink.add(
                "onnx-external-data",
                Severity.LOW,
                f"external data file {e['location']!r} is missing",
                location=location,
            )
    return True
