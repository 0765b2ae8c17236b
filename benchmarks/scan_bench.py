"""Model-file scanning: trainguard's scanner beside picklescan on the same files.

Builds (once, in ~/.cache/trainguard/supplychain/scan_bench) a folder of benign
PyTorch/joblib checkpoints, small and large, and a folder of crafted malicious files
(harmless ``os.getpid``-style payloads: known picklescan bypasses, every format),
then times both scanners file by file through their Python APIs (median of 3 runs)
and lists their verdicts side by side.

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.scan_bench``
"""

from __future__ import annotations

import io
import json
import os
import pickle
import statistics
import time
import zipfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import joblib
import numpy as np
import onnx
import torch
from onnx import TensorProto
from tests.supplychain.sc_craft import (
    GetPid,
    call,
    getpid_pickle,
    glob,
    onnx_matmul_model,
    pickled,
    sbu,
)
from tests.supplychain.test_pickle_bypasses import UNLISTED

from benchmarks.common import print_table
from trainguard.supplychain import scan_file

CACHE = Path(os.environ.get("TRAINGUARD_CACHE", Path.home() / ".cache" / "trainguard")) / (
    "supplychain/scan_bench"
)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def build_benign(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(200):
        model = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)
        )
        torch.save(model.state_dict(), folder / f"small_{i:03d}.pt")
    for i in range(4):
        sd = {f"layers.{k}.weight": torch.randn(1024, 1024, generator=gen) for k in range(16)}
        torch.save(sd, folder / f"large_{i}.pt")  # 64 MiB each
    sd = {f"w{k}": torch.randn(512, 512, generator=gen) for k in range(8)}
    torch.save(sd, folder / "large_legacy.pt", _use_new_zipfile_serialization=False)
    joblib.dump(
        {"coef": np.random.default_rng(0).normal(size=(2048, 2048))}, folder / "arrays.joblib"
    )


def _keras(config: dict) -> bytes:
    return _zip({"config.json": json.dumps(config).encode(), "metadata.json": b"{}"})


def _onnx_escape(folder: Path) -> None:
    model = onnx_matmul_model()
    tensor = model.graph.initializer[0]
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../etc/passwd"
    onnx.save_model(model, folder / "onnx_escape.onnx")


def build_malicious(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for module, name in UNLISTED:
        (folder / f"call_{module}.{name}.pkl").write_bytes(pickled(call(module, name, "id")))
    (folder / "raw_proto0.pkl").write_bytes(getpid_pickle(0))
    (folder / "raw_proto4.bin").write_bytes(getpid_pickle(4))
    torch.save({"w": torch.ones(4), "x": GetPid()}, folder / "torch_zip.pt")
    torch.save({"x": GetPid()}, folder / "torch_legacy.pt", _use_new_zipfile_serialization=False)
    joblib.dump({"a": np.arange(1000.0), "x": GetPid()}, folder / "joblib_after_array.joblib")
    joblib.dump({"a": np.arange(1000.0), "x": GetPid()}, folder / "joblib_gzip.joblib", compress=3)
    joblib.dump({"o": np.array([1, GetPid()], dtype=object)}, folder / "joblib_object_array.joblib")
    np.save(folder / "npy_object.npy", np.array([GetPid()], dtype=object), allow_pickle=True)
    np.savez(folder / "npz_object.npz", a=np.arange(3), b=np.array([GetPid()], dtype=object))
    memo = b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vid\ntR."
    (folder / "memo_stack_global.pkl").write_bytes(memo)
    (folder / "string_stack_global.pkl").write_bytes(b"S'os'\nS'system'\n\x93S'id'\n\x85R.")
    evil = pickled(call("builtins", "eval", "print('456')"))
    crc = _zip({"archive/data.pkl": evil}).replace(b"print('456')", b"print('123')", 1)
    (folder / "zip_bad_crc.pt").write_bytes(crc)
    (folder / "zip_odd_member.pt").write_bytes(_zip({"weights.txt": getpid_pickle()}))
    (folder / "polyglot.pt").write_bytes(getpid_pickle() + _zip({"a.txt": b"x"}))
    (folder / "second_pickle.pkl").write_bytes(pickle.dumps([1, 2]) + getpid_pickle())
    attr = pickled(
        call("operator", "attrgetter", "system")
        + call("builtins", "__import__", "os")
        + b"\x85R"
        + sbu("id")
        + b"\x85R"
    )
    (folder / "attrgetter_chain.pkl").write_bytes(attr)
    lam = {"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__"}}}
    (folder / "keras_lambda.keras").write_bytes(
        _keras({"class_name": "Sequential", "config": {"layers": [lam]}})
    )
    (folder / "global_build.pkl").write_bytes(pickled(glob("collections", "OrderedDict") + b"}b"))
    _onnx_escape(folder)


