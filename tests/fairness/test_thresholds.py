"""Hardt et al. (2016) thresholds: exact parity on calibration data, at least fairlearn's accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

from trainguard.core.errors import DataError, NotFittedError, ParameterError
from trainguard.fairness.mitigation import GroupThresholds


def _scores(n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2])
    y = rng.random(n) < np.where(g == "a", 0.5, 0.3)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.5 * y + 0.6 * (g == "a"))))
    return s, y, g


class _Identity(ClassifierMixin, BaseEstimator):
    """The score column itself, as a prefit estimator for fairlearn."""

    def fit(self, X, y):  # type: ignore[no-untyped-def]
        self.fitted_ = True
        return self

    def predict(self, X):  # type: ignore[no-untyped-def]
        return np.asarray(X)[:, 0]


def _rates(
    p: np.ndarray, y: np.ndarray, g: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    tpr = {k: float(p[(g == k) & y].mean()) for k in np.unique(g)}
    fpr = {k: float(p[(g == k) & ~y].mean()) for k in np.unique(g)}
    return tpr, fpr


@pytest.mark.filterwarnings("ignore:The value of `prefit` is `True`")
@pytest.mark.parametrize(
    ("constraint", "fairlearn_name"),
    [("equalized_odds", "equalized_odds"), ("equal_opportunity", "true_positive_rate_parity")],
)
def test_parity_on_calibration_data_and_accuracy_vs_fairlearn(constraint, fairlearn_name) -> None:
    s, y, g = _scores()
    post = GroupThresholds(constraint=constraint).fit(s, y, sensitive_features=g)
    p = post.predict_proba(s, sensitive_features=g)
    tpr, fpr = _rates(p, y, g)
    # in expectation the constraint holds exactly on the calibration data
    assert max(tpr.values()) - min(tpr.values()) < 1e-9
    assert tpr["a"] == pytest.approx(post.tpr_, abs=1e-9)
    if constraint == "equalized_odds":
        assert max(fpr.values()) - min(fpr.values()) < 1e-9
    # drawn predictions: within sampling tolerance
    drawn = post.predict(s, sensitive_features=g, random_state=0).astype(bool)
    tpr_drawn, _ = _rates(drawn.astype(float), y, g)
    assert max(tpr_drawn.values()) - min(tpr_drawn.values()) < 0.05
    fl = ThresholdOptimizer(
        estimator=_Identity(), constraints=fairlearn_name, prefit=True, predict_method="predict"
    ).fit(s[:, None], y.astype(int), sensitive_features=g)
    pf = fl._pmf_predict(s[:, None], sensitive_features=g)[:, 1]
    ours_acc = np.mean(np.where(y, p, 1 - p))
    fairlearn_acc = np.mean(np.where(y, pf, 1 - pf))
    assert ours_acc >= fairlearn_acc - 1e-9  # exact optimum vs fairlearn's 1000-point grid
    assert ours_acc == pytest.approx(fairlearn_acc, abs=2e-3)


def test_rules_are_thresholds_with_probabilities() -> None:
    s, y, g = _scores(seed=2)
    post = GroupThresholds(constraint="equal_opportunity").fit(s, y, sensitive_features=g)
    for rule in post.rules_.values():
        assert rule.high >= rule.low
        assert 0.0 <= rule.p_low <= rule.p_mid <= rule.p_high <= 1.0


def test_errors() -> None:
    s, y, g = _scores(n=300)
    with pytest.raises(NotFittedError):
        GroupThresholds().predict_proba(s, sensitive_features=g)
    with pytest.raises(ParameterError, match="constraint"):
        GroupThresholds(constraint="demographic_parity")  # type: ignore[arg-type]
    no_pos = y & (g != "c")
    with pytest.raises(DataError, match="group c has no actual positives"):
        GroupThresholds().fit(s, no_pos, sensitive_features=g)
    post = GroupThresholds().fit(s, y, sensitive_features=g)
    with pytest.raises(DataError, match="not seen"):
        post.predict(s[:3], sensitive_features=["a", "b", "z"])
