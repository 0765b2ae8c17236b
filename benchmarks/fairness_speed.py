"""Speed: every group metric and gap on 1,000,000 rows, two sensitive attributes.

Ours (``group_metrics`` + all six gaps, vectorised numpy) against fairlearn's
``MetricFrame`` computing the same per-group metrics (count, base rate, selection
rate, TPR, FPR, FNR, precision, accuracy) over sex x race and the same gaps
(``difference()`` / ``ratio()``), on the same arrays, in one process. A third row
adds our 1,000-resample bootstrap intervals for every gap.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.fairness_speed
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from benchmarks.common import print_table
from trainguard.fairness import fairness_audit, group_metrics


def make_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Labels, predictions and two sensitive columns (2 x 5 groups, unequal sizes and rates)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["Female", "Male"], dtype=object), n, p=[0.33, 0.67])
    race = rng.choice(
        np.array(["Amer-Indian", "Asian", "Black", "Other", "White"], dtype=object),
        n,
        p=[0.01, 0.03, 0.1, 0.01, 0.85],
    )
    y_true = (rng.random(n) < 0.2 + 0.1 * (sex == "Male")).astype(np.int64)
    y_pred = (rng.random(n) < 0.1 + 0.6 * y_true + 0.05 * (race == "White")).astype(np.int64)
    return {"y_true": y_true, "y_pred": y_pred, "sex": sex, "race": race}


def base_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def fairlearn_all(d: dict[str, np.ndarray]) -> dict[str, float]:
    frame = MetricFrame(
        metrics={
            "count": count,
            "base_rate": base_rate,
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
            "precision": skm.precision_score,
            "accuracy": skm.accuracy_score,
        },
        y_true=d["y_true"],
        y_pred=d["y_pred"],
        sensitive_features=pd.DataFrame({"sex": d["sex"], "race": d["race"]}),
    )
    diff, ratio = frame.difference(), frame.ratio()
    return {
        "statistical_parity_difference": diff["selection_rate"],
        "disparate_impact_ratio": ratio["selection_rate"],
        "equal_opportunity_difference": diff["tpr"],
        "equalized_odds_difference": max(diff["tpr"], diff["fpr"]),
        "average_odds_difference": (diff["tpr"] + diff["fpr"]) / 2,
        "predictive_parity_difference": diff["precision"],
    }


def ours_all(d: dict[str, np.ndarray], n_boot: int = 0) -> dict[str, float]:
    sf = {"sex": d["sex"], "race": d["race"]}
    audit = fairness_audit(
        d["y_true"], d["y_pred"], sensitive_features=sf, min_group_size=1, n_boot=n_boot
    )
    audit.metrics.table()  # materialise every per-group value, as MetricFrame does
    return {name: gap.value for name, gap in audit.gaps.items()}  # type: ignore[misc]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    d = make_data(args.rows)
    t_fl, fl = timed(lambda: fairlearn_all(d), args.repeat)
    t_ours, ours = timed(lambda: ours_all(d), args.repeat)
    t_boot, _ = timed(lambda: ours_all(d, n_boot=1000), args.repeat)
    assert isinstance(fl, dict) and isinstance(ours, dict)
    worst = max(abs(ours[k] - fl[k]) for k in fl)
    gm = group_metrics(
        d["y_true"], d["y_pred"], sensitive_features={"sex": d["sex"], "race": d["race"]}
    )
    print_table(
        f"Fairness metrics on {args.rows:,} rows, sex x race ({len(gm.names)} groups); "
        f"median of {args.repeat} runs; largest gap difference ours vs fairlearn {worst:.1e}",
        ["implementation", "seconds", "speed-up vs fairlearn"],
        [
            ["fairlearn 0.15 MetricFrame (8 metrics, difference/ratio)", t_fl, 1.0],
            ["trainguard group_metrics + 6 gaps", t_ours, t_fl / t_ours],
            ["trainguard + 1,000-resample bootstrap CI of every gap", t_boot, t_fl / t_boot],
        ],
    )


if __name__ == "__main__":
    main()
