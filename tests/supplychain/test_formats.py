"""Every supported format: real benign files pass, crafted malicious ones are flagged.

Benign files are written by the libraries themselves (torch.save, joblib.dump,
numpy.save, safetensors, onnx, h5py); malicious ones carry a harmless ``os.getpid``
call or a traversal path. Nothing is ever loaded.
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile

import h5py
import joblib
import numpy as np
import onnx
import pytest
import torch
from safetensors.numpy import save_file
from tests.supplychain.sc_craft import GetPid, getpid_pickle, onnx_matmul_model

from trainguard.core.findings import Severity
from trainguard.supplychain import scan_file


def worst(path, **kw) -> Severity:
    return scan_file(path, **kw).max_severity


def ids(path) -> set[str]:
    return {i.check_id for i in scan_file(path).issues}


# -- PyTorch ---------------------------------------------------------------------------
def test_torch_checkpoints_pass(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    files = {
        "zip.pt": dict(obj=model.state_dict()),
        "legacy.pt": dict(obj=model.state_dict(), _use_new_zipfile_serialization=False),
        "tensors.pt": dict(obj={"t": torch.arange(6).reshape(2, 3), "h": torch.ones(2).half()}),
        "param.pt": dict(obj=torch.nn.Parameter(torch.ones(3))),
    }
    for name, kw in files.items():
        torch.save(kw.pop("obj"), tmp_path / name, **kw)
        report = scan_file(tmp_path / name)
        assert report.max_severity == Severity.INFO, (name, report.issues)
        assert report.files[0].complete


def test_tensor_payloads_are_skipped_not_read(tmp_path):
    torch.save({"w": torch.zeros(4_000_000)}, tmp_path / "big.pt")  # 16 MB of tensor data
    report = scan_file(tmp_path / "big.pt")
    assert report.max_severity == Severity.INFO
    assert report.files[0].bytes_read < 200_000


def test_pickled_tensor_with_nested_torch_payload_passes(tmp_path):
    (tmp_path / "t.pkl").write_bytes(pickle.dumps(torch.ones(3)))
    report = scan_file(tmp_path / "t.pkl")
    assert report.max_severity == Severity.INFO
    assert "torch-legacy" in report.files[0].formats  # the _load_from_bytes payload


def test_malicious_torch_files(tmp_path):
    torch.save({"w": torch.ones(2), "x": GetPid()}, tmp_path / "zip.pt")
    torch.save({"x": GetPid()}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("zip.pt", "legacy.pt"):
        assert worst(tmp_path / name) == Severity.CRITICAL


def test_torch_zip_with_renamed_members_and_extension(tmp_path):
    torch.save({"x": GetPid()}, tmp_path / "orig.pt")
    src = zipfile.ZipFile(tmp_path / "orig.pt")
    with zipfile.ZipFile(tmp_path / "weights.txt", "w") as dst:
        for info in src.infolist():
            name = info.filename.replace("data.pkl", "payload.bin").replace("orig/", "x/")
            dst.writestr(name, src.read(info))
    assert worst(tmp_path / "weights.txt") == Severity.CRITICAL


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, files remain
def test_torchscript_archive_is_reported_for_its_classes_only(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), tmp_path / "ts.pt")
    report = scan_file(tmp_path / "ts.pt")
    assert {(i.check_id, i.module) for i in report.issues} == {
        ("unknown-global", "__torch__.torch.nn.modules.linear")
    }  # TorchScript classes; the code/ sources and debug pickles are not noise
    assert report.files[0].complete


def _tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_legacy_torch_tar(tmp_path):
    """Pre-1.0 torch tar: sys_info, pickle, tensors, storages members."""
    storage = (
        pickle.dumps(1, protocol=2)
        + b"\x80\x02(X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\ntq\x00."
        + (2).to_bytes(8, "little")
        + b"\x00" * 8
    )
    members = {
        "sys_info": pickle.dumps({"little_endian": True}, protocol=2),
        "tensors": pickle.dumps(0, protocol=2) + b"\x01\x02",
        "storages": storage,
    }
    _tar(tmp_path / "ok.tar", {**members, "pickle": pickle.dumps({"a": 1}, protocol=2)})
    _tar(tmp_path / "evil.tar", {**members, "pickle": getpid_pickle(2)})
    assert worst(tmp_path / "ok.tar") == Severity.INFO
    assert worst(tmp_path / "evil.tar") == Severity.CRITICAL


# -- joblib / raw pickles of arrays ----------------------------------------------------
ARRAYS = {
    "f32": np.linspace(0, 1, 1000, dtype=np.float32),
    "i64": np.arange(999),
    "bool": np.array([True, False, True]),
    "str": np.array(["a", "bcd"]),
    "dt": np.array(["2020-01-01"], dtype="datetime64[D]"),
    "rec": np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2")]),
    "fortran": np.asfortranarray(np.ones((5, 7))),
    "objects": np.array([1, "two", 3.0], dtype=object),
}


@pytest.mark.parametrize("compress", [0, 3, ("xz", 1), ("bz2", 1), ("zlib", 1)])
def test_joblib_files_pass(tmp_path, compress):
    joblib.dump(ARRAYS, tmp_path / "ok.joblib", compress=compress)
    report = scan_file(tmp_path / "ok.joblib")
    assert report.max_severity == Severity.INFO, report.issues


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_payload_after_arrays_and_inside_object_arrays(tmp_path, compress):
    joblib.dump({**ARRAYS, "x": GetPid()}, tmp_path / "a.joblib", compress=compress)
    joblib.dump({"o": np.array([1, GetPid()], dtype=object)}, tmp_path / "b.joblib")
    assert worst(tmp_path / "a.joblib") == Severity.CRITICAL
    assert worst(tmp_path / "b.joblib") == Severity.CRITICAL


def test_protocol_0_pickles_are_recognised(tmp_path):
    (tmp_path / "data.pkl").write_bytes(pickle.dumps({"a": [1, 2.5, "x"]}, protocol=0))
    report = scan_file(tmp_path / "data.pkl")
    assert report.files[0].formats == ["pickle0"] and report.max_severity == Severity.INFO


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_pickled_with_every_protocol_pass(tmp_path, protocol):
    (tmp_path / "a.pkl").write_bytes(pickle.dumps(ARRAYS, protocol=protocol))
    assert worst(tmp_path / "a.pkl") == Severity.INFO


# -- NumPy -----------------------------------------------------------------------------
def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "ok.npy", ARRAYS["rec"])
    np.savez(tmp_path / "ok.npz", **{k: v for k, v in ARRAYS.items() if k != "objects"})
    np.save(tmp_path / "evil.npy", np.array([GetPid()], dtype=object), allow_pickle=True)
    evil = np.array([GetPid()], dtype=object)
    np.savez_compressed(tmp_path / "evil.npz", a=np.arange(3), b=evil)
    assert worst(tmp_path / "ok.npy") == worst(tmp_path / "ok.npz") == Severity.INFO
    assert worst(tmp_path / "evil.npy") == worst(tmp_path / "evil.npz") == Severity.CRITICAL


def test_npy_with_a_bad_header(tmp_path):
    data = (
        b"\x93NUMPY\x01\x00" + (40).to_bytes(2, "little") + b"{'descr': __import__('os')}".ljust(40)
    )
    (tmp_path / "bad.npy").write_bytes(data)
    assert "numpy-header" in ids(tmp_path / "bad.npy")


# -- safetensors -----------------------------------------------------------------------
def test_safetensors_pass(tmp_path):
    save_file({"a": np.ones((2, 3), np.float32), "b": np.arange(4)}, tmp_path / "ok.safetensors")
    assert worst(tmp_path / "ok.safetensors") == Severity.INFO


def test_pickle_renamed_to_safetensors_is_scanned_as_pickle(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(getpid_pickle())
    assert worst(tmp_path / "model.safetensors") == Severity.CRITICAL


# -- Keras -----------------------------------------------------------------------------
def _keras_zip(path, config: dict) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))


def _dense(name: str) -> dict:
    return {"module": "keras.layers", "class_name": "Dense", "config": {"name": name, "units": 2}}


def _sequential(*layers: dict) -> dict:
    return {"module": "keras", "class_name": "Sequential", "config": {"layers": list(layers)}}


LAMBDA3 = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEA"}}},
}
LAMBDA2 = {
    "class_name": "Lambda",
    "config": {"name": "l", "function": ["4wEA", None, None], "function_type": "lambda"},
}
CUSTOM = {
    "module": "os",
    "class_name": "function",
    "config": "system",
    "registered_name": "function",
}


def test_keras_archives(tmp_path):
    _keras_zip(tmp_path / "ok.keras", _sequential(_dense("a"), _dense("b")))
    _keras_zip(tmp_path / "lambda.keras", _sequential(_dense("a"), LAMBDA3))
    _keras_zip(
        tmp_path / "custom.keras", _sequential({**_dense("a"), "config": {"activation": CUSTOM}})
    )
    _keras_zip(tmp_path / "other.keras", _sequential({**_dense("a"), "module": "mypkg.layers"}))
    assert worst(tmp_path / "ok.keras") == Severity.INFO
    assert worst(tmp_path / "lambda.keras") == Severity.CRITICAL
    assert worst(tmp_path / "custom.keras") == Severity.CRITICAL
    assert worst(tmp_path / "other.keras") == Severity.HIGH


def test_keras_h5_model_config(tmp_path):
    for name, layers in {"ok.h5": [_dense("a")], "lambda.h5": [_dense("a"), LAMBDA2]}.items():
        with h5py.File(tmp_path / name, "w") as h5:
            h5.attrs["model_config"] = json.dumps(_sequential(*layers))
            h5.create_dataset("w", data=np.ones(3))
    assert worst(tmp_path / "ok.h5") == Severity.INFO
    assert worst(tmp_path / "lambda.h5") == Severity.CRITICAL


def test_broken_hdf5_is_unscannable_not_fatal(tmp_path):
    """h5py runs in a child process: a file that breaks (or crashes) HDF5 is reported."""
    with h5py.File(tmp_path / "ok.h5", "w") as h5:
        h5.attrs["model_config"] = json.dumps(_sequential(_dense("a")))
    data = (tmp_path / "ok.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    report = scan_file(tmp_path / "cut.h5")
    assert [i.check_id for i in report.issues] == ["unscannable"]
    assert "HDF5" in report.issues[0].message


# -- ONNX ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "sub/../../x.bin"])
def test_onnx_external_data_escaping_the_folder(tmp_path, target):
    onnx.save_model(
        onnx_matmul_model(),
        tmp_path / "ok.onnx",
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    assert worst(tmp_path / "ok.onnx") == Severity.INFO
    model = onnx.load(tmp_path / "ok.onnx", load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = target
    onnx.save_model(model, tmp_path / "evil.onnx")
    assert "onnx-external-data" in ids(tmp_path / "evil.onnx")
    with pytest.raises(onnx.checker.ValidationError):  # the onnx package agrees
        onnx.checker.check_model(str(tmp_path / "evil.onnx"))


def test_onnx_external_data_through_a_symlink(tmp_path):
    onnx.save_model(
        onnx_matmul_model(),
        tmp_path / "m.onnx",
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    outside = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    outside.write_bytes((tmp_path / "w.bin").read_bytes())
    (tmp_path / "w.bin").unlink()
    (tmp_path / "w.bin").symlink_to(outside)
    assert "onnx-external-data" in ids(tmp_path / "m.onnx")
