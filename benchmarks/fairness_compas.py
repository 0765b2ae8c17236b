"""COMPAS: ProPublica's published error rates by race, reproduced from the data alone.

ProPublica ("How We Analyzed the COMPAS Recidivism Algorithm", Larson et al., 2016)
call a defendant "higher risk" when the COMPAS score is Medium or High
(``score_text != "Low"``) and compare it with recidivism within two years. Their
published table: defendants who did not reoffend but were labelled higher risk,
Black 44.9% / White 23.5% (false positive rate); defendants who reoffended but were
labelled lower risk, Black 28.0% / White 47.7% (false negative rate); their
notebook prints 44.85 / 23.45 and 27.99 / 47.72.

``compas-scores-two-years.csv`` already is the population of that table (every
defendant with a valid score who reoffended within two years or was observed for
two years: 7,214 rows, 3,696 Black and 2,454 White, the same counts as their
notebook's truth table). Their score analysis further keeps
``days_b_screening_arrest`` in [-30, 30], ``is_recid != -1``,
``c_charge_degree != "O"`` and ``score_text != "N/A"`` (6,172 rows); both are shown.
Each rate is computed by trainguard's ``group_metrics`` and by fairlearn's
``MetricFrame`` side by side; gaps (privileged group: Caucasian) carry 95%
bootstrap intervals.

A last table post-processes the COMPAS decile scores (score / 10) with our Hardt et
al. equalized-odds thresholds (``mitigate_scores``), fitted on a random half of the
two-year population (seed 0) and evaluated on the other half, beside the
Medium-or-High cut-off on the same rows.

    .venv/bin/python -m benchmarks.fairness_compas
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate

from benchmarks.common import SHARED_DATA, print_table
from trainguard.fairness import GAPS, AuditSettings, fairness_audit, group_metrics
from trainguard.fairness.mitigation import mitigate_scores

PUBLISHED = {  # ProPublica's notebook output (percent)
    "African-American": {"fpr": 44.85, "fnr": 27.99},
    "Caucasian": {"fpr": 23.45, "fnr": 47.72},
}


def populations() -> dict[str, pd.DataFrame]:
    df = pd.read_csv(SHARED_DATA / "compas" / "compas-scores-two-years.csv")
    score_filter = (
        df["days_b_screening_arrest"].between(-30, 30)
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & (df["score_text"] != "N/A")
    )
    return {
        "two-year population (ProPublica's error-rate table)": df,
        "score-analysis filter": df[score_filter],
    }


def main() -> None:
    for title, df in populations().items():
        sub = df[df["race"].isin(list(PUBLISHED))]
        y_true = sub["two_year_recid"].to_numpy()
        high = (sub["score_text"] != "Low").to_numpy()
        race = sub["race"].to_numpy()
        ours = group_metrics(y_true, high, sensitive_features=race)
        theirs = MetricFrame(
            metrics={"fpr": false_positive_rate, "fnr": false_negative_rate},
            y_true=y_true,
            y_pred=high,
            sensitive_features=race,
        ).by_group
        rows = []
        for r, pub in PUBLISHED.items():
            fpr, fnr = ours.value("false_positive_rate", r), ours.value("false_negative_rate", r)
            rows.append(
                [
                    r,
                    int(ours.sizes[ours.names.index(r)]),
                    f"{100 * fpr:.2f}",  # type: ignore[operator]
                    f"{100 * theirs.loc[r, 'fpr']:.2f}",
                    f"{pub['fpr']:.2f}",
                    f"{100 * fnr:.2f}",  # type: ignore[operator]
                    f"{100 * theirs.loc[r, 'fnr']:.2f}",
                    f"{pub['fnr']:.2f}",
                ]
            )
        print_table(
            f"COMPAS, {title}: {len(df):,} rows; 'higher risk' = Medium or High",
            [
                "race",
                "rows",
                "FPR % ours",
                "FPR % fairlearn",
                "FPR % published",
                "FNR % ours",
                "FNR % fairlearn",
                "FNR % published",
            ],
            rows,
        )
        audit = fairness_audit(
            y_true, high, sensitive_features=race, privileged="Caucasian", n_boot=2000
        )
        gap_rows = []
        for name, gap in audit.gaps.items():
            lo, hi = gap.ci  # type: ignore[misc]
            gap_rows.append([name, f"{gap.value:.3f}", f"[{lo:.3f}, {hi:.3f}]"])
        print_table(
            f"COMPAS, {title}: African-American minus (or over) Caucasian",
            ["gap", "value", "95% bootstrap CI"],
            gap_rows,
        )
    thresholds_on_scores(populations()["two-year population (ProPublica's error-rate table)"])


def thresholds_on_scores(df: pd.DataFrame) -> None:
    """Equalized-odds thresholds on the decile scores: fitted on one half, judged on the other."""
    sub = df[df["race"].isin(list(PUBLISHED))].reset_index(drop=True)
    rows = np.random.default_rng(0).permutation(len(sub))
    fit_rows, eval_rows = np.sort(rows[: len(sub) // 2]), np.sort(rows[len(sub) // 2 :])
    race = sub["race"].to_numpy()
    res = mitigate_scores(
        sub["two_year_recid"].to_numpy() == 1,
        sub["decile_score"].to_numpy() / 10.0,
        (sub["score_text"] != "Low").to_numpy(),
        sensitive={"race": race},
        fit_rows=fit_rows,
        eval_rows=eval_rows,
        constraint="equalized_odds",
        settings=AuditSettings(privileged={"race": "Caucasian"}, n_boot=2000),
    )
    out = []
    for when, audit in (("Medium or High", res.before), ("equalized-odds thresholds", res.after)):
        m = audit.metrics
        out += [
            [
                when,
                r,
                f"{100 * m.value('false_positive_rate', r):.2f}",  # type: ignore[operator]
                f"{100 * m.value('false_negative_rate', r):.2f}",  # type: ignore[operator]
            ]
            for r in PUBLISHED
        ]
    print_table(
        f"COMPAS decile scores, equalized-odds thresholds (ours): fitted on {len(fit_rows):,} "
        f"rows, evaluated on {len(eval_rows):,}",
        ["prediction", "race", "FPR %", "FNR %"],
        out,
    )
    gap_rows = []
    for g in GAPS:
        red = res.reduction(g)
        gap_rows.append(
            [
                g,
                f"{res.before.gaps[g].value:.3f}",
                f"{res.after.gaps[g].value:.3f}",
                "-" if red is None else f"{100 * red:.0f}%",
            ]
        )
    acc = res.accuracy_change
    gap_rows.append(
        [
            "accuracy (agreement with two-year recidivism)",
            f"{100 * res.before.accuracy:.2f}%",  # type: ignore[operator]
            f"{100 * res.after.accuracy:.2f}%",  # type: ignore[operator]
            "-" if acc is None else f"{100 * acc:+.2f} points",
        ]
    )
    print_table(
        "COMPAS decile scores, African-American vs Caucasian, before and after the thresholds",
        ["gap", "Medium or High", "thresholds", "reduction (share of the distance to parity)"],
        gap_rows,
    )


if __name__ == "__main__":
    main()
