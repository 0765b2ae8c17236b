"""The run stages and the command line: train --adversarial and attack."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.cli.app import main
from trainguard.core.datasets import Dataset
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel, save_trained
from trainguard.robustness import adversarial_train_stage
from trainguard.robustness.stage import robustness_stage

Split = tuple[Dataset, Dataset]


def test_adversarial_train_stage_records_clean_and_robust_curves(
    digits_split: Split, tmp_path: Path
) -> None:
    train, test = digits_split
    run = RunDir.create("adv", tmp_path)
    tm = adversarial_train_stage(
        run, train.head(300, seed=0), test.head(100, seed=0), model_name="mlp", epochs=2,
        batch_size=32, lr=1e-2, seed=0, method="fast", eps=0.1, min_accuracy=0.99,
    )  # fmt: skip
    stage = RunDir.open(run.path).result.stage("train")
    by_id = {f.check_id: f for f in stage.findings}
    assert by_id["test-accuracy"].passed is False  # the 0.99 gate is out of reach
    per_epoch = by_id["robust-accuracy-per-epoch"]
    assert [row["epoch"] for row in per_epoch.table] == [1.0, 2.0]
    assert per_epoch.metrics["robust_accuracy"] == tm.history.last("robust_accuracy")
    for rel in per_epoch.evidence + by_id["test-accuracy"].evidence:
        assert (run.path / rel).is_file()
    assert "robust accuracy" in stage.summary


def test_robustness_stage_adds_curve_and_masking_verdict(
    digits_mlp: TrainedModel, digits_split: Split, tmp_path: Path
) -> None:
    run = RunDir.create("rob", tmp_path)
    report = robustness_stage(
        run,
        digits_mlp,
        digits_split[1],
        epsilons=[0.05, 0.15],
        steps=10,
        limit=100,
        check_steps=5,
        min_robust_accuracy=0.5,
    )
    stage = run.result.stage("robustness")
    ids = [f.check_id for f in stage.findings]
    assert ids == ["gradient-masking", "robust-accuracy-apgd-ce"]
    assert stage.findings[0].passed is True
    assert stage.findings[1].passed is False  # an undefended model is not robust at 0.15
    assert report.curve.accuracy[1] < 0.5
    assert (run.path / stage.artifacts[0]).is_file()


@pytest.fixture(scope="module")
def saved_model(digits_mlp: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_trained(digits_mlp, tmp_path_factory.mktemp("model") / "model.pt")


def test_cli_attack_writes_a_run(
    saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--json", "attack", "--model", str(saved_model), "--data", "digits", "--eps", "0.05"]
    args += [
        "--eps",
        "0.2",
        "--steps",
        "5",
        "--samples",
        "60",
        "--no-checks",
        "--runs",
        str(tmp_path),
    ]
    args += ["--min-robust-accuracy", "0.9"]
    assert main(args) == 1  # the gate at eps 0.2 fails for an undefended model
    out = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    assert str(run_dir) in out
    stage = RunDir.open(run_dir).result.stage("robustness")
    assert stage.findings[0].metrics["n_samples"] == 60.0
    assert (run_dir / "report.html").is_file()


def test_cli_train_adversarial(tmp_path: Path) -> None:
    args = ["-q", "train", "--data", "digits", "--model", "mlp", "--limit", "300", "--epochs", "1"]
    args += ["--adversarial", "fgsm", "--eps", "0.1", "--runs", str(tmp_path)]
    assert main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "artifacts" / "train_robust_curve.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attack", "cw"], "unknown attack 'cw'"),
        (["--eps", "-0.1"], "The 'eps' parameter of trainguard attack"),
        (["--data", "breast_cancer"], "does not fit tabular data breast_cancer"),
        (["--model", "missing.pt"], "missing.pt: no such model file"),
    ],
)
def test_cli_attack_bad_input_exits_2(
    saved_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = [
        "attack",
        "--model",
        str(saved_model),
        "--data",
        "digits",
        "--runs",
        str(tmp_path),
        *extra,
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--adversarial", "mart"], "'method' parameter"),
        (["--adversarial", "pgd", "--eps", "-1"], "'eps' parameter"),
        (["--adversarial", "pgd", "--epochs", "2", "--eps-ramp", "3"], "'eps_ramp' parameter"),
    ],
)
def test_cli_train_bad_adversarial_exits_2_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["train", "--data", "digits", "--runs", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
