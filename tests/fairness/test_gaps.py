"""Gaps between groups: fairlearn (between groups) and AIF360 (privileged) to 1e-9."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from sklearn.metrics import precision_score
from tests.fairness.conftest import CONTAINERS, random_case

from trainguard import fairness as tf
from trainguard.fairness import Undefined

logging.getLogger().setLevel(logging.ERROR)  # aif360 logs missing optional extras on import
aif = pytest.importorskip("aif360.sklearn.metrics")


def _sf(case: dict[str, np.ndarray], two: bool) -> object:
    return pd.DataFrame({"g1": case["g1"], "g2": case["g2"]}) if two else case["g1"]


@pytest.mark.parametrize("convert", CONTAINERS)
@pytest.mark.parametrize("two_features", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_between_groups_equal_fairlearn(convert, two_features: bool, weighted: bool) -> None:
    case = random_case(seed=5)
    sf = _sf(case, two_features)
    ours_sf = (
        {"g1": convert(case["g1"]), "g2": convert(case["g2"])}
        if two_features
        else convert(case["g1"])
    )
    yt, yp = case["y_true"], case["y_pred"]
    w = case["weight"] if weighted else None
    kw = {"sensitive_features": sf, "sample_weight": w}
    ours = {"sensitive_features": ours_sf, "sample_weight": None if w is None else convert(w)}
    a, b = convert(yt), convert(yp)
    ppd = MetricFrame(
        metrics=precision_score,
        y_true=yt,
        y_pred=yp,
        sensitive_features=sf,
        sample_params={"sample_weight": w},
    ).difference()
    pairs = [
        (
            tf.statistical_parity_difference(a, b, **ours),
            demographic_parity_difference(yt, yp, **kw),
        ),
        (tf.disparate_impact_ratio(a, b, **ours), demographic_parity_ratio(yt, yp, **kw)),
        (tf.equal_opportunity_difference(a, b, **ours), equal_opportunity_difference(yt, yp, **kw)),
        (tf.equalized_odds_difference(a, b, **ours), equalized_odds_difference(yt, yp, **kw)),
        (
            tf.average_odds_difference(a, b, **ours),
            equalized_odds_difference(yt, yp, agg="mean", **kw),
        ),
        (tf.predictive_parity_difference(a, b, **ours), ppd),
    ]
    for got, want in pairs:
        assert got == pytest.approx(want, abs=1e-9)


def _indexed(y: np.ndarray, groups: np.ndarray) -> pd.Series:
    return pd.Series(y, index=pd.Index(groups, name="g"))


@pytest.mark.parametrize("levels", [("a", "b"), ("a", "b", "c")])
@pytest.mark.parametrize("weighted", [False, True])
def test_privileged_equals_aif360(levels: tuple[str, ...], weighted: bool) -> None:
    case = random_case(seed=7, groups=levels)
    yt, yp, g = case["y_true"], case["y_pred"], case["g1"]
    w = case["weight"] if weighted else None
    y_idx = _indexed(yt, g)
    kw = {"prot_attr": "g", "priv_group": "b", "sample_weight": w}
    ours = {"sensitive_features": g, "privileged": "b", "sample_weight": w}
    pairs = [
        (
            tf.statistical_parity_difference(yt, yp, **ours),
            aif.statistical_parity_difference(y_idx, yp, **kw),
        ),
        (tf.disparate_impact_ratio(yt, yp, **ours), aif.disparate_impact_ratio(y_idx, yp, **kw)),
        (
            tf.equal_opportunity_difference(yt, yp, **ours),
            aif.equal_opportunity_difference(y_idx, yp, **kw),
        ),
        (tf.average_odds_difference(yt, yp, **ours), aif.average_odds_difference(y_idx, yp, **kw)),
        (
            tf.predictive_parity_difference(yt, yp, **ours),
            aif.difference(
                precision_score, y_idx, yp, prot_attr="g", priv_group="b", sample_weight=w
            ),
        ),
    ]
    for got, want in pairs:
        assert got == pytest.approx(want, abs=1e-9)


def test_equalized_odds_privileged_equals_aif360_classification_metric() -> None:
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    case = random_case(seed=11, groups=("a", "b"))
    yt, yp, g = case["y_true"], case["y_pred"], case["g1"]
    frame = pd.DataFrame({"g": (g == "b").astype(float), "y": yt.astype(float)})
    truth = BinaryLabelDataset(df=frame, label_names=["y"], protected_attribute_names=["g"])
    pred = truth.copy()
    pred.labels = yp.astype(float).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = ClassificationMetric(
            truth, pred, unprivileged_groups=[{"g": 0.0}], privileged_groups=[{"g": 1.0}]
        )
    ours = {"sensitive_features": g, "privileged": "b"}
    assert tf.equalized_odds_difference(yt, yp, **ours) == pytest.approx(
        metric.equalized_odds_difference(), abs=1e-9
    )
    assert tf.disparate_impact_ratio(yt, yp, **ours) == pytest.approx(
        metric.disparate_impact(), abs=1e-9
    )


def test_undefined_gaps_say_why() -> None:
    no_positive_predictions = tf.disparate_impact_ratio(
        [0, 1, 0, 1], [0, 0, 0, 0], sensitive_features=["a", "a", "b", "b"]
    )
    assert isinstance(no_positive_predictions, Undefined)
    assert "no group has a positive prediction" in no_positive_predictions.reason
    # only group a has positives: TPR is defined for one group, so no spread exists
    eod = tf.equal_opportunity_difference(
        [1, 1, 0, 0], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"]
    )
    assert isinstance(eod, Undefined)
    assert "group b" in eod.reason and "no actual positives" in eod.reason
    # a third group without positives is left out of the spread, and said so
    audit = tf.fairness_audit(
        [1, 0, 1, 0, 0, 0],
        [1, 0, 0, 0, 1, 0],
        sensitive_features=["a", "a", "b", "b", "c", "c"],
        min_group_size=1,
        n_boot=0,
    )
    gap = audit.gaps["equal_opportunity_difference"]
    assert gap.value == pytest.approx(1.0)
    assert any("group c" in note for note in gap.notes)


def test_small_groups_take_no_part_in_gaps() -> None:
    rng = np.random.default_rng(0)
    groups = np.array(["big"] * 500 + ["other"] * 500 + ["tiny"] * 10)
    y_true = rng.integers(0, 2, len(groups))
    y_pred = y_true.copy()
    y_pred[-10:] = 1  # the tiny group is always selected
    audit = tf.fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=0)
    gap = audit.gaps["statistical_parity_difference"]
    assert gap.excluded == ("tiny",)
    assert "tiny" not in (gap.compared or ())
    with_tiny = tf.fairness_audit(
        y_true, y_pred, sensitive_features=groups, n_boot=0, min_group_size=1
    )
    assert with_tiny.gaps["statistical_parity_difference"].compared[0] == "tiny"  # type: ignore[index]
    notes = {row["group"]: row["note"] for row in audit.table()}
    assert "left out" in notes["tiny"] and notes["big"] == ""
