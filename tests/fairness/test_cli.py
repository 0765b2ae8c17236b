"""``trainguard fairness`` end to end on real files: verdicts, exit codes, artifacts, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.fairness.conftest import credit_with_group

from trainguard.cli.app import main
from trainguard.core.datasets import load_table
from trainguard.core.training import save_trained, train_model


@pytest.fixture(scope="module")
def credit_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = credit_with_group(1500, seed=2)
    frame = pd.DataFrame(ds.X[:, :8], columns=ds.feature_names[:8])
    frame["group"] = ds.sensitive["group"]
    frame["repaid"] = np.where(ds.y == 1, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "credit.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def scored_csv(credit_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = pd.read_csv(credit_csv)
    logit = 1.2 * frame["income"] - 1.5 * (frame["group"] == "B") + 0.6
    frame["score"] = 1 / (1 + np.exp(-logit))
    frame["decision"] = np.where(frame["score"] > 0.5, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "scored.csv"
    frame.to_csv(path, index=False)
    return path


def _fairness(data: Path, runs: Path, *options: str) -> int:
    """Run ``trainguard --quiet fairness`` on ``data`` (label ``repaid``, group ``group``)."""
    args = ["--quiet", "fairness", "--data", str(data), "--label", "repaid"]
    return main([*args, "--sensitive", "group", *options, "--runs", str(runs)])


def _findings(runs: Path) -> dict[str, dict]:
    (run,) = runs.iterdir()
    data = json.loads((run / "findings.json").read_text())
    return {f["check_id"]: f for s in data["stages"] for f in s["findings"]}


def test_pred_labels_fail_the_parity_gate(scored_csv: Path, tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    code = _fairness(scored_csv, runs, "--pred", "decision", "--n-boot", "200")
    assert code == 1
    found = _findings(runs)
    spd = found["group.statistical-parity-difference"]
    assert spd["passed"] is False and spd["threshold"] == 0.1
    assert spd["metrics"]["ci_low"] > 0.1
    assert found["group.data-bias"]["passed"] is None
    assert "individual-fairness" in found
    (run,) = runs.iterdir()
    assert (run / "artifacts" / "fairness_group_rates.png").stat().st_size > 1000
    assert (run / "report.html").is_file()


def test_lenient_limits_pass(scored_csv: Path, tmp_path: Path) -> None:
    code = _fairness(
        scored_csv,
        tmp_path,
        *[
            "--pred",
            "decision",
            "--n-boot",
            "100",
            "--max-difference",
            "0.9",
            "--min-ratio",
            "0.05",
        ],
    )
    assert code == 0


def test_scores_with_threshold_mitigation(scored_csv: Path, tmp_path: Path) -> None:
    code = _fairness(
        scored_csv,
        tmp_path,
        *[
            "--pred",
            "score",
            "--mitigate",
            "thresholds",
            "--constraint",
            "equal_opportunity",
            "--n-boot",
            "100",
        ],
    )
    assert code in (0, 1)
    found = _findings(tmp_path)
    table = {row["metric"]: row for row in found["group.mitigation-thresholds"]["table"]}
    eod = table["equal_opportunity_difference"]
    assert eod["after"] < eod["before"]


def test_model_with_reweighing(credit_csv: Path, tmp_path: Path) -> None:
    ds = load_table(credit_csv, label="repaid", sensitive=["group"])
    tm = train_model(ds, model_name="logreg", epochs=4, batch_size=128, lr=1e-2)
    model = save_trained(tm, tmp_path / "model.pt")
    runs = tmp_path / "runs"
    code = _fairness(
        credit_csv,
        runs,
        "--model",
        str(model),
        *["--mitigate", "reweighing", "--epochs", "4", "--n-boot", "100"],
    )
    assert code in (0, 1)
    found = _findings(runs)
    row = {r["metric"]: r for r in found["group.mitigation-reweighing"]["table"]}
    spd = row["statistical_parity_difference"]
    assert spd["after"] < spd["before"]
    (run,) = runs.iterdir()
    assert (run / "artifacts" / "model-reweighing.pt").is_file()
    assert (run / "artifacts" / "fairness_mitigation_reweighing.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sensitive", "gender", "--pred", "decision"], "no column 'gender'"),
        (["--sensitive", "group"], "exactly one of --pred"),
        (["--sensitive", "group", "--pred", "decision", "--model", "m.pt"], "exactly one of"),
        (["--sensitive", "group", "--pred", "decision", "--mitigate", "reweighing"], "--model"),
        (["--sensitive", "group", "--pred", "income"], "scores in [0, 1]"),
        (["--sensitive", "group", "--pred", "decision", "--privileged", "sex=M"], "not one of"),
        (["--sensitive", "group", "--pred", "decision", "--positive", "maybe"], "--positive"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    scored_csv: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    runs = tmp_path / "runs"
    code = main(
        ["fairness", "--data", str(scored_csv), "--label", "repaid", *extra, "--runs", str(runs)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not runs.exists()  # nothing half-written


def test_non_binary_label_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "three.csv"
    pd.DataFrame(
        {"x": [1, 2, 3, 4], "g": list("abab"), "y": [0, 1, 2, 1], "p": [0, 1, 1, 0]}
    ).to_csv(path, index=False)
    code = main(
        ["fairness", "--data", str(path), "--label", "y", "--sensitive", "g", "--pred", "p"]
    )
    assert code == 2
    assert "3 classes" in capsys.readouterr().err
