"""Ship: model-file scan, vulnerability audit, SBOM, encryption, signing and attestation."""

from __future__ import annotations

from pathlib import Path

from trainguard.core.findings import StageResult
from trainguard.pipeline.config import ShipConfig
from trainguard.pipeline.context import PipelineContext


def _git_root(folder: Path) -> Path | None:
    """The git work tree holding ``folder`` (its commit goes into the attestation), if any."""
    for p in (folder, *folder.parents):
        if (p / ".git").exists():
            return p
    return None


def run_ship(ctx: PipelineContext, opts: ShipConfig) -> list[StageResult]:
    """Check the run's artifacts and environment before shipping; sign and attest the model."""
    out: list[StageResult] = []
    if opts.scan:
        from trainguard.supplychain.stage import supply_chain_stage

        advisories = ctx.resolve(opts.advisories) if opts.advisories else None
        out.append(supply_chain_stage(ctx.run, advisories=advisories, allow=opts.allow))
    if opts.provenance:
        from trainguard.provenance.stage import provenance_stage

        model = ctx.model_path if ctx.model_path.is_file() else None
        out.append(
            provenance_stage(
                ctx.run,
                ctx.train,
                model_path=model,
                code=_git_root(ctx.base_dir),
                watermark=opts.watermark,
                seed=opts.seed,
            )
        )
    return out
