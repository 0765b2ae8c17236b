"""``trainguard report RUN_DIR``: render a run's findings as HTML, JSON or SARIF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from trainguard.cli.common import say
from trainguard.core.errors import EXIT_FAILED, EXIT_OK
from trainguard.core.run import RunDir


def report_command(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="A run folder (holds findings.json).")],
    fmt: Annotated[
        Literal["html", "json", "sarif"], typer.Option("--format", "-f", help="Report format.")
    ] = "html",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write (default: inside the run)."),
    ] = None,
) -> int:
    """Write the report of a run; exit 1 if any gate in it failed."""
    from trainguard.report import write_report

    run = RunDir.open(run_dir)
    path = write_report(run, fmt, output)
    say(ctx, f"{fmt} report: {path}")
    return EXIT_OK if run.result.passed else EXIT_FAILED
