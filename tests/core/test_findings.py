import pytest
from pydantic import ValidationError

from trainguard.core.findings import Finding, RunResult, Severity, StageResult


def _finding(passed, sev=Severity.HIGH, check="c1"):
    return Finding(
        stage="s", check_id=check, title="t", severity=sev, passed=passed, metrics={"m": 0.5}
    )


def test_severity_is_ordered():
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert (
        max([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM], key=lambda s: s.rank)
        is Severity.CRITICAL
    )
    assert Severity.HIGH >= Severity.HIGH


def test_run_result_json_round_trip_keeps_everything():
    stage = StageResult(
        name="train",
        title="Training",
        summary="ok",
        findings=[_finding(True), _finding(None, check="c2")],
    )
    result = RunResult(name="r", stages=[stage], config={"a": 1})
    back = RunResult.model_validate_json(result.model_dump_json())
    assert back == result
    assert back.stages[0].findings[1].passed is None


def test_pass_fail_aggregation():
    ok = StageResult(name="a", findings=[_finding(True), _finding(None, check="i")])
    bad = StageResult(name="b", findings=[_finding(False)])
    assert ok.passed and not bad.passed
    run = RunResult(name="r", stages=[ok, bad])
    assert not run.passed
    assert [f.stage for f in run.failed_findings] == ["s"]
    assert run.stage("b") is bad
    with pytest.raises(KeyError):
        run.stage("zzz")


def test_check_id_must_be_an_identifier():
    with pytest.raises(ValidationError):
        Finding(stage="s", check_id="has space", title="t")
