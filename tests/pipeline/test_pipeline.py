import json

import pytest
import yaml

from trainguard.cli.app import main
from trainguard.core.errors import ConfigError
from trainguard.pipeline.config import load_config
from trainguard.pipeline.init import starter_config
from trainguard.pipeline.runner import run_pipeline

BASE = {
    "name": "unit",
    "data": {"source": "breast_cancer", "test_fraction": 0.3},
    "stages": {
        "data_audit": {"label_errors": True},
        "train": {"model": "logreg", "epochs": 3, "lr": 0.01},
    },
    "gates": [{"finding": "train/test-accuracy", "metric": "test_accuracy", "min": 0.8}],
}


def _write(tmp_path, cfg, name="pipeline.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def test_starter_config_is_valid(tmp_path):
    p = tmp_path / "pipeline.yaml"
    p.write_text(starter_config())
    cfg = load_config(p)
    assert list(cfg.stages) == ["data_audit", "train"] and cfg.gates


def test_run_passes_gates_and_reuses_unchanged_stages(tmp_path):
    p = _write(tmp_path, BASE)
    first = run_pipeline(p)
    assert first.result.passed
    assert [s.name for s in first.result.stages] == ["data_audit", "train", "gates"]
    assert (first.artifacts / "model.pt").is_file()
    second = run_pipeline(p)
    assert all("reused" in s.summary for s in second.result.stages if s.name != "gates")
    assert (second.artifacts / "model.pt").read_bytes() == (
        first.artifacts / "model.pt"
    ).read_bytes()
    # changing the training options recomputes training but still reuses the audit
    cfg = json.loads(json.dumps(BASE))
    cfg["stages"]["train"]["epochs"] = 4
    third = run_pipeline(_write(tmp_path, cfg))
    assert "reused" in third.result.stage("data_audit").summary
    assert "reused" not in third.result.stage("train").summary


def test_impossible_gate_exits_1_and_names_the_gate(tmp_path, capsys):
    cfg = json.loads(json.dumps(BASE))
    cfg["gates"] = [
        {"finding": "train/test-accuracy", "metric": "test_accuracy", "min": 1.01},
        {"finding": "attack/robust-accuracy", "metric": "robust_accuracy", "min": 0.5},
    ]
    rc = main(["run", str(_write(tmp_path, cfg)), "--no-cache"])
    out = capsys.readouterr().out
    assert rc == 1
    last = out.strip().splitlines()[-3:-1]  # the failed gates come last, before the report path
    assert "gates/gate-1" in last[0] and "below 1.01" in last[0]
    assert "gates/gate-2" in last[1] and "no finding matches" in last[1]


def test_gates_decide_the_exit_code_when_the_config_has_them(tmp_path, capsys):
    cfg = json.loads(json.dumps(BASE))
    cfg["stages"]["data_audit"]["max_class_ratio"] = 1.0  # a check that fails
    assert main(["run", str(_write(tmp_path, cfg)), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "check failed (no gate) data_audit/class-balance" in out
    cfg["gates"] = []  # without gates every failed check fails the run
    assert main(["run", str(_write(tmp_path, cfg)), "--no-cache"]) == 1
    assert "gate failed data_audit/class-balance" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c["stages"]["train"].update(epochs="ten"), "stages.train.epochs"),
        (lambda c: c["stages"].update(deploy={}), "unknown stage 'deploy'"),
        (lambda c: c["stages"]["train"].update(mode="magic"), "stages.train.mode"),
        (
            lambda c: c["stages"]["train"].update(mode="adversarial", epochs=2, eps_ramp=3),
            "'eps_ramp' (3) must not exceed 'epochs' (2)",
        ),
        (
            lambda c: c["gates"].append({"finding": "train/test-accuracy", "min": 0.5}),
            "'min'/'max' need 'metric'",
        ),
        (lambda c: c["data"].update(source="nowhere.csv", label="y"), "nowhere.csv"),
        (lambda c: c.update(stages={}), "name at least one"),
    ],
)
def test_config_errors_name_stage_and_field_and_write_nothing(tmp_path, capsys, mutate, needle):
    cfg = json.loads(json.dumps(BASE))
    mutate(cfg)
    p = _write(tmp_path, cfg)
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_malformed_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nstages: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_config(p)


def test_init_refuses_to_overwrite(tmp_path, capsys):
    p = tmp_path / "pipeline.yaml"
    assert main(["init", str(p)]) == 0
    assert main(["init", str(p)]) == 2
    assert "already exists" in capsys.readouterr().err
