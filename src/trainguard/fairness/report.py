"""Fairness findings and plots in a run: the ``fairness`` stage and the demo stage."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError
from trainguard.core.findings import StageResult
from trainguard.core.plots import bar_plot
from trainguard.core.run import RunDir
from trainguard.fairness._audit import (
    AuditSettings,
    FairnessAudit,
    FairnessThresholds,
    audit_attributes,
)
from trainguard.fairness._data_bias import DataBias, data_bias
from trainguard.fairness._gaps import GAP_ABBREVIATIONS, GAPS
from trainguard.fairness._individual import IndividualFairness, individual_fairness
from trainguard.fairness._inputs import attribute_sets, attribute_slug
from trainguard.fairness._undefined import Undefined
from trainguard.fairness.mitigation import MitigationResult

_PLOTTED = {
    "selection_rate": "selection rate",
    "true_positive_rate": "TPR",
    "false_positive_rate": "FPR",
}


def plot_group_rates(run: RunDir, name: str, audit: FairnessAudit) -> str:
    """Bar chart of selection rate, TPR and FPR per group; return its run path."""
    groups: dict[str, dict[str, float]] = {}
    for row in audit.table():
        groups[row["group"]] = {
            label: row[m] for m, label in _PLOTTED.items() if row[m] is not None
        }
    return bar_plot(
        run,
        name,
        groups,
        ylabel="rate",
        title=f"Rates by {audit.name} (no bar: undefined)",
    )


def plot_tradeoff(run: RunDir, name: str, result: MitigationResult, *, limit: float) -> str:
    """Bar chart of every gap's distance from parity and accuracy, before and after."""
    after = f"with {result.method}"
    bars: dict[str, dict[str, float]] = {}
    for g in GAPS:
        row: dict[str, float] = {}
        for when, audit in (("before", result.before), (after, result.after)):
            gap = audit.gaps[g]
            if not isinstance(gap.value, Undefined):
                row[when] = abs(gap.value - gap.parity)
        bars[GAP_ABBREVIATIONS[g]] = row
    bars["error rate"] = {
        when: 1.0 - acc
        for when, acc in (("before", result.before.accuracy), (after, result.after.accuracy))
        if not isinstance(acc, Undefined)
    }
    label = result.method + (f" ({result.constraint})" if result.constraint else "")
    return bar_plot(
        run,
        name,
        bars,
        ylabel="distance from parity",
        title=f"{label}: before and after (line: difference limit)",
        hline=limit,
    )


def fairness_stage(
    run: RunDir,
    audits: Mapping[str, FairnessAudit],
    *,
    data: Mapping[str, DataBias] | None = None,
    individual: IndividualFairness | None = None,
    mitigation: MitigationResult | None = None,
    thresholds: FairnessThresholds | None = None,
    stage: str = "fairness",
    title: str = "Fairness",
) -> StageResult:
    """Write the findings and plots of an audit into ``run`` as one stage and return it.

    Findings: data-set bias per attribute, group metrics and a verdict per gap for
    every audit, individual measures, and the mitigation's before/after table.
    """
    th = thresholds or FairnessThresholds()
    t0 = time.perf_counter()
    result = StageResult(name=stage, title=title)
    for attr, bias in (data or {}).items():
        result.findings.extend(bias.to_findings(stage, attribute=attr))
    for audit in audits.values():
        plot = plot_group_rates(run, f"{stage}_{attribute_slug(audit.name)}_rates", audit)
        result.artifacts.append(plot)
        result.findings.extend(audit.to_findings(stage, thresholds=th, evidence=[plot]))
    if individual is not None:
        result.findings.extend(individual.to_findings(stage))
    if mitigation is not None:
        plot = plot_tradeoff(
            run, f"{stage}_mitigation_{mitigation.method}", mitigation, limit=th.max_difference
        )
        result.artifacts.append(plot)
        result.findings.extend(mitigation.to_findings(stage, evidence=[plot]))
    failed = sum(f.failed for f in result.findings)
    open_ = sum(f.passed is None and f.threshold is not None for f in result.findings)
    result.summary = (
        f"{len(audits)} audit(s): {failed} gap(s) beyond the limits, {open_} undefined or inconclusive"
        + (f"; mitigation: {mitigation.method}" if mitigation is not None else "")
    )
    result.duration_s = time.perf_counter() - t0
    run.add_stage(result)
    return result


