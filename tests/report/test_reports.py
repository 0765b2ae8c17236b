import json

from trainguard.core.run import RunDir
from trainguard.report import render, write_report


def test_run_dir_layout_and_reopen(sample_run):
    run = sample_run
    assert run.path.name.endswith("-unit-test")
    assert (run.path / "findings.json").is_file() and (run.artifacts / "curve.png").is_file()
    back = RunDir.open(run.path)
    assert back.result.model_dump_json() == run.result.model_dump_json()
    assert not back.result.passed


def test_html_is_self_contained_and_escaped(sample_run):
    run = sample_run
    html = render(run, "html")
    assert html.count("data:image/png;base64,") == 3
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "1 gate(s) failed" in html and 'id="stage-scan"' in html and 'id="stage-info"' in html
    assert "undefined" in html and "n/a" in html
    assert "artifacts/none.txt" in html
    path = write_report(run, "html")
    assert path == run.path / "report.html"


def test_sarif_structure(sample_run):
    run = sample_run
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


def test_json_report_round_trip(sample_run):
    run = sample_run
    data = json.loads(render(run, "json"))
    assert data["name"] == "unit test" and len(data["stages"]) == 2
