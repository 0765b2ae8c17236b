"""``trainguard federated``: run a federated config on Flower, and make deployment certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from trainguard.cli.common import emit_json, finish_run, say, state
from trainguard.core.errors import EXIT_OK, ConfigError
from trainguard.core.run import RunDir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Federated learning on Flower: robust, DP and secure aggregation, attack simulation.",
)


@app.command("run")
def run_command(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Federated config (YAML or JSON).")],
    engine: Annotated[
        Literal["simulation", "deployment"] | None,
        typer.Option(help="Flower engine (default: the config's engine.kind)."),
    ] = None,
    runs: Annotated[Path, typer.Option(help="Folder that receives the run directory.")] = Path(
        "runs"
    ),
) -> int:
    """Run the rounds of a federated config; write per-round metrics, plots and findings.

    Exits 1 when a client's updates were flagged as anomalous, the backdoor
    succeeded, the AUC is below ``min_auc``, or an unknown node was let in.
    """
    from trainguard.federated.config import load_config
    from trainguard.federated.stage import federated_stage

    cfg = load_config(config)
    kind = engine or cfg.engine.kind
    run = RunDir.create(
        f"federated-{cfg.name}", runs, config={"config": str(config), "engine": kind}
    )
    say(
        ctx,
        f"federated run on the {kind} engine: {cfg.partition.num_clients} clients, "
        f"{cfg.train.rounds} rounds, strategy {cfg.strategy.name}",
    )
    federated_stage(run, cfg, engine=kind)
    return finish_run(ctx, run)


@app.command("certs")
def certs_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Folder for the CA, server and node keys.")],
    nodes: Annotated[int, typer.Option(min=0, help="SuperNode key pairs to create.")] = 2,
    host: Annotated[
        list[str] | None,
        typer.Option(
            help="Host name or IP of the SuperLink, repeatable (default 127.0.0.1, localhost)."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Validity of the certificates.")] = 365,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys.")] = False,
) -> int:
    """Create a CA, a TLS certificate for the SuperLink and SuperNode authentication keys."""
    from trainguard.federated.certs import DEFAULT_HOSTS, make_certificates

    if (folder / "ca.crt").exists() and not force:
        raise ConfigError(f"{folder}: already holds certificates; use --force to replace them")
    certs = make_certificates(folder, nodes=nodes, hosts=tuple(host or DEFAULT_HOSTS), days=days)
    if state(ctx).json:
        emit_json(
            {
                "ca": str(certs.ca_cert),
                "server_cert": str(certs.server_cert),
                "server_key": str(certs.server_key),
                "nodes": [
                    {"private": str(k.private), "public": str(k.public)} for k in certs.nodes
                ],
            }
        )
    else:
        say(ctx, f"CA {certs.ca_cert}, SuperLink {certs.server_cert} (key {certs.server_key})")
        for k in certs.nodes:
            say(ctx, f"SuperNode key {k.private} (register {k.public})")
    return EXIT_OK