def dataset_fairness_stage(
    run: RunDir,
    ds: Dataset,
    y_pred: np.ndarray,
    *,
    sensitive: Sequence[str],
    positive: int = 1,
    rows: np.ndarray | None = None,
    settings: AuditSettings | None = None,
    mitigation: MitigationResult | None = None,
    stage: str = "fairness",
) -> StageResult:
    """Audit predictions on a data set and write the ``fairness`` stage into ``run``.

    Data-set bias is measured on every row's labels; group audits (each attribute
    and their intersection) and individual measures on ``rows`` (default: all),
    where ``y_pred[i]`` is the prediction for row ``rows[i]`` (booleans, True =
    class ``positive``).
    """
    st = settings or AuditSettings()
    missing = [c for c in sensitive if c not in ds.sensitive]
    if missing:
        known = ", ".join(ds.sensitive) or "none"
        raise DataError(
            f"{ds.name}: no sensitive column {missing[0]!r} (sensitive columns: {known})"
        )
    if ds.n_classes != 2:
        raise DataError(
            f"{ds.name}: label '{ds.label_name}' has {ds.n_classes} classes; "
            "fairness metrics need a binary label"
        )
    idx = np.arange(len(ds)) if rows is None else np.asarray(rows)
    y = ds.y == positive
    bias = {
        " x ".join(cols): data_bias(
            y,
            sensitive_features={c: ds.sensitive[c] for c in cols},
            min_group_size=st.min_group_size,
            n_boot=st.n_boot,
            confidence=st.confidence,
            random_state=st.seed,
        )
        for cols in attribute_sets(list(sensitive))
    }
    audits = audit_attributes(
        y[idx], y_pred, sensitive={c: ds.sensitive[c][idx] for c in sensitive}, settings=st
    )
    features = ds.X[idx].reshape(len(idx), -1) if ds.kind == "tabular" else None
    return fairness_stage(
        run,
        audits,
        data=bias,
        individual=individual_fairness(y[idx], y_pred, X=features),
        mitigation=mitigation,
        thresholds=st.thresholds,
        stage=stage,
    )


def demo_fairness_stage(run: RunDir, *, seed: int = 0) -> StageResult:
    """The demo's fairness stage on built-in synthetic credit data (about 10 s on 2 cores).

    Trains the zoo's logistic regression on 4,000 rows whose labels disadvantage
    group ``B`` (and which sees the group as a feature), audits its test
    predictions, and shows Reweighing's before/after trade-off.
    """
    from dataclasses import replace

    from trainguard.core.datasets import make_synthetic_credit
    from trainguard.core.training import predict_proba, train_model
    from trainguard.fairness.mitigation import mitigate

    ds = make_synthetic_credit(4000, bias=1.5, seed=seed)
    is_b = (ds.sensitive["group"] == "B").astype(np.float32)[:, None]
    ds = replace(ds, X=np.hstack([ds.X, is_b]), feature_names=[*ds.feature_names, "group=B"])
    train, test = ds.split(0.3, seed=seed)
    base = train_model(train, model_name="logreg", epochs=8, batch_size=128, lr=1e-2, seed=seed)
    settings = AuditSettings(n_boot=500, seed=seed)
    result = mitigate(
        "reweighing",
        base,
        train,
        test,
        sensitive=["group"],
        epochs=8,
        batch_size=128,
        lr=1e-2,
        seed=seed,
        settings=settings,
    )
    pred = predict_proba(base.model, base.tensors(test)[0]).argmax(axis=1) == 1
    return dataset_fairness_stage(
        run, test, pred, sensitive=["group"], settings=settings, mitigation=result
    )
