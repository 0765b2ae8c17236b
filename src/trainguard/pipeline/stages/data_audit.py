"""The data audit: ethics, safety and authenticity checks on the training data.

With ``poison.drop_flagged_by``, the rows the named detectors flag are listed in an
artifact and removed from the training split before the train stage (also when the
audit is reused from the cache).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from trainguard.audit import find_duplicates, find_label_errors
from trainguard.core.atomic import atomic_write_text
from trainguard.core.datasets import Dataset
from trainguard.core.errors import TrainguardError
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.pipeline.config import DataAuditConfig, PoisonCheckOptions
from trainguard.pipeline.context import POISONED, PipelineContext
from trainguard.pipeline.stages.data_checks import (
    STAGE,
    data_bias_findings,
    dropped_rows_finding,
    file_scan_findings,
    manifest_findings,
    text_safety_findings,
)
from trainguard.provenance.manifest import Manifest

DROPPED_ROWS = "data_audit_dropped_rows.json"


def class_balance_finding(ds: Dataset, *, max_ratio: float) -> Finding:
    """Rows per class and the largest/smallest class ratio, gated by ``max_ratio``."""
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    ratio = float(counts.max() / max(counts.min(), 1))
    return Finding(
        stage=STAGE,
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


def _poisoning(ctx: PipelineContext, opts: PoisonCheckOptions) -> list[Finding]:
    from trainguard.backdoor.stages import poisoning_check

    ds = ctx.train
    check = poisoning_check(
        ds,
        stage=STAGE,
        expected_fraction=opts.expected_fraction,
        epochs=opts.epochs,
        lr=opts.lr,
        batch_size=opts.batch_size,
        poisoned=ctx.extras.get(POISONED),
    )
    found = check.findings
    if opts.drop_flagged_by:
        dropped = np.flatnonzero(check.flagged_by_all(opts.drop_flagged_by))
        atomic_write_text(ctx.run.artifacts / DROPPED_ROWS, json.dumps(dropped.tolist()))
        found.append(dropped_rows_finding(dropped, opts.drop_flagged_by, len(ds)))
    return found


def run_data_audit(ctx: PipelineContext, opts: DataAuditConfig) -> list[StageResult]:
    """Audit the training split: ethics, safety and authenticity; return the stage."""
    ds = ctx.train
    stage = StageResult(name=STAGE, title="Data audit")
    stage.findings.append(class_balance_finding(ds, max_ratio=opts.max_class_ratio))
    # ethics
    if opts.data_bias:
        stage.findings += data_bias_findings(ds)
    if ds.kind == "text":
        stage.findings += text_safety_findings(
            ds, max_toxic_fraction=opts.max_toxic_fraction, max_pii_rows=opts.max_pii_rows
        )
    # safety
    if opts.poison.enabled and ds.kind != "text":
        stage.findings += _poisoning(ctx, opts.poison)
    if opts.scan_files:
        stage.findings += file_scan_findings([ctx.resolve(p) for p in opts.scan_files])
    # authenticity
    if opts.manifest is not None:
        stage.findings += manifest_findings(
            ctx.resolve(opts.manifest),
            ctx.resolve(opts.manifest_data) if opts.manifest_data else None,
            ctx.resolve(opts.public_key) if opts.public_key else None,
        )
    if opts.duplicates:
        stage.findings += find_duplicates(ds).to_findings(
            STAGE, max_fraction=opts.max_duplicate_fraction
        )
    if opts.label_errors and ds.kind != "text":
        stage.findings += find_label_errors(ds).to_findings(
            STAGE, max_fraction=opts.max_label_error_fraction, class_names=ds.class_names
        )
    failed = sum(1 for f in stage.findings if f.failed)
    stage.summary = f"{len(ds)} rows, {len(stage.findings)} checks, {failed} failed"
    return [stage]


def data_audit_inputs(ctx: PipelineContext, opts: DataAuditConfig) -> list[Path]:
    """The files the audit reads besides the data set (their content keys the cache)."""
    paths = [ctx.resolve(p) for p in opts.scan_files]
    if opts.manifest is not None:
        manifest = ctx.resolve(opts.manifest)
        paths += [manifest, manifest.with_name(manifest.name + ".sig")]
        if opts.manifest_data is not None:
            paths.append(ctx.resolve(opts.manifest_data))
        else:  # a missing or broken manifest is the stage's own finding
            with contextlib.suppress(TrainguardError):
                paths.append(Manifest.load(manifest).data_beside(manifest))
    if opts.public_key is not None:
        paths.append(ctx.resolve(opts.public_key))
    return paths


def drop_flagged_rows(ctx: PipelineContext) -> None:
    """Remove the rows the audit flagged (its artifact) from the training split."""
    path = ctx.run.artifacts / DROPPED_ROWS
    if path.is_file():
        keep = np.ones(len(ctx.train), bool)
        keep[np.asarray(json.loads(path.read_text()), dtype=np.int64)] = False
        ctx.train = ctx.train.subset(np.flatnonzero(keep))
        if POISONED in ctx.extras:
            ctx.extras[POISONED] = ctx.extras[POISONED][keep]
