"""Norm bounding clips and averages as Sun et al. describe; anomaly scores flag boosted and flipped updates only."""

from __future__ import annotations

import numpy as np
import pytest

from trainguard.core.errors import ParameterError
from trainguard.federated.anomaly import AnomalyReport, modified_z_scores, score_round
from trainguard.federated.robust import cosine, l2_norm, norm_bounded_mean


def test_norm_bounded_mean_clips_each_update_then_weights() -> None:
    big = [np.array([3.0, 4.0]), np.array([0.0])]  # norm 5 -> scaled to norm 1
    small = [np.array([0.3, 0.4]), np.array([0.0])]  # norm 0.5, kept
    zero = [np.zeros(2), np.zeros(1)]  # zero norm stays zero, no division
    out = norm_bounded_mean([big, small, zero], [1.0, 2.0, 1.0], max_norm=1.0)
    expected = (np.array([0.6, 0.8]) * 1 + np.array([0.3, 0.4]) * 2) / 4
    np.testing.assert_allclose(out[0], expected, atol=1e-12)
    np.testing.assert_allclose(out[1], [0.0])


def test_norm_bounded_noise_comes_from_the_generator() -> None:
    u = [[np.ones(4)]]
    a = norm_bounded_mean(u, max_norm=10.0, noise_std=0.5, rng=np.random.default_rng(7))
    b = norm_bounded_mean(u, max_norm=10.0, noise_std=0.5, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], 1.0)
    with pytest.raises(ParameterError, match="'rng' parameter"):
        norm_bounded_mean(u, max_norm=1.0, noise_std=0.5)
    with pytest.raises(ParameterError, match="'weights' parameter"):
        norm_bounded_mean(u, [-1.0], max_norm=1.0)
    with pytest.raises(ParameterError, match="'max_norm' parameter"):
        norm_bounded_mean(u, max_norm=0.0)


def test_modified_z_scores_match_iglewicz_hoaglin() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    mad = np.median(np.abs(x - 3.0))  # 1.0
    np.testing.assert_allclose(modified_z_scores(x), 0.6745 * (x - 3.0) / mad)
    flat = np.array([2.0, 2.0, 2.0, 5.0])  # MAD 0 -> mean absolute deviation
    np.testing.assert_allclose(modified_z_scores(flat), (flat - 2.0) / (1.253314 * 0.75))
    np.testing.assert_array_equal(modified_z_scores([3.0, 3.0]), [0.0, 0.0])
    assert (
        l2_norm([np.array([3.0]), np.array([4.0])]) == 5.0
        and cosine(np.zeros(2), np.ones(2)) == 0.0
    )


def _honest(rng: np.random.Generator, n: int) -> list[list[np.ndarray]]:
    direction = np.linspace(1.0, 2.0, 20)
    return [[direction + rng.normal(0, 0.3, 20)] for _ in range(n)]


def test_boosted_and_flipped_updates_are_flagged_honest_ones_are_not() -> None:
    rng = np.random.default_rng(0)
    updates = _honest(rng, 6)
    updates.append([10.0 * updates[0][0]])  # boosted (model replacement-like)
    updates.append([-updates[1][0]])  # sign-flipped
    aggregate = [np.median(np.stack([u[0] for u in updates]), axis=0)]
    rows = score_round(3, list(range(8)), updates, aggregate, malicious=frozenset({6, 7}))
    flagged = {r.client for r in rows if r.flagged}
    assert flagged == {6, 7}
    by = {r.client: r for r in rows}
    assert by[6].norm_z > 3.5 and by[7].cosine_z < -3.5 and by[7].cosine < 0
    report = AnomalyReport(scores=rows)
    assert report.detection_rates() == {"true_positive_rate": 1.0, "false_positive_rate": 0.0}
    findings = report.to_findings("federated")
    assert [f.check_id for f in findings] == [
        "update-anomalies", "client-6-anomalous-updates", "client-7-anomalous-updates",
    ]  # fmt: skip
    assert (
        findings[0].failed
        and len(findings[0].table) == 8
        and findings[1].metrics["first_flagged_round"] == 3
    )


def test_a_clean_round_passes() -> None:
    rows = score_round(
        1, list(range(5)), _honest(np.random.default_rng(1), 5), [np.linspace(1.0, 2.0, 20)]
    )
    (summary,) = AnomalyReport(scores=rows).to_findings("federated")
    assert summary.passed and summary.metrics["flagged_clients"] == 0.0
