"""Run one mitigation against a baseline model and compare gaps and accuracy before/after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError, ParameterError
from trainguard.core.findings import Finding, Severity
from trainguard.core.training import TrainedModel, predict_proba, train_model
from trainguard.core.validation import check_choice
from trainguard.fairness._audit import AuditSettings, FairnessAudit
from trainguard.fairness._gaps import GAPS, GapName
from trainguard.fairness._inputs import attribute_slug
from trainguard.fairness._undefined import MetricValue, Undefined, as_optional
from trainguard.fairness.mitigation.expgrad import ZooClassifier, exponentiated_gradient
from trainguard.fairness.mitigation.reweighing import reweighing_weights
from trainguard.fairness.mitigation.thresholds import GroupThresholds

MitigationMethod = Literal["reweighing", "expgrad", "thresholds"]
METHODS: tuple[MitigationMethod, ...] = ("reweighing", "expgrad", "thresholds")
DEFAULT_CONSTRAINT = {
    "reweighing": None,
    "expgrad": "demographic_parity",
    "thresholds": "equalized_odds",
}
_CONSTRAINTS = {
    "expgrad": ("demographic_parity", "equalized_odds"),
    "thresholds": ("equalized_odds", "equal_opportunity"),
}


def _change(before: MetricValue, after: MetricValue, parity: float) -> float | None:
    """Relative reduction of the distance to parity (0.5 = the gap halved)."""
    if isinstance(before, Undefined) or isinstance(after, Undefined):
        return None
    b, a = abs(before - parity), abs(after - parity)
    return None if b == 0 else 1.0 - a / b


@dataclass(frozen=True)
class MitigationResult:
    """Gaps and accuracy of a baseline and of its mitigated version, on the same test rows.

    ``model`` is the retrained model for ``reweighing`` (``None`` otherwise).
    """

    method: MitigationMethod
    constraint: str | None
    before: FairnessAudit
    after: FairnessAudit
    model: TrainedModel | None = None

    def reduction(self, gap: GapName) -> float | None:
        """Share of the distance to parity that the mitigation removed (``None`` if undefined)."""
        g = self.before.gaps[gap]
        return _change(g.value, self.after.gaps[gap].value, g.parity)

    @property
    def accuracy_change(self) -> float | None:
        """Accuracy after minus before (negative: the mitigation cost accuracy)."""
        b, a = self.before.accuracy, self.after.accuracy
        if isinstance(b, Undefined) or isinstance(a, Undefined):
            return None
        return a - b

    def table(self) -> list[dict[str, Any]]:
        """Rows ``{metric, before, after, reduction}``: every gap, then accuracy."""
        rows: list[dict[str, Any]] = [
            {
                "metric": g,
                "before": as_optional(self.before.gaps[g].value),
                "after": as_optional(self.after.gaps[g].value),
                "reduction": self.reduction(g),
            }
            for g in GAPS
        ]
        rows.append(
            {
                "metric": "accuracy",
                "before": as_optional(self.before.accuracy),
                "after": as_optional(self.after.accuracy),
                "reduction": None,
            }
        )
        return rows

    def to_findings(self, stage: str, *, evidence: Sequence[str] = ()) -> list[Finding]:
        """One informational finding with the before/after table."""
        label = self.method + (f" ({self.constraint})" if self.constraint else "")
        spd = self.reduction("statistical_parity_difference")
        acc = self.accuracy_change
        metrics: dict[str, float | None] = {
            f"{g}_{when}": as_optional(getattr(self, when).gaps[g].value)
            for g in GAPS
            for when in ("before", "after")
        }
        metrics["accuracy_before"] = as_optional(self.before.accuracy)
        metrics["accuracy_after"] = as_optional(self.after.accuracy)
        msg = (f"statistical parity gap reduced by {100 * spd:.0f}%" if spd is not None else "") + (
            f", accuracy {100 * acc:+.2f} points" if acc is not None else ""
        )
        return [
            Finding(
                stage=stage,
                check_id=f"{attribute_slug(self.before.name)}.mitigation-{self.method}",
                title=f"Mitigation by {label}: gaps and accuracy before and after",
                severity=Severity.INFO,
                metrics=metrics,
                message=msg.lstrip(", "),
                evidence=list(evidence),
                table=self.table(),
            )
        ]


def _binary_target(ds: Dataset, positive: int) -> np.ndarray:
    if ds.n_classes != 2:
        raise DataError(
            f"{ds.name}: label '{ds.label_name}' has {ds.n_classes} classes "
            f"({', '.join(ds.class_names[:6])}); fairness mitigation needs a binary label"
        )
    return ds.y == positive


def _sensitive(ds: Dataset, names: Sequence[str]) -> dict[str, np.ndarray]:
    missing = [n for n in names if n not in ds.sensitive]
    if missing:
        known = ", ".join(ds.sensitive) or "none"
        raise DataError(
            f"{ds.name}: no sensitive column {missing[0]!r} (sensitive columns: {known})"
        )
    return {n: ds.sensitive[n] for n in names}


def _threshold_predictions(
    constraint: str,
    score_fit: np.ndarray,
    y_fit: np.ndarray,
    sensitive_fit: Mapping[str, Any],
    score_eval: np.ndarray,
    sensitive_eval: Mapping[str, Any],
    seed: int,
) -> np.ndarray:
    post = GroupThresholds(constraint=constraint).fit(  # type: ignore[arg-type]
        score_fit, y_fit, sensitive_features=dict(sensitive_fit)
    )
    pred = post.predict(score_eval, sensitive_features=dict(sensitive_eval), random_state=seed)
    return np.asarray(pred == 1)


def mitigate_scores(
    y_true: Any,
    y_score: Any,
    y_pred: Any,
    *,
    sensitive: Mapping[str, Any],
    fit_rows: np.ndarray,
    eval_rows: np.ndarray,
    constraint: str = "equalized_odds",
    settings: AuditSettings | None = None,
) -> MitigationResult:
    """Hardt et al. thresholds on given scores, without a model.

    Fits :class:`GroupThresholds` on rows ``fit_rows`` and compares the original
    predictions ``y_pred`` with the post-processed ones on ``eval_rows``.
    ``y_true`` and ``y_pred`` are booleans (True = favourable).
    """
    check_choice(constraint, "constraint", "mitigate_scores", _CONSTRAINTS["thresholds"])
    st = settings or AuditSettings()
    y, s, p = np.asarray(y_true), np.asarray(y_score, dtype=np.float64), np.asarray(y_pred)
    cols = {c: np.asarray(v) for c, v in sensitive.items()}
    after = _threshold_predictions(
        constraint,
        s[fit_rows],
        y[fit_rows],
        {c: v[fit_rows] for c, v in cols.items()},
        s[eval_rows],
        {c: v[eval_rows] for c, v in cols.items()},
        st.seed,
    )
    return compare_predictions(
        "thresholds",
        y[eval_rows],
        p[eval_rows],
        after,
        sensitive={c: v[eval_rows] for c, v in cols.items()},
        constraint=constraint,
        settings=st,
    )


def mitigate(
    method: MitigationMethod,
    baseline: TrainedModel,
    train: Dataset,
    test: Dataset,
    *,
    sensitive: Sequence[str],
    constraint: str | None = None,
    positive: int = 1,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-2,
    seed: int = 0,
    settings: AuditSettings | None = None,
) -> MitigationResult:
    """Apply one mitigation to ``baseline`` and audit both on ``test``.

    * ``reweighing``: retrain the baseline's architecture on ``train`` with
      Kamiran-Calders weights.
    * ``expgrad``: fairlearn's Exponentiated Gradient around the same architecture,
      under ``constraint`` (``demographic_parity`` or ``equalized_odds``).
    * ``thresholds``: Hardt et al. thresholds on the baseline's scores, calibrated
      on ``train``, under ``constraint`` (``equalized_odds`` or ``equal_opportunity``).

    ``positive`` is the class index of the favourable outcome; ``settings`` (group
    size, bootstrap, privileged values) apply to both audits.
    """
    check_choice(method, "method", "mitigate", METHODS)
    chosen = constraint or DEFAULT_CONSTRAINT[method]
    if method != "reweighing":
        check_choice(chosen, "constraint", f"mitigate({method!r})", _CONSTRAINTS[method])
    elif constraint is not None:
        raise ParameterError(
            f"The 'constraint' parameter of mitigate('reweighing') must be None. Got {constraint!r} instead."
        )
    y_train, y_test = _binary_target(train, positive), _binary_target(test, positive)
    s_train, s_test = _sensitive(train, sensitive), _sensitive(test, sensitive)
    x_test, _ = baseline.tensors(test)
    before_pred = predict_proba(baseline.model, x_test).argmax(axis=1) == positive
    model = None
    if method == "reweighing":
        weights = reweighing_weights(y_train, sensitive_features=s_train)
        tm = train_model(
            train,
            model_name=baseline.name,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            sample_weight=weights,
            model_options=baseline.config,
        )
        after_pred = predict_proba(tm.model, tm.tensors(test)[0]).argmax(axis=1) == positive
        model = tm
    elif method == "expgrad":
        est = ZooClassifier(
            baseline.name,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            model_options=baseline.config,
        )
        reduction = exponentiated_gradient(
            baseline.tensors(train)[0].numpy(),
            y_train.astype(np.int64),
            sensitive_features=s_train,
            constraint=chosen,  # type: ignore[arg-type]
            estimator=est,
        )
        after_pred = reduction.predict(x_test.numpy(), random_state=seed) == 1
    else:
        assert chosen is not None
        x_train, _ = baseline.tensors(train)
        after_pred = _threshold_predictions(
            chosen,
            predict_proba(baseline.model, x_train)[:, positive],
            y_train,
            s_train,
            predict_proba(baseline.model, x_test)[:, positive],
            s_test,
            seed,
        )
    return compare_predictions(
        method,
        y_test,
        before_pred,
        after_pred,
        sensitive=s_test,
        constraint=chosen,
        settings=settings,
        model=model,
    )


def compare_predictions(
    method: MitigationMethod,
    y_true: Any,
    before: Any,
    after: Any,
    *,
    sensitive: Mapping[str, Any],
    constraint: str | None = None,
    settings: AuditSettings | None = None,
    model: TrainedModel | None = None,
) -> MitigationResult:
    """Audit predictions ``before`` and ``after`` a mitigation on the same rows.

    ``sensitive`` holds the column(s) the mitigation targeted (several: their
    intersection).
    """
    st = settings or AuditSettings()
    return MitigationResult(
        method=method,
        constraint=constraint,
        before=st.audit(y_true, before, sensitive),
        after=st.audit(y_true, after, sensitive),
        model=model,
    )
