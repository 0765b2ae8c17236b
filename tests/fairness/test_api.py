"""The public API: a curated, sorted ``__all__``; keyword-only options; the demo stage."""

from __future__ import annotations

import inspect

import trainguard.fairness as fairness
import trainguard.fairness.mitigation as mitigation
from trainguard.core.run import RunDir


def test_exported_members_are_sorted_and_exist() -> None:
    for module in (fairness, mitigation):
        names = list(module.__all__)
        assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        for name in names:
            assert hasattr(module, name), name


def test_data_positional_options_keyword_only() -> None:
    for name in ("statistical_parity_difference", "fairness_audit", "group_metrics", "data_bias"):
        params = inspect.signature(getattr(fairness, name)).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional in (["y_true", "y_pred"], ["y"]), name


def test_demo_stage_flags_the_biased_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from trainguard.fairness.report import demo_fairness_stage

    run = RunDir.create("demo", tmp_path)
    stage = demo_fairness_stage(run)
    assert run.result.stage("fairness") is stage
    ids = {f.check_id: f for f in stage.findings}
    assert ids["group.statistical-parity-difference"].passed is False
    table = {r["metric"]: r for r in ids["group.mitigation-reweighing"].table}
    spd = table["statistical_parity_difference"]
    assert spd["after"] < spd["before"] / 2
    for path in stage.artifacts:
        assert (run.path / path).is_file()
