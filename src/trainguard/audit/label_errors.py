"""Likely label errors with confident learning (Northcutt, Jiang & Chuang 2021), via cleanlab.

Out-of-sample predicted probabilities come from cross-validation of a simple
scikit-learn model (or are passed in); cleanlab's ``find_label_issues`` then ranks the
rows whose given label disagrees most with what the model confidently predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import require
from trainguard.core.findings import Finding, Severity


@dataclass
class LabelErrorReport:
    """Rows whose labels are likely wrong, most suspicious first."""

    n_rows: int
    issues: list[int] = field(default_factory=list)
    suggested: list[int] = field(default_factory=list)
    label_quality: np.ndarray | None = None

    @property
    def fraction(self) -> float:
        """Share of rows flagged."""
        return len(self.issues) / max(self.n_rows, 1)

    def to_findings(
        self, stage: str, *, max_fraction: float = 0.05, class_names: list[str] | None = None
    ) -> list[Finding]:
        """One finding; fails when more than ``max_fraction`` of the rows look mislabelled."""

        def name(c: int) -> str:
            return class_names[c] if class_names else str(c)

        return [
            Finding(
                stage=stage,
                check_id="label-errors",
                title="Likely label errors (confident learning)",
                severity=Severity.MEDIUM,
                passed=self.fraction <= max_fraction,
                threshold=max_fraction,
                metrics={
                    "flagged_rows": float(len(self.issues)),
                    "flagged_fraction": self.fraction,
                },
                table=[
                    {"row": i, "suggested label": name(s)}
                    for i, s in zip(self.issues[:50], self.suggested[:50], strict=True)
                ],
            )
        ]


def out_of_sample_probabilities(ds: Dataset, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Cross-validated class probabilities of a logistic regression on flattened features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = ds.X.reshape(len(ds), -1)
    min_class = int(np.bincount(ds.y).min())
    cv = StratifiedKFold(n_splits=max(2, min(folds, min_class)), shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return np.asarray(cross_val_predict(model, X, ds.y, cv=cv, method="predict_proba"))


def find_label_errors(
    ds: Dataset, *, pred_probs: np.ndarray | None = None, seed: int = 0
) -> LabelErrorReport:
    """Flag likely mislabelled rows of ``ds`` with cleanlab's confident learning."""
    require("cleanlab", "audit")
    from cleanlab.filter import find_label_issues

    probs = pred_probs if pred_probs is not None else out_of_sample_probabilities(ds, seed=seed)
    ranked = find_label_issues(
        labels=ds.y, pred_probs=probs, return_indices_ranked_by="self_confidence"
    )
    issues = [int(i) for i in ranked]
    return LabelErrorReport(
        n_rows=len(ds),
        issues=issues,
        suggested=[int(probs[i].argmax()) for i in issues],
        label_quality=probs[np.arange(len(ds)), ds.y],
    )
