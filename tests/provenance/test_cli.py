"""The command line end to end on real files: exit codes 0 (holds), 1 (tampered), 2 (bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainguard.cli.app import main
from trainguard.core.datasets import load_dataset
from trainguard.core.training import save_trained, train_model


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    assert main(["keygen", str(tmp_path / "owner.key")]) == 0
    return tmp_path / "owner.key", tmp_path / "owner.key.pub"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    f = tmp_path / "loans.csv"
    f.write_text(
        "id,income,label\n" + "\n".join(f"{i},{1000 + i},{i % 2}" for i in range(40)) + "\n"
    )
    return f


def test_manifest_sign_verify_and_tamper(keys, table: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    priv, pub = keys
    assert main(["data", "manifest", str(table), "--sign", str(priv)]) == 0
    manifest = table.with_name("loans.csv.manifest.json")
    assert manifest.is_file() and manifest.with_name(manifest.name + ".sig").is_file()
    assert main(["data", "verify", str(manifest), "--key", str(pub)]) == 0
    table.write_text(table.read_text().replace("\n12,1012,0\n", "\n12,9999,0\n"))
    capsys.readouterr()
    assert main(["data", "verify", str(manifest), "--key", str(pub)]) == 1
    assert "changed record 12" in capsys.readouterr().out
    assert main(["--json", "data", "verify", str(manifest)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["changes"][0]["key"] == "12" and out["ok"] is False


def test_record_proofs_from_the_command_line(table: Path, tmp_path: Path) -> None:
    assert main(["data", "manifest", str(table)]) == 0
    manifest = str(table.with_name("loans.csv.manifest.json"))
    proof = tmp_path / "proof.json"
    rec = json.dumps({"id": "7", "income": "1007", "label": "1"})
    assert main(["data", "prove", manifest, "--record", rec, "--out", str(proof)]) == 0
    assert json.loads(proof.read_text())["claim"] == "present"
    assert main(["data", "verify-proof", str(proof), "--manifest", manifest]) == 0
    doc = json.loads(proof.read_text())
    doc["leaves"][0]["path"][0] = "00" * 32
    proof.write_text(json.dumps(doc))
    assert main(["data", "verify-proof", str(proof), "--manifest", manifest]) == 1
    absent = json.dumps({"id": "7", "income": "1008", "label": "1"})
    assert main(["data", "prove", manifest, "--record", absent, "--out", str(proof)]) == 0
    assert json.loads(proof.read_text())["claim"] == "absent"
    assert main(["data", "verify-proof", str(proof), "--manifest", manifest]) == 0


def test_sign_attest_and_verify(keys, table: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    priv, pub = keys
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights" * 50)
    assert main(["sign", str(model), "--key", str(priv)]) == 0
    assert main(["verify", str(tmp_path / "model.pt.sig"), "--key", str(pub)]) == 0
    _, other = main(["keygen", str(tmp_path / "other.key")]), tmp_path / "other.key.pub"
    assert main(["verify", str(tmp_path / "model.pt.sig"), "--key", str(other)]) == 1

    assert main(["data", "manifest", str(table), "--sign", str(priv)]) == 0
    config = tmp_path / "train.json"
    config.write_text('{"epochs": 2}')
    manifest = str(table.with_name("loans.csv.manifest.json"))
    rc = main(
        [
            "sign",
            str(model),
            "--key",
            str(priv),
            "--data",
            manifest,
            "--config",
            str(config),
            "--param",
            "epochs=2",
        ]
    )
    assert rc == 0
    att = tmp_path / "model.pt.provenance.json"
    capsys.readouterr()
    assert main(["verify", str(att), "--key", str(pub)]) == 0
    assert "verified end to end" in capsys.readouterr().out
    table.write_text(table.read_text() + "40,1040,0\n")
    assert main(["verify", str(att), "--key", str(pub)]) == 1
    assert "added record 40" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sign", str(tmp_path / "missing.pt"), "--key", str(tmp_path / "k")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert main(["data", "verify", str(tmp_path / "none.json")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["data", "manifest", str(tmp_path / "empty")]) == 0  # a valid, empty data set
    assert (tmp_path / "empty.manifest.json").is_file()
    assert not list(tmp_path.glob(".*.tmp"))


def test_watermark_and_prove_ownership(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    digits = load_dataset("digits").split(0.25, seed=0)[0]
    src = tmp_path / "digits.npz"
    np.savez(src, X=digits.X, y=digits.y)
    out = tmp_path / "marked.npz"
    key = tmp_path / "wm.key"
    args = ["data", "watermark", "--data", str(src), "--key", str(key), "--out", str(out)]
    assert main([*args, "--rate", "0.05", "--alpha", "0.2"]) == 0
    record = tmp_path / "marked.npz.watermark.json"
    assert key.is_file() and record.is_file()
    tm = train_model(load_dataset(str(out)), model_name="mlp", epochs=30, lr=3e-3, seed=0)
    model = save_trained(tm, tmp_path / "suspect.pt")
    capsys.readouterr()
    prove = [
        "data",
        "prove-ownership",
        "--model",
        str(model),
        "--key",
        str(key),
        "--record",
        str(record),
    ]
    assert main(prove) == 0
    assert "watermark found" in capsys.readouterr().out
    other = tmp_path / "other.key"
    other.write_text("11" * 32)
    assert main([*prove[:-4], "--key", str(other), "--record", str(record)]) == 2
