"""Keras model configs: Lambda layers (serialised bytecode) and objects from other modules.

A ``.keras`` archive (Keras 3) keeps the architecture in ``config.json``; a legacy
``.h5`` file keeps it in the root attribute ``model_config``. Both are JSON, read and
walked here without importing Keras:

* a ``Lambda`` layer whose function is marshalled bytecode (Keras 3
  ``{"class_name": "__lambda__"}``, Keras 2 ``"function_type": "lambda"``) runs that
  code when the model is built (CVE-2024-3660 for Keras < 2.13) -> *critical*;
* a ``Lambda`` that names a Python function, and any object whose ``module`` lies
  outside Keras (Keras 3 imports it while deserialising; CVE-2025-1550) -> *high*, or
  *critical* for known-dangerous modules and for Keras functions that lift the safe
  mode or fetch files (``keras.config.enable_unsafe_deserialization``,
  ``keras.utils.get_file``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.core.findings import Severity
from trainguard.supplychain.allowlist import is_dangerous
from trainguard.supplychain.reader import ScanAborted

if TYPE_CHECKING:
    from trainguard.supplychain.scanner import Opener, ScanJob

_KERAS_MODULES = ("keras", "tensorflow.keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")
_RISKY_KERAS = frozenset({"enable_unsafe_deserialization", "get_file", "load_model"})
_MAX_NODES = 1_000_000

Issue = tuple[str, Severity, str]


def _lambda_issue(node: dict[str, Any]) -> Issue:
    cfg = node.get("config") if isinstance(node.get("config"), dict) else {}
    assert isinstance(cfg, dict)
    name = cfg.get("name", "?")
    fn = cfg.get("function")
    if cfg.get("function_type") == "lambda" or isinstance(fn, list | str):
        return (
            "keras-lambda",
            Severity.CRITICAL,
            f"Lambda layer {name!r} holds marshalled bytecode",
        )
    if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
        return (
            "keras-lambda",
            Severity.CRITICAL,
            f"Lambda layer {name!r} holds marshalled bytecode",
        )
    target = fn.get("config") if isinstance(fn, dict) else fn
    module = fn.get("module", "?") if isinstance(fn, dict) else cfg.get("module", "?")
    return ("keras-lambda", Severity.HIGH, f"Lambda layer {name!r} calls {module}.{target}")


def _object_issue(node: dict[str, Any]) -> Issue | None:
    module, cls = node.get("module"), node.get("class_name")
    if not isinstance(module, str) or not isinstance(cls, str):
        return None
    target = (
        node.get("config") if cls == "function" and isinstance(node.get("config"), str) else cls
    )
    target = str(target)
    if is_dangerous(module, target) or (
        module.startswith(_KERAS_MODULES) and target in _RISKY_KERAS
    ):
        return ("keras-custom-object", Severity.CRITICAL, f"config loads {module}.{target}")
    if module.split(".")[0] not in {m.split(".")[0] for m in _KERAS_MODULES}:
        return (
            "keras-custom-object",
            Severity.HIGH,
            f"config loads {module}.{target} (outside Keras)",
        )
    return None


def keras_config_issues(config: object) -> list[Issue]:
    """Issues in a parsed Keras model config (Keras 2 or 3 layout)."""
    issues: list[Issue] = []
    stack: list[object] = [config]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            issues.append(
                ("unscannable", Severity.HIGH, f"config has more than {_MAX_NODES} nodes")
            )
            break
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            cls = node.get("class_name")
            if cls == "Lambda" or (isinstance(cls, str) and cls.endswith(">Lambda")):
                issues.append(_lambda_issue(node))
            elif cls == "__lambda__":
                issues.append(("keras-lambda", Severity.CRITICAL, "serialised __lambda__ bytecode"))
            elif cls == "TFOpLambda":
                issues.append(("keras-lambda", Severity.MEDIUM, "TFOpLambda layer calls TF ops"))
            found = _object_issue(node)
            if found is not None:
                issues.append(found)
            stack.extend(node.values())
    return issues


def _report(job: ScanJob, location: str, text: bytes | str) -> None:
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        job.unscannable(location, f"Keras config is not valid JSON: {exc}")
        return
    for check_id, severity, message in dict.fromkeys(keras_config_issues(config)):
        job.sink.add(check_id, severity, message, location=location)


def scan_keras_config(job: ScanJob, open_source: Opener, location: str) -> None:
    """Scan the ``config.json`` member of a ``.keras`` archive."""
    src = open_source()
    text = src.read_at_most(job.limits.max_json_bytes + 1)
    if len(text) > job.limits.max_json_bytes:
        raise ScanAborted(f"Keras config larger than {job.limits.max_json_bytes} bytes")
    _report(job, location, text)


# Runs in a child process: the HDF5 C library can crash on a hostile file (found by
# fuzzing), which must not take the scanner down with it.
_H5_CHILD = """
import json, sys
import h5py
with h5py.File(sys.argv[1], "r") as h5:
    raw = h5.attrs.get("model_config")
if isinstance(raw, bytes):
    raw = raw.decode("utf-8", "replace")
text = None if raw is None else str(raw)
if text is not None and len(text) > int(sys.argv[2]):
    sys.exit("model_config larger than the JSON limit")
sys.stdout.write(json.dumps({"model_config": text}))
"""
_NESTED_H5_LIMIT = 64 << 20


def _h5_path(job: ScanJob, open_source: Opener, location: str, tmp: Path) -> Path | None:
    """The top-level file itself, or a bounded copy of an archive member."""
    if location == str(job.path):
        return job.path
    src = open_source()
    data = src.read_at_most(_NESTED_H5_LIMIT + 1)
    if len(data) > _NESTED_H5_LIMIT:
        return None  # Keras 3 keeps the config in config.json; this is the weights file
    (tmp / "member.h5").write_bytes(data)
    return tmp / "member.h5"


def scan_hdf5(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    """Read the ``model_config`` attribute of an HDF5 (Keras ``.h5``) file.

    h5py reads it in a child process with a time limit, so a file that crashes the
    HDF5 library is reported as unscannable instead of crashing the scan.
    """
    if importlib.util.find_spec("h5py") is None:
        job.unscannable(location, "HDF5 file and h5py is not installed: pip install h5py")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = _h5_path(job, open_source, location, Path(tmp))
        if path is None:
            return
        timeout = max(1.0, job.budget.deadline - time.perf_counter())
        cmd = [sys.executable, "-I", "-c", _H5_CHILD, str(path), str(job.limits.max_json_bytes)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            job.unscannable(location, "HDF5: reading the model config timed out")
            return
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        why = (
            f"the HDF5 library crashed (signal {-done.returncode})" if done.returncode < 0 else last
        )
        job.unscannable(location, f"HDF5: {why[:200]}")
        return
    text = json.loads(done.stdout).get("model_config")
    if text is not None:
        _report(job, location, text)
