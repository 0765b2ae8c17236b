"""Real data: Adult (sex x race against fairlearn) and COMPAS (ProPublica's published rates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from tests.conftest import shared_path

from trainguard.core.datasets import load_dataset
from trainguard.fairness import audit_attributes, group_metrics


def test_adult_intersectional_groups_equal_fairlearn() -> None:
    ds = load_dataset(f"adult:{shared_path('adult')}")
    education = ds.X[:, ds.feature_names.index("education-num")]
    y_pred = education > np.quantile(education, 0.7)  # a crude screening rule
    y_true = ds.y == 1
    sf = {"sex": ds.sensitive["sex"], "race": ds.sensitive["race"]}
    gm = group_metrics(y_true, y_pred, sensitive_features=sf)
    frame = MetricFrame(
        metrics={"sr": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.DataFrame(sf),
    ).by_group
    assert len(gm.names) == len(frame) == 10
    for i, (label, row) in enumerate(frame.iterrows()):
        assert gm.groups.labels[i] == label
        assert gm.value("selection_rate", label) == pytest.approx(row["sr"], abs=1e-9)
        assert gm.value("true_positive_rate", label) == pytest.approx(row["tpr"], abs=1e-9)
        assert gm.value("false_positive_rate", label) == pytest.approx(row["fpr"], abs=1e-9)
    audits = audit_attributes(y_true, y_pred, sensitive=sf)
    assert list(audits) == ["sex", "race", "sex x race"]
    inter = audits["sex x race"].gaps["statistical_parity_difference"]
    assert inter.excluded == ()  # every sex x race group of Adult has at least 30 rows
    assert audits["sex"].gaps["statistical_parity_difference"].ci is not None


PROPUBLICA = {  # "How We Analyzed the COMPAS Recidivism Algorithm" (Larson et al., 2016)
    "African-American": {"fpr": 0.4485, "fnr": 0.2799},
    "Caucasian": {"fpr": 0.2345, "fnr": 0.4772},
}


def test_compas_reproduces_propublica_error_rates() -> None:
    frame = pd.read_csv(shared_path("compas", "compas-scores-two-years.csv"))
    frame = frame[frame["race"].isin(list(PROPUBLICA))]
    high_risk = frame["score_text"] != "Low"  # ProPublica: Medium or High is "higher risk"
    gm = group_metrics(frame["two_year_recid"], high_risk, sensitive_features=frame["race"])
    for race, published in PROPUBLICA.items():
        assert round(gm.value("false_positive_rate", race), 4) == published["fpr"]  # type: ignore[arg-type]
        assert round(gm.value("false_negative_rate", race), 4) == published["fnr"]  # type: ignore[arg-type]
