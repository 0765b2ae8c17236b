"""Per-group metrics: hand-computed cases, fairlearn's MetricFrame, undefined values, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from tests.fairness.conftest import CONTAINERS, random_case

from trainguard.core.errors import DataError, ParameterError
from trainguard.fairness import GROUP_METRICS, Undefined, group_metrics


def test_hand_computed_two_groups() -> None:
    # group a: (t, p) = (1,1) (1,0) (0,1) (0,0) -> tp=1 fn=1 fp=1 tn=1
    # group b: (1,1) (1,1) (0,0) (0,1)          -> tp=2 fn=0 fp=1 tn=1
    y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    y_pred = [1, 0, 1, 0, 1, 1, 0, 1]
    groups = ["a"] * 4 + ["b"] * 4
    gm = group_metrics(y_true, y_pred, sensitive_features=groups)
    assert gm.names == ["a", "b"]
    assert gm.sizes.tolist() == [4, 4]
    expected = {
        "base_rate": (0.5, 0.5),
        "selection_rate": (0.5, 0.75),
        "true_positive_rate": (0.5, 1.0),
        "false_positive_rate": (0.5, 0.5),
        "false_negative_rate": (0.5, 0.0),
        "precision": (0.5, 2 / 3),
        "accuracy": (0.5, 0.75),
    }
    for metric, (a, b) in expected.items():
        assert gm.value(metric, "a") == pytest.approx(a, abs=1e-12)  # type: ignore[arg-type]
        assert gm.value(metric, "b") == pytest.approx(b, abs=1e-12)  # type: ignore[arg-type]
    assert gm.overall("selection_rate") == pytest.approx(5 / 8)


def _fairlearn_frame(case: dict[str, np.ndarray], sf: object, weighted: bool) -> MetricFrame:
    def base_rate(
        y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        return float(np.average(y_true, weights=sample_weight))

    metrics = {
        "base_rate": base_rate,
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": false_negative_rate,
        "precision": skm.precision_score,
        "accuracy": skm.accuracy_score,
    }
    params = {m: {"sample_weight": case["weight"]} for m in metrics} if weighted else None
    return MetricFrame(
        metrics=metrics,
        y_true=case["y_true"],
        y_pred=case["y_pred"],
        sensitive_features=sf,
        sample_params=params,
    )


@pytest.mark.parametrize("convert", CONTAINERS)
@pytest.mark.parametrize("two_features", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_fairlearn_metricframe(convert, two_features: bool, weighted: bool) -> None:
    case = random_case(seed=3)
    sf_ours: object = (
        {"g1": convert(case["g1"]), "g2": convert(case["g2"])}
        if two_features
        else convert(case["g1"])
    )
    sf_theirs: object = (
        pd.DataFrame({"g1": case["g1"], "g2": case["g2"]}) if two_features else case["g1"]
    )
    gm = group_metrics(
        convert(case["y_true"]),
        convert(case["y_pred"]),
        sensitive_features=sf_ours,
        sample_weight=convert(case["weight"]) if weighted else None,
    )
    frame = _fairlearn_frame(case, sf_theirs, weighted).by_group
    assert len(frame) == len(gm.names)
    for i, (label, row) in enumerate(frame.iterrows()):
        key = label if isinstance(label, tuple) else (label,)
        assert gm.groups.labels[i] == key
        for metric in GROUP_METRICS:
            assert gm.value(metric, key) == pytest.approx(row[metric], abs=1e-9), (metric, key)


def test_group_without_positives_is_marked_undefined() -> None:
    y_true = [0, 0, 0, 1, 0, 1]
    y_pred = [1, 0, 0, 1, 1, 0]
    gm = group_metrics(y_true, y_pred, sensitive_features=["a", "a", "a", "b", "b", "b"])
    tpr = gm.value("true_positive_rate", "a")
    assert isinstance(tpr, Undefined)
    assert "no actual positives" in tpr.reason
    assert not tpr
    table = {row["group"]: row for row in gm.table()}
    assert table["a"]["true_positive_rate"] is None
    assert table["a"]["false_negative_rate"] is None
    assert table["b"]["true_positive_rate"] == pytest.approx(0.5)
    # fairlearn reports 0 for the same undefined rate
    frame = MetricFrame(
        metrics=true_positive_rate,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=["a", "a", "a", "b", "b", "b"],
    )
    assert frame.by_group["a"] == 0.0


def test_precision_undefined_without_predicted_positives() -> None:
    gm = group_metrics([1, 0, 1, 0], [0, 0, 1, 1], sensitive_features=["a", "a", "b", "b"])
    value = gm.value("precision", "a")
    assert isinstance(value, Undefined) and "no predicted positives" in value.reason


def test_string_labels_need_pos_label() -> None:
    y = [">50K", "<=50K", ">50K", "<=50K"]
    with pytest.raises(DataError, match="pos_label"):
        group_metrics(y, y, sensitive_features=["a", "a", "b", "b"])
    gm = group_metrics(y, y, sensitive_features=["a", "a", "b", "b"], pos_label=">50K")
    assert gm.value("base_rate", "a") == 0.5


@pytest.mark.parametrize(
    ("y_true", "sensitive", "error", "match"),
    [
        ([0, 1, 2, 1], ["a", "a", "b", "b"], DataError, "binary"),
        ([0, 1, 0], ["a", "a", "b", "b"], DataError, "rows"),
        ([0, 1, 0, 1], None, ParameterError, "sensitive_features"),
        ([0, 1, 0, 1], ["a", None, "b", "b"], DataError, "missing values"),
        ([0.0, 1.0, float("nan"), 1.0], ["a", "a", "b", "b"], DataError, "NaN"),
    ],
)
def test_bad_input_gets_a_clear_error(y_true, sensitive, error, match) -> None:
    with pytest.raises(error, match=match):
        group_metrics(y_true, [0, 1, 0, 1], sensitive_features=sensitive)


def test_weights_must_be_non_negative() -> None:
    with pytest.raises(DataError, match="non-negative"):
        group_metrics([0, 1], [0, 1], sensitive_features=["a", "b"], sample_weight=[1.0, -1.0])


def test_integer_coded_groups_are_looked_up_by_value() -> None:
    gm = group_metrics([1, 0, 0, 0], [1, 0, 1, 1], sensitive_features=[7, 7, 3, 3])
    assert gm.names == ["3", "7"]
    assert gm.value("base_rate", 7) == 0.5
    assert gm.value("base_rate", 3) == 0.0
    assert gm.by_group("selection_rate") == {"3": 1.0, "7": 0.5}
