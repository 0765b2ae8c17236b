"""Bootstrap intervals: fairlearn's resampling as the reference, and what the verdicts do."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate

from trainguard.fairness import FairnessThresholds, fairness_audit, judge


def _two_groups(n_a: int, n_b: int, rate_a: float, rate_b: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.array(["a"] * n_a + ["b"] * n_b)
    y_pred = np.r_[rng.random(n_a) < rate_a, rng.random(n_b) < rate_b].astype(int)
    y_true = rng.integers(0, 2, n_a + n_b)
    return y_true, y_pred, groups


def test_interval_matches_fairlearns_bootstrap() -> None:
    y_true, y_pred, groups = _two_groups(900, 600, 0.45, 0.25)
    frame = MetricFrame(
        metrics=selection_rate,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
        n_boot=80,
        ci_quantiles=[0.16, 0.84],
        random_state=1,
    )
    low, high = frame.difference_ci()
    ours = fairness_audit(
        y_true, y_pred, sensitive_features=groups, n_boot=4000, confidence=0.68, random_state=2
    )
    ci = ours.gaps["statistical_parity_difference"].ci
    assert isinstance(ci, tuple)
    # two Monte Carlo estimates of the same 68% percentile interval; with fairlearn's 80
    # resamples each end has a standard error of about 0.004
    assert ci[0] == pytest.approx(low, abs=0.015)
    assert ci[1] == pytest.approx(high, abs=0.015)


def test_multinomial_shortcut_equals_row_resampling() -> None:
    y_true, y_pred, groups = _two_groups(400, 300, 0.5, 0.3, seed=3)
    fast = fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=3000, random_state=0)
    rows = fairness_audit(
        y_true,
        y_pred,
        sensitive_features=groups,
        n_boot=3000,
        random_state=1,
        sample_weight=np.ones(len(groups)),  # weights force the row-by-row path
    )
    for name, gap in fast.gaps.items():
        a, b = gap.ci, rows.gaps[name].ci
        assert isinstance(a, tuple) and isinstance(b, tuple)
        assert a == pytest.approx(b, abs=0.015), name


def test_interval_is_reproducible_and_contains_the_estimate() -> None:
    y_true, y_pred, groups = _two_groups(300, 300, 0.4, 0.3)
    one = fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=500, random_state=9)
    two = fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=500, random_state=9)
    other = fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=500, random_state=10)
    for name, gap in one.gaps.items():
        assert gap.ci == two.gaps[name].ci
        assert isinstance(gap.ci, tuple) and gap.ci[0] <= gap.value <= gap.ci[1]  # type: ignore[operator]
    assert (
        one.gaps["statistical_parity_difference"].ci
        != other.gaps["statistical_parity_difference"].ci
    )


def test_small_groups_noise_is_inconclusive_large_gap_fails() -> None:
    spd = "statistical_parity_difference"

    def audit(n_small: int):  # type: ignore[no-untyped-def]
        y_true, y_pred, groups = _two_groups(2000, n_small, 0.10, 0.25)
        return fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=2000)

    small, big = audit(40), audit(2000)
    th = FairnessThresholds(max_difference=0.1)
    assert small.gaps[spd].value > 0.1  # type: ignore[operator]
    small_verdict = judge(small.gaps[spd], th)
    assert small_verdict.passed is None
    assert "inconclusive" in small_verdict.message
    assert judge(big.gaps[spd], th).passed is False
    # judged on the point estimate alone, the small group's noise would fail
    assert judge(small.gaps[spd], FairnessThresholds(decide_on="point")).passed is False


def test_four_fifths_rule_on_disparate_impact() -> None:
    y_true, y_pred, groups = _two_groups(3000, 3000, 0.50, 0.30)
    audit = fairness_audit(y_true, y_pred, sensitive_features=groups, n_boot=1000)
    di = audit.gaps["disparate_impact_ratio"]
    assert di.value == pytest.approx(0.6, abs=0.05)
    assert judge(di, FairnessThresholds(min_ratio=0.8)).passed is False
    assert judge(di, FairnessThresholds(min_ratio=0.5)).passed is True
