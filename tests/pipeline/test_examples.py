"""The example pipelines in examples/ are valid and run (smaller) when their data is present."""

from pathlib import Path

import pytest
import yaml
from tests.conftest import shared_path

from trainguard.pipeline.config import load_config
from trainguard.pipeline.runner import run_pipeline

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# example -> (shared data path, the source string with the local path, smaller settings)
SHRINK = {
    "mnist": {"limit": 1200, "train": {"epochs": 4}, "min_accuracy": 0.6},
    "adult": {"limit": 3000, "train": {"epochs": 2}, "min_accuracy": 0.75},
    "text": {"limit": 1500, "train": {"epochs": 4}, "min_accuracy": 0.7},
}


@pytest.mark.parametrize("name", sorted(SHRINK))
def test_example_config_is_valid(name):
    cfg = load_config(EXAMPLES / name / "pipeline.yaml")
    assert cfg.stages and cfg.gates


def _local(source: str) -> str:
    """The example's ../shared/data path resolved through the test's data location."""
    fmt, sep, rest = source.partition(":")
    path = rest if sep and fmt in ("mnist", "adult") else source
    parts = Path(path).parts[Path(path).parts.index("data") + 1 :]
    local = str(shared_path(*parts))
    return f"{fmt}:{local}" if sep and fmt in ("mnist", "adult") else local


@pytest.mark.parametrize("name", sorted(SHRINK))
def test_example_runs_and_its_gates_resolve(name, tmp_path):
    raw = yaml.safe_load((EXAMPLES / name / "pipeline.yaml").read_text())
    small = SHRINK[name]
    raw["data"]["source"] = _local(raw["data"]["source"])
    raw["data"]["limit"] = small["limit"]
    raw["stages"]["train"].update(small["train"])
    raw["stages"]["train"]["min_accuracy"] = small["min_accuracy"]
    for g in raw["gates"]:
        if g["finding"] == "train/test-accuracy":
            g["min"] = small["min_accuracy"]
    for opts in (raw["stages"].get("attack") or {}).values():
        if isinstance(opts, dict):
            opts.update({k: min(v, 60) for k, v in opts.items() if k in ("steps", "limit")})
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run = run_pipeline(cfg)
    gates = run.result.stage("gates").findings
    # every gate finds its finding and metric (the bounds are set for the full-size run)
    broken = [
        g.message for g in gates if "no finding matches" in g.message or "no metric" in g.message
    ]
    assert gates and broken == []
    accuracy = [g for g in gates if g.title.startswith("train/test-accuracy")]
    assert len(accuracy) == 1 and accuracy[0].passed, accuracy
