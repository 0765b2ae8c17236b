"""Gaps between groups: parity differences and ratios, with bootstrap intervals.

Two ways of comparing groups, the two the field uses:

* ``between_groups`` (fairlearn): the spread over all groups, largest minus
  smallest rate for a difference, smallest over largest for a ratio.
* ``privileged`` (AIF360): the unprivileged rows (all groups but the privileged
  one, pooled) minus the privileged group, or unprivileged over privileged.

Groups with fewer rows than ``min_group_size`` take no part in any gap (they stay
in the per-group table, marked), so a handful of rows cannot produce a "bias".

The interval of a spread is the bootstrap interval of the signed difference
between the two groups that realise it (highest and lowest rate on the data),
not of the largest-minus-smallest of every resample: that statistic is folded at
zero and biased upwards, so its interval would call pure noise a disparity. A
small group's noisy rate gives a wide interval, and the verdict stays open.

References: M. Feldman et al., "Certifying and removing disparate impact", KDD 2015
(disparate impact); M. Hardt, E. Price, N. Srebro, "Equality of opportunity in
supervised learning", NeurIPS 2016 (equal opportunity, equalized odds);
R. Bellamy et al., "AI Fairness 360", 2018 (average odds difference);
A. Chouldechova, "Fair prediction with disparate impact", Big Data 2017
(predictive parity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from trainguard.fairness._bootstrap import percentile_interval
from trainguard.fairness._group_metrics import (
    GroupMetricName,
    GroupMetrics,
    rates_from_cells,
    undefined_reason,
)
from trainguard.fairness._undefined import MetricValue, Undefined

GapName = Literal[
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "average_odds_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
]
GAPS: tuple[GapName, ...] = get_args(GapName)
GAP_ABBREVIATIONS: dict[GapName, str] = {
    "statistical_parity_difference": "SPD",
    "disparate_impact_ratio": "DI",
    "equal_opportunity_difference": "EOD",
    "average_odds_difference": "AOD",
    "equalized_odds_difference": "EqOdds",
    "predictive_parity_difference": "PPD",
}
GapMethod = Literal["between_groups", "privileged"]

_BASED_ON: dict[str, tuple[GroupMetricName, ...]] = {
    "statistical_parity_difference": ("selection_rate",),
    "disparate_impact_ratio": ("selection_rate",),
    "equal_opportunity_difference": ("true_positive_rate",),
    "average_odds_difference": ("true_positive_rate", "false_positive_rate"),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
    "predictive_parity_difference": ("precision",),
}
_RATES: tuple[GroupMetricName, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
)

Pairs = dict[GroupMetricName, tuple[int, int] | None]


def extreme_pairs(cells: np.ndarray) -> Pairs:
    """For each rate, the groups (indices) with the highest and lowest defined value."""
    pairs: Pairs = {}
    for m in _RATES:
        r = rates_from_cells(cells, m)
        ok = np.flatnonzero(~np.isnan(r))
        pairs[m] = (int(ok[np.argmax(r[ok])]), int(ok[np.argmin(r[ok])])) if len(ok) >= 2 else None
    return pairs


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def gap_arrays(
    cells: np.ndarray, reference: int | None, pairs: Pairs | None = None
) -> dict[GapName, np.ndarray]:
    """Every gap of ``cells`` (shape ``(..., groups, 4)``), vectorised over leading axes.

    ``reference`` is the index of the privileged group; with ``None`` each gap is
    the difference between the groups ``pairs`` names (by default the extreme ones
    of ``cells``, which then must be 2-D). Entries are ``NaN`` where undefined.
    """
    if reference is not None:
        priv = cells[..., reference, :]
        both = np.stack([cells.sum(axis=-2) - priv, priv], axis=-2)
        unpriv_vs_priv = {m: rates_from_cells(both, m) for m in _RATES}
        d = {m: r[..., 0] - r[..., 1] for m, r in unpriv_vs_priv.items()}
        sel = unpriv_vs_priv["selection_rate"]
        di = _ratio(sel[..., 0], sel[..., 1])
        d_eo = np.maximum(np.abs(d["false_positive_rate"]), np.abs(d["true_positive_rate"]))
    else:
        use = extreme_pairs(cells) if pairs is None else pairs
        shape = cells.shape[:-2]
        d, di = {}, np.full(shape, np.nan)
        for m in _RATES:
            pair = use[m]
            if pair is None:
                d[m] = np.full(shape, np.nan)
                continue
            r = rates_from_cells(cells, m)
            d[m] = r[..., pair[0]] - r[..., pair[1]]
            if m == "selection_rate":
                di = _ratio(r[..., pair[1]], r[..., pair[0]])
        d_eo = np.maximum(d["true_positive_rate"], d["false_positive_rate"])
    return {
        "statistical_parity_difference": d["selection_rate"],
        "disparate_impact_ratio": di,
        "equal_opportunity_difference": d["true_positive_rate"],
        "average_odds_difference": 0.5 * (d["true_positive_rate"] + d["false_positive_rate"]),
        "equalized_odds_difference": d_eo,
        "predictive_parity_difference": d["precision"],
    }


@dataclass(frozen=True)
class Gap:
    """One between-group gap with its bootstrap confidence interval.

    Attributes
    ----------
    name
        Which gap (``statistical_parity_difference``, ...).
    value
        The gap, or :class:`Undefined` with the reason.
    ci
        ``(low, high)`` percentile bootstrap interval, :class:`Undefined`, or
        ``None`` when no bootstrap was run (or the gap itself is undefined).
    confidence
        Confidence level of ``ci``.
    method
        ``between_groups`` or ``privileged``.
    compared
        The two sides: the groups with the highest and lowest rate, or
        ``("unprivileged", <privileged group>)``.
    excluded
        Groups left out for having fewer rows than the minimum group size.
    notes
        Groups left out because the underlying rate is undefined for them.
    """

    name: GapName
    value: MetricValue
    ci: tuple[float, float] | Undefined | None
    confidence: float
    method: GapMethod
    compared: tuple[str, str] | None = None
    excluded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_ratio(self) -> bool:
        """True for the disparate impact ratio (parity is 1), False for differences (0)."""
        return self.name == "disparate_impact_ratio"

    @property
    def parity(self) -> float:
        """The value of the gap when the groups are treated alike."""
        return 1.0 if self.is_ratio else 0.0


def _compared(
    metrics: GroupMetrics, kept: np.ndarray, name: GapName, pairs: Pairs, point: dict[str, float]
) -> tuple[str, str] | None:
    """The two groups behind a spread (for two-rate gaps, those of the larger spread)."""
    candidates = [(m, pairs[m]) for m in _BASED_ON[name] if pairs[m] is not None]
    if not candidates:
        return None
    _, pair = max(candidates, key=lambda mp: point[mp[0]])
    assert pair is not None
    return metrics.groups.name(int(kept[pair[0]])), metrics.groups.name(int(kept[pair[1]]))


def _undefined_notes(metrics: GroupMetrics, kept: np.ndarray, name: GapName) -> tuple[str, ...]:
    notes = []
    for m in _BASED_ON[name]:
        r = metrics.rate_array(m)
        for i in kept[np.isnan(r[kept])]:
            notes.append(
                f"{m} undefined for group {metrics.groups.name(int(i))} "
                f"({undefined_reason(m)}); left out of the gap"
            )
    return tuple(notes)


def _fallback_reason(name: GapName, reference: int | None) -> str:
    if name == "disparate_impact_ratio":
        return (
            "the privileged group has no positive predictions (division by zero)"
            if reference is not None
            else "no group has a positive prediction (division by zero)"
        )
    rates = " or ".join(_BASED_ON[name])
    if reference is None:
        return f"fewer than two groups have a defined {rates}"
    return f"the {rates} of the privileged group or of the pooled unprivileged rows is undefined"


def _why_no_gaps(
    metrics: GroupMetrics, keep: np.ndarray, privileged: object, min_size: int
) -> str | None:
    if privileged is not None:
        ref = metrics.groups.index(privileged)
        if not keep[ref]:
            return (
                f"the privileged group {metrics.groups.name(ref)} has {int(metrics.sizes[ref])} "
                f"rows, fewer than min_group_size={min_size}"
            )
    if keep.sum() < 2:
        sizes = ", ".join(
            f"{n}={s}" for n, s in zip(metrics.names, metrics.sizes.tolist(), strict=True)
        )
        return f"fewer than two groups have at least min_group_size={min_size} rows ({sizes})"
    return None


def compute_gaps(
    metrics: GroupMetrics,
    *,
    min_group_size: int,
    privileged: object | None,
    boot_cells: np.ndarray | None,
    confidence: float,
) -> dict[GapName, Gap]:
    """Every gap of ``metrics`` with its percentile interval over ``boot_cells``."""
    keep = metrics.sizes >= min_group_size
    excluded = tuple(metrics.groups.name(int(i)) for i in np.flatnonzero(~keep))
    method: GapMethod = "between_groups" if privileged is None else "privileged"
    why_not = _why_no_gaps(metrics, keep, privileged, min_group_size)
    if why_not is not None:
        return {
            g: Gap(g, Undefined(why_not), None, confidence, method, None, excluded) for g in GAPS
        }
    kept = np.flatnonzero(keep)
    cells = metrics.cells[kept]
    reference = None
    pairs = extreme_pairs(cells)
    if privileged is not None:
        reference = kept.tolist().index(metrics.groups.index(privileged))
    point = gap_arrays(cells, reference, pairs)
    boot = None if boot_cells is None else gap_arrays(boot_cells[:, kept], reference, pairs)
    spreads = _pair_spreads(cells, pairs)
    gaps: dict[GapName, Gap] = {}
    for g in GAPS:
        v = float(point[g])
        notes = _undefined_notes(metrics, kept, g) if reference is None else ()
        value: MetricValue = v
        if np.isnan(v):
            value = Undefined(f"{g}: {'; '.join(notes) or _fallback_reason(g, reference)}")
        ci = (
            None
            if boot is None or isinstance(value, Undefined)
            else percentile_interval(boot[g], confidence, g)
        )
        gaps[g] = Gap(
            name=g,
            value=value,
            ci=ci,
            confidence=confidence,
            method=method,
            compared=(
                ("unprivileged", metrics.groups.name(int(kept[reference])))
                if reference is not None
                else _compared(metrics, kept, g, pairs, spreads)
            ),
            excluded=excluded,
            notes=notes,
        )
    return gaps


def _pair_spreads(cells: np.ndarray, pairs: Pairs) -> dict[str, float]:
    out: dict[str, float] = {}
    for m, pair in pairs.items():
        r = rates_from_cells(cells, m)
        out[m] = -np.inf if pair is None else float(r[pair[0]] - r[pair[1]])
    return out
