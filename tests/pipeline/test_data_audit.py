"""The data audit's ethics, safety and authenticity checks, run through ``run_pipeline``."""

import json
import os
import pickle

import numpy as np
import pytest
import yaml

from trainguard.core.errors import ConfigError
from trainguard.pipeline.runner import run_pipeline


class _Payload:
    def __reduce__(self):
        return (os.getpid, ())


def _write(folder, cfg):
    p = folder / "pipeline.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def _finding(run, stage, check_id):
    return next(f for f in run.result.findings if f.stage == stage and f.check_id == check_id)


@pytest.fixture
def signed_folder(tmp_path):
    """A data folder, its signed manifest, and (added after signing) a code-running pickle."""
    from trainguard.provenance.artifacts import sign_artifact
    from trainguard.provenance.manifest import build_manifest
    from trainguard.provenance.signing import generate_keypair

    data = tmp_path / "extra"
    data.mkdir()
    np.save(data / "scale.npy", np.ones(4))
    generate_keypair(tmp_path / "k.key", tmp_path / "k.pub")
    sign_artifact(build_manifest(data).save(tmp_path / "extra.manifest.json"), tmp_path / "k.key")
    (data / "prep.pkl").write_bytes(pickle.dumps(_Payload()))
    return tmp_path


def test_planted_backdoor_is_flagged_dropped_and_files_are_checked(signed_folder):
    cfg = {
        "name": "audit",
        "data": {
            "source": "digits",
            "simulate_poisoning": {"trigger": "badnets", "rate": 0.06, "target": 0},
        },
        "stages": {
            "data_audit": {
                "scan_files": ["extra"],
                "manifest": "extra.manifest.json",
                "public_key": "k.pub",
                "poison": {"drop_flagged_by": ["activation-clustering"]},
                "label_errors": False,
            },
            "train": {"model": "logreg", "epochs": 2},
        },
    }
    first = run_pipeline(_write(signed_folder, cfg))
    assert first.result.stage("simulation").findings[0].metrics["poisoned_rows"] == 86
    ac = _finding(first, "data_audit", "poison-activation-clustering")
    assert ac.failed and ac.metrics["precision"] > 0.9 and ac.metrics["recall"] > 0.7
    ss = _finding(first, "data_audit", "poison-spectral-signatures")
    assert ss.passed is None  # a filter, not a verdict
    dropped = json.loads((first.artifacts / "data_audit_dropped_rows.json").read_text())
    assert len(dropped) == _finding(first, "data_audit", "poison-dropped").metrics["dropped_rows"]
    assert "getpid" in _finding(first, "data_audit", "unsafe-global").message
    assert _finding(first, "data_audit", "model-file-scan").failed
    assert _finding(first, "data_audit", "attestation-chain").passed  # the signature holds
    manifest = _finding(first, "data_audit", "manifest-verify")
    assert manifest.failed and "prep.pkl" in manifest.message

    # the audit is reused; the dropped rows still leave the training split
    cfg["stages"]["train"]["epochs"] = 3
    second = run_pipeline(_write(signed_folder, cfg))
    assert "reused" in second.result.stage("data_audit").summary
    assert "reused" not in second.result.stage("train").summary
    assert (second.artifacts / "data_audit_dropped_rows.json").is_file()
    # a changed file the audit reads recomputes the audit
    (signed_folder / "extra" / "prep.pkl").unlink()
    third = run_pipeline(_write(signed_folder, cfg))
    assert "reused" not in third.result.stage("data_audit").summary
    assert _finding(third, "data_audit", "manifest-verify").passed


