import json

import numpy as np
import pytest

from trainguard.backdoor import backdoor_test_set
from trainguard.cli.app import main
from trainguard.core.datasets import load_digits_dataset, load_npz
from trainguard.core.zoo import save_model

from .conftest import TARGET, WIDTH


@pytest.fixture(scope="module")
def trojan_file(digits_models, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "trojan.pt"
    cfg = {"in_shape": [1, 8, 8], "n_classes": 10, "width": WIDTH}
    return save_model(digits_models.trojan_model, path, name="cnn", config=cfg)


def _findings(runs):
    (run,) = list(runs.iterdir())
    return run, json.loads((run / "findings.json").read_text())


def test_scan_flags_the_trojan_and_saves_the_triggers(trojan_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = "--quiet backdoor scan --data digits --detector neural-cleanse --steps 300 --limit 300"
    code = main([*args.split(), "--model", str(trojan_file), "--runs", str(runs)])
    assert code == 1
    run, found = _findings(runs)
    (f,) = found["stages"][0]["findings"]
    assert f["check_id"] == "neural-cleanse" and f["passed"] is False
    assert f["metrics"]["suspected_target"] == TARGET
    assert (run / f["evidence"][0]).is_file()


def test_poison_writes_a_loadable_poisoned_set(tmp_path):
    out, trig = tmp_path / "p.npz", tmp_path / "t.npz"
    args = ["--quiet", "backdoor", "poison", "--data", "digits", "--out", str(out)]
    assert main([*args, "--rate", "0.05", "--target", "2", "--triggered-out", str(trig)]) == 0
    ds = load_npz(out)
    with np.load(out) as z:
        poisoned = z["poisoned"]
    assert ds.X.shape == (1797, 1, 8, 8) and poisoned.sum() == round(0.05 * 1797)
    assert np.all(ds.y[poisoned] == 2)
    with np.load(trig) as z:
        t_y = z["y"]
    original = load_digits_dataset()
    assert np.all(t_y == 2) and len(t_y) == int((original.y != 2).sum())
    assert np.array_equal(ds.X[~poisoned], original.X[~poisoned])


def test_repair_unlearns_the_backdoor(trojan_file, digits_models, tmp_path):
    bt = backdoor_test_set(digits_models.test, digits_models.trigger, target=TARGET)
    trig = tmp_path / "triggered.npz"
    np.savez(trig, X=bt.X, y=bt.y, class_names=np.array([str(i) for i in range(10)]))
    runs = tmp_path / "runs"
    args = "--quiet backdoor repair --data digits --steps 300"
    paths = ["--model", str(trojan_file), "--triggered", str(trig), "--runs", str(runs)]
    code = main(
        [*args.split(), "--max-attack-success", "0.05", "--max-accuracy-drop", "0.05", *paths]
    )
    run, found = _findings(runs)
    f, used = found["stages"][0]["findings"]
    assert f["metrics"]["attack_success_before"] > 0.9
    assert f["metrics"]["attack_success_after"] < 0.05  # the defaults: two rounds
    assert code == 0 and (run / "artifacts" / "repaired.pt").is_file()
    # both detectors' triggers were ranked on held-out rows; the best ones unlearned
    assert used["check_id"] == "repair-reversed-triggers"
    assert {r["source"] for r in used["table"]} == {
        "neural-cleanse",
        "neuron-stimulation:patch",
        "neuron-stimulation:perturbation",
        "neural-cleanse:round-2",  # reversed anew on the repaired model (--rounds 2)
    }
    assert used["table"][-1]["unlearned"]
    assert all(r["label"] == TARGET for r in used["table"] if r["unlearned"])
    assert used["table"][0]["unlearned"] and (run / used["evidence"][0]).is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", "--model", "{tmp}/none.pt", "--data", "digits"], "no such model file"),
        (["scan", "--model", "{model}", "--data", "breast_cancer"], "need image data"),
        (["scan", "--model", "{model}", "--data", "digits", "--detector", "magic"], "'detectors'"),
        (["poison", "--data", "digits", "--out", "{tmp}/x.npz", "--attack", "laser"], "'attack'"),
        (["repair", "--model", "{model}", "--data", "digits", "--method", "pray"], "'method'"),
        (
            ["repair", "--model", "{model}", "--data", "digits", "--trigger-source", "oracle"],
            "'trigger_source'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(trojan_file, tmp_path, capsys, args, needle):
    args = [a.replace("{tmp}", str(tmp_path)).replace("{model}", str(trojan_file)) for a in args]
    runs = tmp_path / "runs"
    extra = ["--runs", str(runs)] if args[0] != "poison" else []
    assert main(["backdoor", *args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not runs.exists() and not (tmp_path / "x.npz").exists()
