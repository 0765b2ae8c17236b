"""``trainguard demo``: the lifecycle on built-in data, written as one run and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainguard.cli.common import finish_run, say, state
from trainguard.core.errors import EXIT_FAILED, EXIT_OK


def demo_command(
    ctx: typer.Context,
    runs: Annotated[
        Path, typer.Option("--runs", help="Folder that receives the run directory.")
    ] = Path("runs"),
) -> int:
    """Run the whole lifecycle on built-in data with planted problems; exit 0 when all are caught.

    Digits with 6% backdoored training rows, a data folder with a code-running pickle
    added after its manifest was signed, a biased credit data set and a federation
    with a sign-flipping bank: the report shows where each was caught.
    """
    from trainguard.pipeline.demo import PLANTED, demo_passed, run_demo

    say(ctx, "trainguard demo: built-in data, nothing downloaded (about 3 minutes on 2 cores)")
    say(ctx, "planted problems the checks should catch:")
    for p in PLANTED:
        say(ctx, f"  - {p.what}")
    run = run_demo(runs)
    finish_run(ctx, run)
    ok = demo_passed(run)
    if not state(ctx).json:
        verdict = run.result.stage("demo")
        say(ctx, f"demo: {verdict.summary}")
        say(ctx, "the FAIL lines above are the planted problems, caught" if ok else "demo FAILED")
    return EXIT_OK if ok else EXIT_FAILED
