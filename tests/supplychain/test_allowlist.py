"""The allow-list and its opt-in extensions, dog-fooded on the shipped profanity model."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.supplychain.sc_craft import call, pickled

from trainguard.core.errors import ConfigError
from trainguard.core.findings import Severity
from trainguard.supplychain import AllowPolicy, scan_file


def profanity_model_files() -> list[Path]:
    spec = importlib.util.find_spec("profanity_check")
    if spec is None or spec.origin is None:
        pytest.skip("alt-profanity-check is not installed")
    folder = Path(spec.origin).parent / "data"
    return sorted(folder.glob("*.joblib"))


def test_profanity_check_model_needs_the_sklearn_extension():
    files = profanity_model_files()
    assert [f.name for f in files] == ["model.joblib", "vectorizer.joblib"]
    for f in files:
        strict = scan_file(f)
        assert strict.max_severity == Severity.HIGH
        assert {i.check_id for i in strict.issues} == {"unknown-global"}
        assert all(i.module and i.module.startswith("sklearn.") for i in strict.issues)
        relaxed = scan_file(f, allow=["sklearn"])
        assert relaxed.max_severity == Severity.LOW  # reported, not silent
        assert relaxed.passed and relaxed.files[0].complete


def test_sklearn_models_of_several_kinds_pass_with_the_extension(tmp_path):
    x, y = load_digits(return_X_y=True)
    x, y = x[:300], y[:300]
    models = {
        "logreg.joblib": make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
        "forest.joblib": RandomForestClassifier(n_estimators=3, random_state=0),
        "hgb.joblib": HistGradientBoostingClassifier(max_iter=3, random_state=0),
    }
    for name, model in models.items():
        joblib.dump(model.fit(x, y), tmp_path / name)
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(model))
        for path in (tmp_path / name, tmp_path / f"{name}.pkl"):
            report = scan_file(path, allow=["sklearn"])
            assert report.max_severity <= Severity.LOW, (path.name, report.issues)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sklearn.utils._testing", "assert_run_python_script_without_output"),  # subprocess
        ("sklearn.datasets", "fetch_openml"),  # network
        ("sklearn.utils", "Bunch.__init__.__globals__"),
    ],
)
def test_sklearn_extension_admits_classes_not_functions(tmp_path, module, name):
    (tmp_path / "m.pkl").write_bytes(pickled(call(module, name, "x")))
    assert scan_file(tmp_path / "m.pkl", allow=["sklearn"]).max_severity >= Severity.HIGH


def test_exact_allow_entries(tmp_path):
    (tmp_path / "m.pkl").write_bytes(pickled(call("argparse", "Namespace")))
    assert scan_file(tmp_path / "m.pkl").max_severity == Severity.HIGH
    assert scan_file(tmp_path / "m.pkl", allow=["argparse:Namespace"]).max_severity == Severity.LOW


def test_allow_entries_cannot_unlock_dangerous_callables():
    policy = AllowPolicy(["os:system", "sklearn"])
    assert policy.judge("os", "system").severity == Severity.CRITICAL


def test_unknown_allow_entry_is_a_clear_error():
    with pytest.raises(ConfigError, match="neither an extension"):
        AllowPolicy(["sklearn.svm"])


def test_python2_names_map_like_the_unpickler():
    policy = AllowPolicy()
    assert policy.judge("__builtin__", "set", 2).severity is None
    assert policy.judge("copy_reg", "_reconstructor", 2).severity is None
    assert policy.judge("__builtin__", "eval", 2).severity == Severity.CRITICAL
    # protocol 3+ unpicklers do not map: '__builtin__' is then just an unknown module
    assert policy.judge("__builtin__", "set", 4).severity == Severity.HIGH