def test_text_data_is_checked_for_toxicity_and_pii(tmp_path):
    rows = [
        {"text": f"a friendly note about gardening number {i}", "label": i % 2} for i in range(40)
    ]
    for i in range(0, 40, 4):  # 10 rows with PII, 10 toxic: some land in the training split
        rows[i]["text"] = f"mail me at jane.doe{i}@example.com about the plants"
        rows[i + 1]["text"] = "you are a worthless idiot and I hate you"
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = {
        "data": {"source": "t.jsonl", "text": "text", "label": "label", "test_fraction": 0.25},
        "stages": {"data_audit": {"max_toxic_fraction": 0.0}},
    }
    run = run_pipeline(_write(tmp_path, cfg))
    pii = _finding(run, "data_audit", "pii-text")
    tox = _finding(run, "data_audit", "toxic-text")
    assert 4 <= pii.metrics["pii_rows"] <= 10 and pii.failed
    assert "email" in pii.message.lower() and "example.com" not in str(pii.table)  # redacted
    assert 4 <= tox.metrics["toxic_rows"] <= 10 and tox.failed
    assert all("idiot" in r["text"] for r in tox.table)


def test_data_bias_is_reported_per_sensitive_attribute(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    group = rng.choice(["a", "b"], n)
    x = rng.normal(size=n)
    y = ((x + (group == "a")) > 0.5).astype(int)
    lines = ["x,group,y", *(f"{v:.4f},{g},{t}" for v, g, t in zip(x, group, y, strict=True))]
    (tmp_path / "d.csv").write_text("\n".join(lines))
    cfg = {
        "data": {"source": "d.csv", "label": "y", "sensitive": ["group"]},
        "stages": {"data_audit": {"poison": {"enabled": False}, "label_errors": False}},
    }
    run = run_pipeline(_write(tmp_path, cfg))
    bias = _finding(run, "data_audit", "group.data-bias")
    assert bias.metrics["base_rate_difference"] > 0.2
    assert {r["group"] for r in bias.table} == {"a", "b"}


def test_poisoning_simulation_needs_images(tmp_path):
    cfg = {
        "data": {"source": "breast_cancer", "simulate_poisoning": {"rate": 0.05}},
        "stages": {"data_audit": {}},
    }
    with pytest.raises(ConfigError, match=r"data\.simulate_poisoning: needs image data"):
        run_pipeline(_write(tmp_path, cfg))
    assert not (tmp_path / "runs").exists()


def test_federated_training_feeds_the_attack_stage(tmp_path):
    cfg = {
        "data": {"source": "synthetic-credit", "options": {"n_samples": 1500}},
        "stages": {
            "train": {
                "mode": "federated",
                "model": "logreg",
                "federated": {
                    "partition": {"num_clients": 3},
                    "train": {"rounds": 2, "lr": 0.1},
                    "engine": {"num_cpus": 1},
                },
            },
            "attack": {"robustness": {"enabled": False}, "membership": {"limit": 100}},
        },
    }
    run = run_pipeline(_write(tmp_path, cfg))
    names = [s.name for s in run.result.stages]
    assert names[0] == "federated" and "membership" in names
    assert run.result.stage("backdoor").summary.startswith("skipped")  # image models only
    assert (run.artifacts / "model.pt").is_file()
    assert _finding(run, "membership", "membership-loss").metrics["members"] == 100


def test_federated_mode_refuses_a_data_section_and_poisoning_simulation(tmp_path):
    cfg = {
        "data": {"source": "digits", "simulate_poisoning": {"rate": 0.05}},
        "stages": {"train": {"mode": "federated", "federated": {"train": {"rounds": 2}}}},
    }
    with pytest.raises(ConfigError, match="simulate_poisoning: not with train mode 'federated'"):
        run_pipeline(_write(tmp_path, cfg))
    del cfg["data"]["simulate_poisoning"]
    cfg["stages"]["train"]["federated"] = {"rounds": 2}  # belongs in the train section
    with pytest.raises(ConfigError, match=r"stages\.train\.federated: rounds"):
        run_pipeline(_write(tmp_path, cfg))
    cfg["stages"]["train"]["federated"] = {"data": {"source": "digits"}}
    with pytest.raises(ConfigError, match=r"federated\.data: the pipeline's data section"):
        run_pipeline(_write(tmp_path, cfg))
    assert not (tmp_path / "runs").exists()