def picklescan_verdict(path: Path) -> str:
    from picklescan.scanner import scan_file_path

    try:
        r = scan_file_path(str(path))
    except Exception as exc:  # the peer raises on some inputs
        return f"error ({type(exc).__name__})"
    if r.issues_count:
        return "dangerous"
    if r.scan_err:
        return "scan error"
    return "suspicious" if r.suspicious_count else "clean"


def ours_verdict(path: Path) -> str:
    return scan_file(path).max_severity.value


def timed(files: list[Path], fn: Callable[[Path], str], reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for f in files:
            fn(f)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    benign, malicious = CACHE / "benign", CACHE / "malicious"
    if not (benign / "arrays.joblib").exists():
        build_benign(benign)
    if not (malicious / "onnx_escape.onnx").exists():
        build_malicious(malicious)
    import logging

    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    groups = {
        "200 small torch checkpoints": sorted(benign.glob("small_*.pt")),
        "6 large checkpoints (torch zip, legacy, joblib)": [
            *sorted(benign.glob("large_*.pt")),
            benign / "arrays.joblib",
        ],
        "malicious set (all files)": sorted(malicious.iterdir()),
    }
    rows = []
    for label, files in groups.items():
        mb = sum(f.stat().st_size for f in files) / 1e6
        ours = timed(files, ours_verdict)
        peer = timed(files, picklescan_verdict)
        rows.append(
            [label, len(files), round(mb, 2), len(files) / ours, len(files) / peer,
             peer / ours, mb / ours, mb / peer]
        )  # fmt: skip
    print_table(
        "Scan throughput (median of 3, file by file through each Python API)",
        [
            "files",
            "n",
            "MB",
            "ours files/s",
            "picklescan files/s",
            "ours / picklescan (files/s)",
            "ours MB/s",
            "picklescan MB/s",
        ],
        rows,
    )
    detect = []
    for f in groups["malicious set (all files)"]:
        ours, peer = ours_verdict(f), picklescan_verdict(f)
        detect.append([f.name, ours, peer])
    print_table(
        "Detection on crafted malicious files (ours: worst severity)",
        ["file", "trainguard", "picklescan"],
        detect,
    )
    caught_ours = sum(r[1] in ("high", "critical") for r in detect)
    caught_peer = sum(r[2] == "dangerous" for r in detect)
    benign_files = (
        groups["200 small torch checkpoints"]
        + groups["6 large checkpoints (torch zip, legacy, joblib)"]
    )
    fp_ours = sum(ours_verdict(f) in ("high", "critical") for f in benign_files)
    fp_peer = sum(picklescan_verdict(f) == "dangerous" for f in benign_files)
    print_table(
        "Detection summary",
        [
            "scanner",
            f"malicious flagged (of {len(detect)})",
            f"benign flagged (of {len(benign_files)})",
        ],
        [
            ["trainguard", caught_ours, fp_ours],
            [f"picklescan {version('picklescan')}", caught_peer, fp_peer],
        ],
    )


if __name__ == "__main__":
    main()
