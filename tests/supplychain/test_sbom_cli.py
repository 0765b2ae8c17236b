"""The SBOM against the CycloneDX 1.6 schema, and the supply-chain commands end to end."""

from __future__ import annotations

import hashlib
import json
import stat
from importlib import metadata

import numpy as np
import pytest
import torch
from packageurl import PackageURL
from tests.conftest import shared_path
from tests.supplychain.sc_craft import getpid_pickle

from trainguard.cli.app import main
from trainguard.core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from trainguard.supplychain.sbom import build_sbom, sbom_errors
from trainguard.supplychain.vulns import installed_packages


@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    torch.save({"w": torch.ones(3)}, folder / "ok.pt")
    np.save(folder / "ok.npy", np.arange(5))
    (folder / "notes.txt").write_text("trained on digits")
    return folder


def test_sbom_is_valid_cyclonedx_with_packages_and_hashed_models(models):
    text = build_sbom(installed_packages(), [models], name="demo-env")
    assert sbom_errors(text) == []
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    by_name = {c["name"]: c for c in doc["components"]}
    purl = PackageURL.from_string(by_name["torch"]["purl"])  # '+' is percent-encoded
    assert (purl.type, purl.name, purl.version) == ("pypi", "torch", metadata.version("torch"))
    model = by_name["ok.pt"]
    assert model["type"] == "machine-learning-model"
    digest = hashlib.sha256((models / "ok.pt").read_bytes()).hexdigest()
    assert model["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert by_name["notes.txt"]["type"] == "file"
    assert doc["metadata"]["component"]["name"] == "demo-env"


def test_a_broken_document_fails_schema_validation(models):
    doc = json.loads(build_sbom([], [models]))
    doc["components"][0]["type"] = "spaceship"
    assert sbom_errors(json.dumps(doc))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_command_exit_codes_and_reports(tmp_path, capsys, models):
    assert run(capsys, "scan", str(models))[0] == EXIT_OK
    (models / "evil.bin").write_bytes(getpid_pickle())
    code, out, _ = run(capsys, "--json", "scan", str(models))
    assert code == EXIT_FAILED
    report = json.loads(out)
    assert report["max_severity"] == "critical"
    code, _, _ = run(capsys, "scan", str(models), "-f", "sarif", "-o", str(tmp_path / "r.sarif"))
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert code == EXIT_FAILED and sarif["version"] == "2.1.0"
    assert any(r["ruleId"] == "scan/unsafe-global" for r in sarif["runs"][0]["results"])
    code, _, err = run(capsys, "scan", str(tmp_path / "missing.pt"))
    assert code == EXIT_USAGE and "no such file" in err and "Traceback" not in err


def test_scan_command_allow_and_fail_on(tmp_path, capsys):
    (tmp_path / "ns.pkl").write_bytes(b"\x80\x04cargparse\nNamespace\n)R.")
    assert run(capsys, "scan", str(tmp_path))[0] == EXIT_FAILED
    assert run(capsys, "scan", str(tmp_path), "--allow", "argparse:Namespace")[0] == EXIT_OK
    assert run(capsys, "scan", str(tmp_path), "--fail-on", "critical")[0] == EXIT_OK
    code, _, err = run(capsys, "scan", str(tmp_path), "--allow", "nonsense")
    assert code == EXIT_USAGE and "neither an extension" in err


def test_vulns_command_on_the_snapshot(tmp_path, capsys):
    advisories = shared_path("pypa_advisories", "vulns")
    (tmp_path / "requirements.txt").write_text("torch==1.13.0\nnumpy==1.26.4\n")
    code, out, _ = run(
        capsys, "--json", "vulns", "-a", str(advisories), "-r", str(tmp_path / "requirements.txt")
    )
    assert code == EXIT_FAILED
    matches = json.loads(out)["matches"]
    assert [(m["package"], m["advisory"]) for m in matches] == [("torch", "PYSEC-2022-43015")]
    (tmp_path / "fixed.txt").write_text("torch==2.4.0\n")
    assert run(capsys, "vulns", "-a", str(advisories), "-r", str(tmp_path / "fixed.txt"))[0] == 0
    code, _, err = run(capsys, "vulns")
    assert code == EXIT_USAGE and "--advisories" in err


def test_sbom_command(tmp_path, capsys, models):
    code, _, _ = run(capsys, "sbom", "-o", str(tmp_path / "bom.json"), str(models))
    assert code == EXIT_OK
    assert sbom_errors((tmp_path / "bom.json").read_text()) == []


def test_encrypt_and_decrypt_commands(tmp_path, capsys, models):
    key = tmp_path / "keys" / "model.key"
    code, _, _ = run(capsys, "encrypt", str(models / "ok.pt"), "-k", str(key), "--new-key")
    assert code == EXIT_OK and stat.S_IMODE(key.stat().st_mode) == 0o600
    enc = models / "ok.pt.tgenc"
    code, _, _ = run(capsys, "decrypt", str(enc), "-o", str(tmp_path / "back.pt"), "-k", str(key))
    assert code == EXIT_OK
    assert (tmp_path / "back.pt").read_bytes() == (models / "ok.pt").read_bytes()
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 0x01
    enc.write_bytes(bytes(data))
    code, _, err = run(capsys, "decrypt", str(enc), "-o", str(tmp_path / "x.pt"), "-k", str(key))
    assert code == EXIT_FAILED and "failed authentication" in err
    assert not (tmp_path / "x.pt").exists()
    key.chmod(0o640)
    code, _, err = run(capsys, "decrypt", str(enc), "-k", str(key))
    assert code == EXIT_USAGE and "chmod 600" in err
