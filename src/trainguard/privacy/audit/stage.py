"""The ``privacy-audit`` stage: attack a non-private model and its DP twin, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity
from trainguard.core.plots import bar_plot
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.privacy.audit.experiment import AuditResult, TrainingRecipe, audit_training


def _tag(result: AuditResult) -> str:
    return f"dp-eps{result.recipe.target_epsilon:g}" if result.recipe.dp else "non-private"


def _summary_finding(stage: str, result: AuditResult, evidence: list[str]) -> Finding:
    return Finding(
        stage=stage,
        check_id=f"audited-model-{_tag(result)}",
        title=f"Audited target: {result.recipe.label}",
        severity=Severity.INFO,
        metrics={
            "member_accuracy": result.train_accuracy,
            "nonmember_accuracy": result.test_accuracy,
            "generalisation_gap": result.train_accuracy - result.test_accuracy,
            "epsilon": result.epsilon,
            "delta": result.delta,
        },
        evidence=evidence,
        table=[
            {
                "attack": a.attack,
                "auc": round(a.auc, 4),
                "tpr@0.1%fpr": round(a.tpr_at_0_1pct_fpr, 4),
                "tpr@1%fpr": round(a.tpr_at_1pct_fpr, 4),
                "epsilon_lower_bound": round(a.empirical.epsilon, 4),
            }
            for a in result.attacks
        ],
    )


def privacy_audit_stage(
    run: RunDir,
    population: Dataset,
    *,
    recipes: Sequence[TrainingRecipe] | None = None,
    n_shadow: int = 0,
    seed: int = 0,
    stage_name: str = "privacy-audit",
    gate_non_private: bool = True,
) -> list[AuditResult]:
    """Audit each recipe (default: a non-private MLP and its DP twin at epsilon 1) on ``population``.

    Each target is trained on a random half of ``population``; the loss-threshold
    attack (and LiRA with ``n_shadow`` shadow models) scores every example. Findings
    per target: whether membership leaks (a significant attack), and whether the
    empirical epsilon lower bound exceeds the accountant's claim; plus an AUC chart.
    ``gate_non_private=False`` shows a non-private target's leakage as information
    (a baseline for contrast) instead of a failed gate.
    """
    plan = (
        list(recipes)
        if recipes is not None
        else [TrainingRecipe(), TrainingRecipe().private_twin(1.0)]
    )
    with recorded_stage(run, stage_name, "Privacy audit (membership inference)") as stage:
        results = [audit_training(population, r, n_shadow=n_shadow, seed=seed) for r in plan]
        chart = bar_plot(
            run,
            f"{stage_name}_auc",
            {r.recipe.label: {a.attack: a.auc for a in r.attacks} for r in results},
            ylabel="attack AUC",
            title="Membership-inference AUC (0.5 = chance)",
            hline=0.5,
        )
        for r in results:
            stage.findings.append(_summary_finding(stage_name, r, [chart]))
            for attack in r.attacks:
                gate = gate_non_private or r.recipe.dp
                stage.findings.extend(attack.to_findings(stage_name, target=_tag(r), gate=gate))
        stage.summary = "; ".join(
            f"{r.recipe.label}: AUC {max(a.auc for a in r.attacks):.3f}" for r in results
        )
    return results
