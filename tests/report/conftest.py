import numpy as np
import pytest

from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.plots import bar_plot, image_grid, line_plot
from trainguard.core.run import RunDir


@pytest.fixture
def sample_run(tmp_path):
    run = RunDir.create("unit test", tmp_path)
    plot = line_plot(run, "curve", [1, 2, 3], {"a": [0.1, 0.5, 0.9]}, xlabel="x", ylabel="y")
    bars = bar_plot(run, "bars", {"g1": {"before": 0.3, "after": 0.1}}, ylabel="gap")
    grid = image_grid(run, "imgs", [np.zeros((8, 8)), np.ones((1, 8, 8))], titles=["a", "b"])
    run.add_stage(
        StageResult(
            name="scan",
            title="Model scan",
            summary="1 critical",
            findings=[
                Finding(
                    stage="scan",
                    check_id="pickle-global",
                    title="Dangerous import os.system",
                    severity=Severity.CRITICAL,
                    passed=False,
                    location="models/evil.pkl",
                    message="<script>alert(1)</script>",
                ),
                Finding(
                    stage="scan",
                    check_id="ok",
                    title="Benign",
                    passed=True,
                    evidence=[plot, bars, grid, "artifacts/none.txt"],
                    table=[{"file": "a.pt", "verdict": "clean"}],
                    metrics={"u": float("nan"), "n": None},
                ),
            ],
        )
    )
    run.add_stage(
        StageResult(
            name="info",
            findings=[
                Finding(
                    stage="info",
                    check_id="i",
                    title="Info only",
                    severity=Severity.LOW,
                    passed=None,
                )
            ],
        )
    )
    return run
