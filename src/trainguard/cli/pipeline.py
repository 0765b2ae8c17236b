"""``trainguard init`` and ``trainguard run``: the lifecycle pipeline from a YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainguard.cli.common import finish_run, say

app = typer.Typer()


@app.command("init")
def init_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the pipeline.")] = Path(
        "pipeline.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Write a commented starter pipeline.yaml."""
    from trainguard.pipeline.init import write_starter_config

    write_starter_config(path, overwrite=force)
    say(ctx, f"wrote {path}; run it with: trainguard run {path}")
    return 0


@app.command("run")
def run_command(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="The pipeline.yaml to run.")],
    runs: Annotated[
        Path | None, typer.Option(help="Folder for the run (default: the config's 'runs').")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every stage.")] = False,
) -> int:
    """Run the stages of a pipeline, then its gates; exit 1 if a gate fails.

    With no gates in the config, any failed check fails the run.
    """
    from trainguard.pipeline.runner import pipeline_passed, run_pipeline

    run = run_pipeline(config, runs_root=runs, use_cache=not no_cache)
    return finish_run(ctx, run, passed=pipeline_passed(run))
