"""Individual fairness against AIF360's definitions (Speicher et al. 2018, Zemel et al. 2013)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from tests.fairness.conftest import CONTAINERS, random_case

from trainguard.core.errors import ParameterError
from trainguard.fairness import (
    Undefined,
    between_group_generalized_entropy_index,
    consistency_score,
    generalized_entropy_index,
    individual_fairness,
    theil_index,
)

logging.getLogger().setLevel(logging.ERROR)
aif = pytest.importorskip("aif360.sklearn.metrics")


@pytest.mark.parametrize("convert", CONTAINERS)
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_generalized_entropy_equals_aif360(convert, alpha: float) -> None:
    case = random_case(seed=1)
    yt, yp = case["y_true"], case["y_pred"]
    ours = generalized_entropy_index(convert(yt), convert(yp), alpha=alpha)
    assert ours == pytest.approx(aif.generalized_entropy_error(yt, yp, alpha=alpha), abs=1e-9)


def test_theil_index_equals_aif360() -> None:
    case = random_case(seed=2)
    b = 1 + case["y_pred"] - case["y_true"]
    assert theil_index(case["y_true"], case["y_pred"]) == pytest.approx(
        aif.theil_index(b), abs=1e-9
    )


def test_hand_computed_theil() -> None:
    # benefits b = (1, 2, 0, 1): mean 1; Theil = mean(b ln b) = (0 + 2 ln 2 + 0 + 0) / 4
    assert theil_index([1, 0, 1, 0], [1, 1, 0, 0]) == pytest.approx(np.log(2) / 2, abs=1e-12)
    assert generalized_entropy_index([1, 1], [1, 1]) == 0.0


def test_between_group_index_equals_aif360() -> None:
    case = random_case(seed=4)
    yt, yp, g = case["y_true"], case["y_pred"], case["g1"]
    y_idx = pd.Series(yt, index=pd.Index(g, name="g"))
    for alpha in (1.0, 2.0):
        ours = between_group_generalized_entropy_index(yt, yp, sensitive_features=g, alpha=alpha)
        theirs = aif.between_group_generalized_entropy_error(y_idx, yp, prot_attr="g", alpha=alpha)
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_consistency_equals_aif360() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    for k in (1, 5, 10):
        ours = consistency_score(x, y, n_neighbors=k)
        assert ours == pytest.approx(aif.consistency_score(x, y, n_neighbors=k), abs=1e-9)
    assert consistency_score(x, np.ones(300, int)) == 1.0
    # a random subset of query rows estimates the same mean
    sampled = [consistency_score(x, y, max_queries=100, random_state=s) for s in range(20)]
    assert np.mean(sampled) == pytest.approx(consistency_score(x, y), abs=0.02)
    assert consistency_score(x, y, max_queries=1000) == consistency_score(x, y)


def test_undefined_and_bad_parameters() -> None:
    value = generalized_entropy_index([1, 0], [0, 0], alpha=0.0)
    assert isinstance(value, Undefined) and "alpha=0" in value.reason
    all_missed = theil_index([1, 1], [0, 0])
    assert isinstance(all_missed, Undefined)
    with pytest.raises(ParameterError, match="n_neighbors"):
        consistency_score(np.zeros((3, 2)), [0, 1, 0], n_neighbors=5)


def test_individual_fairness_bundle() -> None:
    case = random_case(seed=6)
    x = np.random.default_rng(1).normal(size=(len(case["y_true"]), 3))
    result = individual_fairness(case["y_true"], case["y_pred"], X=x, n_neighbors=3)
    assert result.theil_index == theil_index(case["y_true"], case["y_pred"])
    assert result.consistency == consistency_score(x, case["y_pred"], n_neighbors=3)
    (finding,) = result.to_findings("fairness")
    assert finding.metrics["consistency"] == result.consistency
