"""Attack testing: robustness, backdoor scan, membership inference and fairness of the model.

Each part runs where it applies (backdoor scans need an image model, fairness needs
sensitive attributes) and writes its own report stage.
"""

from __future__ import annotations

import numpy as np
import torch

from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.stage import recorded_stage
from trainguard.core.training import predict_logits
from trainguard.pipeline.config import AttackConfig
from trainguard.pipeline.context import SIMULATION, PipelineContext


def _claimed_epsilon(ctx: PipelineContext) -> float | None:
    for f in ctx.run.result.findings:
        if f.stage == "train" and f.check_id == "dp-epsilon":
            value = f.metrics.get("epsilon") or f.metrics.get("epsilon_rdp")
            return None if value is None else float(value)
    return None


def _membership(ctx: PipelineContext, opts: AttackConfig) -> StageResult:
    from trainguard.privacy.audit.membership import loss_attack

    tm = ctx.model()
    rng = np.random.default_rng(opts.seed)
    n = min(opts.membership.limit, len(ctx.train), len(ctx.test))
    members = ctx.train.subset(np.sort(rng.choice(len(ctx.train), n, replace=False)))
    others = ctx.test.subset(np.sort(rng.choice(len(ctx.test), n, replace=False)))
    xm, ym = tm.tensors(members)
    xo, yo = tm.tensors(others)
    result = loss_attack(
        tm.model,
        torch.cat([xm, xo]),
        torch.cat([ym, yo]),
        np.r_[np.ones(n, bool), np.zeros(n, bool)],
        claimed_epsilon=_claimed_epsilon(ctx),
    )
    with recorded_stage(ctx.run, "membership", "Membership inference") as stage:
        stage.findings += result.to_findings("membership")
        stage.summary = (
            f"loss attack AUC {result.auc:.3f}, epsilon >= {result.empirical.epsilon:.2f}"
        )
    return stage


def _backdoor(ctx: PipelineContext, opts: AttackConfig) -> StageResult:
    from trainguard.backdoor.stages import model_scan_findings

    tm = ctx.model()
    x, _ = tm.tensors(ctx.test.head(opts.backdoor.limit, seed=opts.seed))
    with recorded_stage(ctx.run, "backdoor", "Backdoor scan") as stage:
        stage.findings += model_scan_findings(
            ctx.run,
            "backdoor",
            tm.model,
            x,
            detectors=opts.backdoor.detectors,
            steps=opts.backdoor.steps,
            seed=opts.seed,
        )
        if SIMULATION in ctx.extras:
            stage.findings.append(_planted_success(ctx, opts))
        bad = [f for f in stage.findings if f.failed]
        stage.summary = "trojan suspected" if bad else "no trojan found"
    return stage


def _planted_success(ctx: PipelineContext, opts: AttackConfig) -> Finding:
    """How often the trained model obeys the trigger the simulation planted."""
    from trainguard.backdoor import attack_success_rate, backdoor_test_set

    pd = ctx.extras[SIMULATION]
    tm = ctx.model()
    rate = attack_success_rate(
        tm.model, *tm.tensors(backdoor_test_set(ctx.test, pd.trigger, target=pd.target))
    )
    limit = opts.backdoor.max_planted_success
    return Finding(
        stage="backdoor",
        check_id="planted-backdoor-success",
        title="Planted trigger: attack success rate on the trained model",
        severity=Severity.HIGH,
        passed=rate <= limit,
        threshold=limit,
        metrics={"attack_success_rate": rate},
        message=(
            f"{rate:.1%} of triggered test inputs (not of class {pd.target}) are classified"
            f" {pd.target}"
        ),
    )


def _fairness(ctx: PipelineContext, opts: AttackConfig, sensitive: list[str]) -> StageResult:
    from trainguard.fairness.report import dataset_fairness_stage

    tm = ctx.model()
    x, _ = tm.tensors(ctx.test)
    pred = predict_logits(tm.model, x).argmax(1).numpy() == opts.fairness.positive
    return dataset_fairness_stage(
        ctx.run, ctx.test, pred, sensitive=sensitive, positive=opts.fairness.positive
    )


def _skipped(name: str, title: str, reason: str) -> StageResult:
    return StageResult(
        name=name,
        title=title,
        summary=f"skipped: {reason}",
        findings=[
            Finding(
                stage=name,
                check_id="skipped",
                title=f"{title} skipped",
                severity=Severity.INFO,
                message=reason,
            )
        ],
    )


def run_attack(ctx: PipelineContext, opts: AttackConfig) -> list[StageResult]:
    """Run the enabled attack tests on the trained model; one report stage each."""
    from trainguard.robustness.stage import robustness_stage

    tm = ctx.model()
    out: list[StageResult] = []
    r = opts.robustness
    if r.enabled:
        robustness_stage(
            ctx.run,
            tm,
            ctx.test,
            epsilons=r.epsilons,
            attack=r.attack,
            steps=r.steps,
            limit=r.limit,
            checks=r.checks,
            check_steps=r.check_steps,
            min_robust_accuracy=r.min_robust_accuracy,
            seed=opts.seed,
        )
        out.append(ctx.run.result.stage("robustness"))
    if opts.backdoor.enabled:
        if ctx.test.kind == "image":
            out.append(_backdoor(ctx, opts))
        else:
            out.append(
                _skipped("backdoor", "Backdoor scan", "model-side scans need an image model")
            )
    if opts.membership.enabled:
        out.append(_membership(ctx, opts))
    if opts.fairness.enabled:
        sensitive = opts.fairness.sensitive or sorted(ctx.test.sensitive)
        if sensitive and ctx.test.n_classes == 2:
            out.append(_fairness(ctx, opts, sensitive))
        elif opts.fairness.sensitive is not None:
            out.append(
                _skipped("fairness", "Fairness", "needs binary labels and sensitive attributes")
            )
    return out
