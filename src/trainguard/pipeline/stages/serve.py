"""Serve: the guard policy the service will run, probed before deployment, and the agent policy suite."""

from __future__ import annotations

import yaml

from trainguard.core.findings import StageResult
from trainguard.pipeline.config import ServeConfig
from trainguard.pipeline.context import PipelineContext


def run_serve(ctx: PipelineContext, opts: ServeConfig) -> list[StageResult]:
    """Write ``artifacts/guard-policy.yaml`` and probe a Guard built from it."""
    from trainguard.guard.policy import Policy
    from trainguard.guard.stage import guard_stage

    policy = Policy.from_yaml(ctx.resolve(opts.guard_policy)) if opts.guard_policy else Policy()
    written = ctx.run.write_artifact(
        "guard-policy.yaml", yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False)
    )
    stage = guard_stage(ctx.run, policy=policy, claims=opts.claims)
    stage.artifacts.append(written)
    ctx.run.add_stage(stage)
    out = [stage]
    if opts.agent_policy_suite:
        from trainguard.policy.suite import policy_suite_stage

        policy_suite_stage(ctx.run)
        out.append(ctx.run.result.stage("policy"))
    return out
