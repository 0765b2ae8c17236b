"""The provenance stage adds its findings to a run: signed manifest, verified chain, tamper caught."""

from __future__ import annotations

from pathlib import Path

from trainguard.core.datasets import load_dataset
from trainguard.core.run import RunDir
from trainguard.provenance.stage import provenance_stage


def test_stage_on_digits(tmp_path: Path) -> None:
    run = RunDir.create("demo", tmp_path, config={"dataset": "digits"})
    train = load_dataset("digits").head(300, seed=0)
    stage = provenance_stage(run, train, watermark=False)
    found = {f.check_id: f for f in stage.findings}
    assert found["attestation-chain"].passed is True
    assert found["tamper-detection"].passed is True
    assert found["tamper-detection"].location == "7"
    assert "300 records" in found["data-manifest"].message
    assert RunDir.open(run.path).result.stage("provenance").passed
    assert not list(run.artifacts.rglob("*.key"))  # the private key is never written
