"""The command line: train --dp writes privacy findings; privacy audit and accountant; bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("opacus")

from trainguard.cli.app import main
from trainguard.core.run import RunDir


def _only_run(root: Path) -> RunDir:
    (path,) = list(root.iterdir())
    return RunDir.open(path)


def test_train_dp_writes_epsilon_curve_and_accuracy(tmp_path: Path) -> None:
    code = main(["--quiet", "train", "--data", "digits", "--limit", "400", "--dp", "--model", "logreg",
                 "--epochs", "3", "--lr", "0.02", "--target-epsilon", "4", "--runs", str(tmp_path)])  # fmt: skip
    assert code == 0
    run = _only_run(tmp_path)
    stage = run.result.stage("train")
    by_id = {f.check_id: f for f in stage.findings}
    eps = by_id["dp-epsilon"]
    assert eps.passed and eps.metrics["epsilon"] <= 4.0 and eps.metrics["delta"] == 1e-3
    assert eps.metrics["epsilon_rdp"] >= eps.metrics["epsilon_prv"]  # type: ignore[operator]
    assert len(eps.table) == 3 and (run.path / eps.evidence[0]).is_file()
    assert 0.0 < by_id["test-accuracy"].metrics["test_accuracy"] <= 1.0  # type: ignore[operator]


def test_privacy_audit_on_a_dp_target_passes(tmp_path: Path) -> None:
    code = main(["--quiet", "privacy", "audit", "--limit", "300", "--target", "dp", "--epsilon", "1",
                 "--runs", str(tmp_path)])  # fmt: skip
    run = _only_run(tmp_path)
    ids = {f.check_id for f in run.result.stage("privacy-audit").findings}
    assert {"membership-loss-dp-eps1", "empirical-epsilon-loss-dp-eps1"} <= ids
    assert code == 0


def test_accountant_prints_both_accountants(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--json", "privacy", "accountant", "--sample-rate", "0.01", "--steps", "1000",
                 "--delta", "1e-5", "--noise", "1.0"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["epsilon_prv"] < out["epsilon_rdp"]


@pytest.mark.parametrize(
    "args",
    [
        ["privacy", "audit", "--epsilon", "-1"],
        ["privacy", "audit", "--data", "no-such-data"],
        [
            "privacy",
            "accountant",
            "--sample-rate",
            "2",
            "--steps",
            "10",
            "--delta",
            "1e-5",
            "--noise",
            "1",
        ],
        ["privacy", "accountant", "--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5"],
        ["train", "--data", "digits", "--dp", "--target-epsilon", "0"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [] if args[1] == "accountant" else ["--runs", str(tmp_path)]
    assert main(["--quiet", *args, *runs]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
