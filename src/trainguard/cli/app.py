"""The ``trainguard`` command: a Typer app assembled from one module per command group.

Exit codes: 0 passed, 1 a gate failed or a finding is at the failing severity,
2 bad input (usage, missing file, malformed config). Errors are one line on stderr.
"""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer

from trainguard import __version__
from trainguard.cli.attack import app as attack_app
from trainguard.cli.backdoor import app as backdoor_app
from trainguard.cli.common import State
from trainguard.cli.demo import demo_command
from trainguard.cli.fairness import app as fairness_app
from trainguard.cli.federated import app as federated_app
from trainguard.cli.guard import app as guard_app
from trainguard.cli.guard_service import keys_app as _guard_service  # noqa: F401 (serve, keys, log)
from trainguard.cli.pipeline import app as pipeline_app
from trainguard.cli.policy import app as policy_app
from trainguard.cli.privacy import app as privacy_app
from trainguard.cli.provenance import app as provenance_app
from trainguard.cli.provenance import data_app
from trainguard.cli.report import report_command
from trainguard.cli.supplychain import app as supplychain_app
from trainguard.cli.train import train_command
from trainguard.core.errors import EXIT_USAGE, TrainguardError
from trainguard.core.progress import set_progress_enabled

app = typer.Typer(
    name="trainguard",
    help="Secure machine-learning training across its lifecycle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trainguard {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or chatter.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Machine-readable output on stdout.")
    ] = False,
) -> None:
    ctx.obj = State(quiet=quiet, json=json_out)
    if quiet or json_out:
        set_progress_enabled(False)


# --- command registration: one line per command module (keep sorted) ---
app.command("demo")(demo_command)
app.command("report")(report_command)
app.command("train")(train_command)
app.add_typer(attack_app)
app.add_typer(backdoor_app, name="backdoor")
app.add_typer(pipeline_app)
app.add_typer(data_app, name="data")
app.add_typer(fairness_app)
app.add_typer(federated_app, name="federated")
app.add_typer(guard_app, name="guard")
app.add_typer(provenance_app)
app.add_typer(policy_app, name="policy")
app.add_typer(privacy_app, name="privacy")
app.add_typer(supplychain_app)
# --- end of command registration ---


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` and return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = typer.main.get_command(app).main(
            args=args, prog_name="trainguard", standalone_mode=False
        )
    except TrainguardError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        return EXIT_USAGE
    except click.ClickException as exc:
        sys.stderr.write(f"error: {exc.format_message()}\n")
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return int(rv) if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
