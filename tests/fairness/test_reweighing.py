"""Reweighing (Kamiran & Calders 2012): independence under the weights, AIF360's weights."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from tests.fairness.conftest import CONTAINERS, random_case

from trainguard.fairness import data_bias, group_metrics
from trainguard.fairness.mitigation import reweighing_weights


@pytest.mark.parametrize("convert", CONTAINERS)
@pytest.mark.parametrize("two_features", [False, True])
def test_label_and_group_independent_under_weights(convert, two_features: bool) -> None:
    case = random_case(seed=8)
    sf = (
        {"g1": convert(case["g1"]), "g2": convert(case["g2"])}
        if two_features
        else convert(case["g1"])
    )
    w = reweighing_weights(convert(case["y_true"]), sensitive_features=sf)
    gm = group_metrics(case["y_true"], case["y_true"], sensitive_features=sf, sample_weight=w)
    overall = case["y_true"].mean()
    for name in gm.names:
        assert gm.value("base_rate", name) == pytest.approx(overall, abs=1e-12)
    # weight per group and per label is unchanged
    codes = gm.groups.codes
    for g in range(gm.groups.n_groups):
        assert w[codes == g].sum() == pytest.approx((codes == g).sum(), rel=1e-12)
    assert w[case["y_true"] == 1].sum() == pytest.approx(case["y_true"].sum(), rel=1e-12)
    before = data_bias(case["y_true"], sensitive_features=sf, n_boot=0)
    after = data_bias(case["y_true"], sensitive_features=sf, sample_weight=w, n_boot=0)
    assert before.base_rate_difference.value > 0.1  # type: ignore[operator]
    assert after.base_rate_difference.value == pytest.approx(0.0, abs=1e-12)


def test_weights_equal_aif360_reweighing() -> None:
    logging.getLogger().setLevel(logging.ERROR)
    pytest.importorskip("aif360")
    from aif360.algorithms.preprocessing import Reweighing
    from aif360.datasets import BinaryLabelDataset

    case = random_case(seed=9, groups=("a", "b"))
    w0 = case["weight"]
    frame = pd.DataFrame(
        {"g": (case["g1"] == "b").astype(float), "y": case["y_true"].astype(float)}
    )
    ds = BinaryLabelDataset(
        df=frame, label_names=["y"], protected_attribute_names=["g"], instance_weights_name=None
    )
    ds.instance_weights = w0.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Reweighing([{"g": 0.0}], [{"g": 1.0}]).fit_transform(ds).instance_weights
    ours = reweighing_weights(case["y_true"], sensitive_features=case["g1"], sample_weight=w0)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_data_bias_reports_representation_and_base_rates() -> None:
    y = np.r_[np.ones(30), np.zeros(70), np.ones(10), np.zeros(10)]
    groups = np.array(["a"] * 100 + ["b"] * 20)
    bias = data_bias(y, sensitive_features=groups, min_group_size=10, n_boot=200)
    assert bias.representation_ratio == pytest.approx(0.2)
    assert bias.base_rate_difference.value == pytest.approx(0.2)
    assert bias.base_rate_ratio.value == pytest.approx(0.6)
    assert bias.base_rate_difference.compared == ("b", "a")
    (finding,) = bias.to_findings("fairness", attribute="group")
    assert finding.check_id == "group.data-bias"
    assert {row["group"]: row["base_rate"] for row in finding.table} == {"a": 0.3, "b": 0.5}
