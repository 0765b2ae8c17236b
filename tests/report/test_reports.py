import json

import numpy as np

from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.plots import bar_plot, image_grid, line_plot
from trainguard.core.run import RunDir
from trainguard.report import render, write_report


def _run(tmp_path):
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


def test_run_dir_layout_and_reopen(tmp_path):
    run = _run(tmp_path)
    assert run.path.name.endswith("-unit-test")
    assert (run.path / "findings.json").is_file() and (run.artifacts / "curve.png").is_file()
    back = RunDir.open(run.path)
    assert back.result.model_dump_json() == run.result.model_dump_json()
    assert not back.result.passed


def test_html_is_self_contained_and_escaped(tmp_path):
    run = _run(tmp_path)
    html = render(run, "html")
    assert html.count("data:image/png;base64,") == 3
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "1 gate(s) failed" in html and 'id="stage-scan"' in html and 'id="stage-info"' in html
    assert "undefined" in html and "n/a" in html
    assert "artifacts/none.txt" in html
    path = write_report(run, "html")
    assert path == run.path / "report.html"


def test_sarif_structure(tmp_path):
    run = _run(tmp_path)
    sarif = json.loads(render(run, "sarif"))
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    (r,) = sarif["runs"]
    assert r["tool"]["driver"]["name"] == "trainguard"
    rules = r["tool"]["driver"]["rules"]
    assert [x["id"] for x in rules] == ["scan/pickle-global"]
    (res,) = r["results"]  # one result per failed finding only
    assert (
        res["ruleId"] == "scan/pickle-global" and res["level"] == "error" and res["ruleIndex"] == 0
    )
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/evil.pkl"
    assert "Dangerous import" in res["message"]["text"]


def test_json_report_round_trip(tmp_path):
    run = _run(tmp_path)
    data = json.loads(render(run, "json"))
    assert data["name"] == "unit test" and len(data["stages"]) == 2
