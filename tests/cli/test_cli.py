import json
import os
from pathlib import Path

import pytest

from trainguard import __version__
from trainguard.cli.app import main


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"trainguard {__version__}"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--data", "missing.csv"], "unknown dataset 'missing.csv'"),
        (["train", "--data", "{csv}", "--label", "nope"], "no column 'nope'"),
        (["train", "--data", "{csv}"], "'label' is required"),
        (["train", "--data", "digits", "--model", "resnet"], "unknown model 'resnet'"),
        (["train", "--data", "digits", "--epochs", "0"], "epochs"),
        (
            ["train", "--data", "digits", "--dp", "--target-epsilon", "0"],
            "'target_epsilon' parameter",
        ),
        (["train", "--data", "digits", "--dp", "--delta", "1.5"], "'delta' parameter"),
        (["report", "{tmp}"], "not a trainguard run directory"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, needle):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,x\n3,4,z\n5,6,x\n7,8,z\n")
    runs = tmp_path / "runs"
    args = [a.replace("{csv}", str(csv)).replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "train":
        args += ["--runs", str(runs)]
    before = _listing(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert _listing(tmp_path) == before


def test_train_and_report_json(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert (
        main(
            [
                "--json",
                "train",
                "--data",
                "breast_cancer",
                "--model",
                "logreg",
                "--epochs",
                "3",
                "--runs",
                str(runs),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] is True
    run_dir = out["run"]
    assert os.path.isfile(os.path.join(run_dir, "artifacts", "model.pt"))
    assert main(["-q", "report", run_dir, "--format", "sarif"]) == 0
    sarif = json.loads(Path(run_dir, "report.sarif").read_text())
    assert sarif["runs"][0]["results"] == []


def test_failed_gate_exits_1_and_is_named(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--data",
            "breast_cancer",
            "--epochs",
            "1",
            "--min-accuracy",
            "1.01",
            "--runs",
            str(tmp_path),
        ]
    )
    assert rc == 1
    assert "gate failed" in capsys.readouterr().out
    (run_dir,) = list(tmp_path.iterdir())
    assert main(["report", str(run_dir), "--format", "json"]) == 1
