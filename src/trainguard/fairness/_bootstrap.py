"""Bootstrap resamples of per-group confusion cells and percentile intervals.

Every group metric and gap is a function of the per-group confusion cells, so a
row bootstrap (draw ``n`` rows with replacement, as fairlearn's ``MetricFrame``
does with ``n_boot``) only needs the resampled cell counts. Without sample
weights those counts are exactly ``Multinomial(n, cells / n)``, drawn in
``O(n_boot * groups)`` whatever the number of rows. With weights the rows
themselves are resampled.

Reference: B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*,
Chapman & Hall, 1993 (percentile interval, chapter 13).
"""

from __future__ import annotations

import numpy as np

from trainguard.core.progress import progress_bar
from trainguard.fairness._group_metrics import confusion_cells
from trainguard.fairness._undefined import Undefined

MIN_DEFINED_SHARE = 0.95
"""A confidence interval needs the statistic to be defined in this share of resamples."""


def resample_cells(
    cells: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``n_boot`` row-bootstrap resamples of ``cells``, shape ``(n_boot, groups, 4)``.

    ``rows`` is ``(pos_true, pos_pred, codes, weight)`` and is needed only for
    weighted data; without it the unweighted multinomial shortcut is used.
    """
    n_groups = cells.shape[0]
    if rows is None:
        n = round(float(cells.sum()))
        p = cells.ravel() / max(n, 1)
        draws = rng.multinomial(n, p, size=n_boot)
        return draws.reshape(n_boot, n_groups, 4).astype(np.float64)
    pos_true, pos_pred, codes, weight = rows
    n = len(codes)
    out = np.empty((n_boot, n_groups, 4))
    with progress_bar("bootstrap", total=n_boot) as bar:
        for b in range(n_boot):
            mult = np.bincount(rng.integers(0, n, n), minlength=n)
            out[b] = confusion_cells(pos_true, pos_pred, codes, n_groups, weight * mult)
            bar.advance()
    return out


def percentile_interval(
    samples: np.ndarray, confidence: float, what: str
) -> tuple[float, float] | Undefined:
    """Percentile interval of the defined (non-NaN) bootstrap ``samples``."""
    ok = ~np.isnan(samples)
    share = float(ok.mean()) if samples.size else 0.0
    if share < MIN_DEFINED_SHARE:
        return Undefined(
            f"{what} is undefined in {100 * (1 - share):.0f}% of bootstrap resamples "
            "(a group is small enough to lose all its positives, negatives or rows in a resample)"
        )
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(samples[ok], [alpha, 1.0 - alpha])
    return float(lo), float(hi)
