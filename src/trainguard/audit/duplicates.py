"""Exact and near-duplicate rows of a data set.

Exact duplicates are rows whose bytes hash equal (SHA-256 of the feature row or of the
whitespace/case-normalised text). Near duplicates are pairs whose cosine similarity is
at least ``threshold`` after centring, found with scikit-learn's exact nearest-neighbour
search (brute force over blocks, so memory stays bounded).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_real


@dataclass
class DuplicateReport:
    """Groups of exact duplicates and pairs of near duplicates (row indices)."""

    n_rows: int
    exact_groups: list[list[int]] = field(default_factory=list)
    near_pairs: list[tuple[int, int, float]] = field(default_factory=list)
    conflicting_labels: int = 0

    @property
    def exact_extra_rows(self) -> int:
        """Rows that repeat an earlier row exactly (group size minus one, summed)."""
        return sum(len(g) - 1 for g in self.exact_groups)

    def to_findings(self, stage: str, *, max_fraction: float = 0.01) -> list[Finding]:
        """One finding; fails when duplicated rows exceed ``max_fraction`` of the data."""
        frac = self.exact_extra_rows / max(self.n_rows, 1)
        return [
            Finding(
                stage=stage,
                check_id="duplicates",
                title="Exact and near-duplicate rows",
                severity=Severity.MEDIUM if self.conflicting_labels else Severity.LOW,
                passed=frac <= max_fraction and self.conflicting_labels == 0,
                threshold=max_fraction,
                metrics={
                    "exact_duplicate_rows": float(self.exact_extra_rows),
                    "exact_duplicate_fraction": frac,
                    "near_duplicate_pairs": float(len(self.near_pairs)),
                    "duplicates_with_conflicting_labels": float(self.conflicting_labels),
                },
                message="duplicated rows leak between splits and over-weight records; "
                "duplicates with different labels are label noise or poisoning",
                table=[
                    {"rows": ", ".join(map(str, g[:10])), "copies": len(g)}
                    for g in self.exact_groups[:50]
                ],
            )
        ]


def _row_keys(ds: Dataset) -> list[bytes]:
    if ds.texts is not None:
        return [
            hashlib.sha256(" ".join(t.lower().split()).encode("utf-8")).digest() for t in ds.texts
        ]
    flat = np.ascontiguousarray(ds.X.reshape(len(ds), -1))
    return [hashlib.sha256(row.tobytes()).digest() for row in flat]


def find_duplicates(
    ds: Dataset,
    *,
    near_threshold: float = 0.995,
    features: np.ndarray | None = None,
    max_rows_near: int = 20_000,
) -> DuplicateReport:
    """Find exact duplicate groups and near-duplicate pairs in ``ds``.

    Parameters
    ----------
    ds
        The data set.
    near_threshold
        Cosine similarity (of centred feature rows, or of ``features`` when given, for
        example text embeddings) at or above which two rows are near duplicates.
    features
        Optional representation for the near-duplicate search; defaults to ``ds.X``.
    max_rows_near
        The near-duplicate search runs on at most this many rows (the first ones).
    """
    check_real(near_threshold, "near_threshold", "find_duplicates", low=0.0, high=1.0)
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(_row_keys(ds)):
        groups.setdefault(key, []).append(i)
    exact = [g for g in groups.values() if len(g) > 1]
    conflicting = sum(1 for g in exact if len(set(ds.y[g].tolist())) > 1)
    report = DuplicateReport(n_rows=len(ds), exact_groups=exact, conflicting_labels=conflicting)
    rep = features if features is not None else ds.X.reshape(len(ds), -1)
    if rep.shape[1] == 0 or len(ds) < 2:
        return report
    rep = np.asarray(rep[:max_rows_near], dtype=np.float32)
    rep = rep - rep.mean(0)
    norms = np.linalg.norm(rep, axis=1, keepdims=True)
    rep = rep / np.maximum(norms, 1e-12)
    exact_members = {i for g in exact for i in g[1:]}
    block = 2048
    for start in range(0, len(rep), block):
        sims = rep[start : start + block] @ rep.T
        rows, cols = np.nonzero(sims >= near_threshold)
        for r, c in zip(rows, cols, strict=True):
            i = start + int(r)
            j = int(c)
            if j > i and j not in exact_members and i not in exact_members:
                report.near_pairs.append((i, j, float(sims[r, c])))
    return report
