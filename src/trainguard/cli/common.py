"""What every command shares: global options, output in text or JSON, finishing a run."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from trainguard.core.errors import EXIT_FAILED, EXIT_OK
from trainguard.core.findings import RunResult
from trainguard.core.run import RunDir


@dataclass
class State:
    """Global options given before the command name."""

    quiet: bool = False
    json: bool = False


def state(ctx: typer.Context) -> State:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def console() -> Console:
    """Console for human-readable output on stdout."""
    return Console(highlight=False, soft_wrap=True)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (for ``--json``)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def say(ctx: typer.Context, text: str) -> None:
    """Print a human-readable line unless ``--quiet`` or ``--json`` is on."""
    st = state(ctx)
    if not (st.quiet or st.json):
        console().print(text)


def summarise_run(result: RunResult) -> list[str]:
    """One line per stage, then per failed finding, failed gates last, for the terminal.

    Without a ``gates`` stage every failed finding is a gate; with one (a pipeline),
    the other failed findings are reported as checks that no gate holds.
    """
    lines = []
    for s in result.stages:
        mark = "[green]PASS[/green]" if s.passed else "[red]FAIL[/red]"
        lines.append(f"  {mark}  {s.title or s.name}: {s.summary}")
    gated = any(s.name == "gates" for s in result.stages)
    failed = result.failed_findings
    for f in [f for f in failed if f.stage != "gates"] + [f for f in failed if f.stage == "gates"]:
        what = "check failed (no gate)" if gated and f.stage != "gates" else "gate failed"
        lines.append(f"  [red]{what}[/red] {f.stage}/{f.check_id}: {f.title} {f.message}".rstrip())
    return lines


def finish_run(
    ctx: typer.Context,
    run: RunDir,
    *,
    formats: tuple[str, ...] = ("html", "sarif"),
    passed: bool | None = None,
) -> int:
    """Write the run's reports, print where they are, and return the exit code.

    ``passed`` overrides the verdict (default: no finding failed).
    """
    ok = run.result.passed if passed is None else passed
    from trainguard.report import write_report

    paths = [write_report(run, fmt) for fmt in formats]  # type: ignore[arg-type]
    st = state(ctx)
    if st.json:
        emit_json(
            {
                "run": str(run.path),
                "passed": ok,
                "reports": [str(p) for p in paths],
                "failed": [f.model_dump(mode="json") for f in run.result.failed_findings],
            }
        )
    elif not st.quiet:
        con = console()
        for line in summarise_run(run.result):
            con.print(line)
        con.print(f"report: {Path(paths[0])}")
    return EXIT_OK if ok else EXIT_FAILED
