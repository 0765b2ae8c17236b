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

import json
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


def scan_hdf5(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    """Read the ``model_config`` attribute of an HDF5 (Keras ``.h5``) file with h5py."""
    try:
        import h5py
    except ImportError:
        job.unscannable(location, "HDF5 file and h5py is not installed: pip install h5py")
        return
    from trainguard.supplychain.archives import seekable_file

    fileobj = seekable_file(job, open_source(), location)
    if fileobj is None:
        return
    try:
        with h5py.File(fileobj, "r") as h5:
            raw = h5.attrs.get("model_config")
    except (OSError, ValueError, KeyError) as exc:
        job.unscannable(location, f"HDF5: {exc}")
        return
    if raw is None:
        return
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if len(text) > job.limits.max_json_bytes:
        raise ScanAborted(f"Keras config larger than {job.limits.max_json_bytes} bytes")
    _report(job, location, text)
