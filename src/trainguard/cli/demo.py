"""``trainguard demo``: the lifecycle on built-in data, written as one run and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainguard.cli.common import finish_run, say


def demo_command(
    ctx: typer.Context,
    runs: Annotated[
        Path, typer.Option("--runs", help="Folder that receives the run directory.")
    ] = Path("runs"),
) -> int:
    """Run the demo on built-in data and write its report."""
    from trainguard.pipeline.demo import run_demo

    say(ctx, "trainguard demo: built-in data, nothing downloaded")
    run = run_demo(runs)
    return finish_run(ctx, run)
