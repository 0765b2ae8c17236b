"""The data audit: ethics, safety and authenticity checks on the training data."""

from __future__ import annotations

import numpy as np

from trainguard.audit import find_duplicates, find_label_errors
from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.pipeline.config import DataAuditConfig
from trainguard.pipeline.context import PipelineContext


def class_balance_finding(ds: Dataset, *, max_ratio: float) -> Finding:
    """Rows per class and the largest/smallest class ratio, gated by ``max_ratio``."""
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    ratio = float(counts.max() / max(counts.min(), 1))
    return Finding(
        stage="data_audit",
        check_id="class-balance",
        title="Class balance",
        severity=Severity.LOW,
        passed=ratio <= max_ratio,
        threshold=max_ratio,
        metrics={
            "rows": float(len(ds)),
            "classes": float(ds.n_classes),
            "max_min_class_ratio": ratio,
        },
        table=[{"class": c, "rows": int(n)} for c, n in zip(ds.class_names, counts, strict=True)],
    )


def run_data_audit(ctx: PipelineContext, opts: DataAuditConfig) -> list[StageResult]:
    """Audit the training split and return the stage."""
    ds = ctx.train
    stage = StageResult(name="data_audit", title="Data audit")
    stage.findings.append(class_balance_finding(ds, max_ratio=opts.max_class_ratio))
    if opts.duplicates:
        stage.findings += find_duplicates(ds).to_findings(
            "data_audit", max_fraction=opts.max_duplicate_fraction
        )
    if opts.label_errors and ds.kind != "text":
        stage.findings += find_label_errors(ds).to_findings(
            "data_audit", max_fraction=opts.max_label_error_fraction, class_names=ds.class_names
        )
    failed = sum(1 for f in stage.findings if f.failed)
    stage.summary = f"{len(ds)} rows, {len(stage.findings)} checks, {failed} failed"
    return [stage]
