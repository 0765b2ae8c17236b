"""The supply-chain stage on a real run directory with a trained model."""

from __future__ import annotations

import stat

from tests.conftest import shared_path

from trainguard.core.datasets import load_dataset
from trainguard.core.run import RunDir
from trainguard.core.training import save_trained, train_model
from trainguard.supplychain.sbom import sbom_errors
from trainguard.supplychain.stage import supply_chain_stage


def _run_with_model(tmp_path) -> RunDir:
    run = RunDir.create("sc", tmp_path)
    train, _ = load_dataset("digits").split(0.25, seed=0)
    save_trained(
        train_model(train, model_name="logreg", epochs=1, seed=0), run.artifact_path("model.pt")
    )
    return run


def test_stage_scans_documents_and_encrypts_the_runs_models(tmp_path):
    run = _run_with_model(tmp_path)
    stage = supply_chain_stage(run)
    assert stage.passed
    assert RunDir.open(run.path).result.stage("supplychain").passed
    by_id = {f.check_id: f for f in stage.findings}
    assert by_id["model-file-scan"].metrics["files"] >= 1
    assert by_id["scanner-self-test"].passed is True
    assert by_id["artifact-encryption"].passed is True
    assert "vulnerable-packages" not in by_id  # no advisory source given
    assert sbom_errors((run.path / by_id["sbom"].evidence[0]).read_text()) == []
    assert (run.artifacts / "model.pt.tgenc").is_file()
    key = run.path / "secrets" / "artifact.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_stage_audits_against_the_advisory_snapshot(tmp_path):
    advisories = shared_path("pypa_advisories", "vulns")
    run = _run_with_model(tmp_path)
    stage = supply_chain_stage(run, advisories=advisories)
    audit = next(f for f in stage.findings if f.check_id == "vulnerable-packages")
    assert audit.metrics["advisories"] > 900
