"""``trainguard demo`` end to end: every planted problem caught, and the report in Chromium."""

import pytest
from tests.browser_support import chromium_page

from trainguard.cli.app import main
from trainguard.core.run import RunDir

pytestmark = pytest.mark.slow

EXPECTED_STAGES = [
    "simulation",
    "data_audit",
    "train",
    "robustness",
    "backdoor",
    "membership",
    "supplychain",
    "provenance",
    "guard",
    "policy",
    "fairness",
    "federated",
    "dp-training",
    "gates",
    "demo",
]
EXPECTED_PLOTS = [
    "train_curve",
    "robustness_curve",
    "backdoor_neural_cleanse_triggers",
    "backdoor_neural_cleanse_anomaly",
    "fairness_group_rates",
    "fairness_mitigation_reweighing",
    "federated_rounds",
    "dp-training_epsilon",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--runs", str(root)])
    (folder,) = [p for p in root.iterdir() if p.name.endswith("-demo")]
    return code, RunDir.open(folder)


def test_demo_catches_every_planted_problem_and_exits_0(demo):
    code, run = demo
    assert code == 0
    assert [s.name for s in run.result.stages] == EXPECTED_STAGES
    verdict = run.result.stage("demo").findings
    assert all(f.passed for f in verdict), [f.message for f in verdict if not f.passed]
    caught = {f.title: f.message for f in verdict[:-1]}
    assert "data_audit/poison-activation-clustering" in caught[next(iter(caught))]
    assert (run.path / "report.html").is_file() and (run.path / "report.sarif").is_file()
    # the audit removed the flagged rows before training
    dropped = next(f for f in run.result.findings if f.check_id == "poison-dropped")
    assert dropped.metrics["dropped_rows"] > 50


@pytest.mark.browser
def test_demo_report_renders_every_stage_and_plot(demo):
    _, run = demo
    with chromium_page(1280, 900) as (page, errors):
        page.goto((run.path / "report.html").resolve().as_uri())
        ids = page.locator("section.stage").evaluate_all("els => els.map(e => e.id)")
        assert ids == [f"stage-{s}" for s in EXPECTED_STAGES]
        assert page.locator("table.summary tbody tr").count() == len(EXPECTED_STAGES)
        imgs = page.locator(".plots img")
        alts = imgs.evaluate_all("els => els.map(e => e.alt)")
        for name in EXPECTED_PLOTS:
            assert f"artifacts/{name}.png" in alts, name
        widths = imgs.evaluate_all("els => els.map(e => e.naturalWidth)")
        assert min(widths) > 50  # every plot decoded to a real picture
        page.screenshot(path=str(run.path / "report.png"), full_page=True)
        assert errors == []
    assert (run.path / "report.png").stat().st_size > 50_000
