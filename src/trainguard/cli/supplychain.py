"""``trainguard scan|vulns|sbom|encrypt|decrypt``: the supply-chain commands.

Exit codes: 0 passed, 1 a finding at or above ``--fail-on`` (scan, vulns) or a
tampered artifact (decrypt), 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from trainguard.cli.common import console, emit_json, say, state
from trainguard.core.atomic import atomic_write_text
from trainguard.core.errors import EXIT_FAILED, EXIT_OK, ConfigError
from trainguard.core.findings import Finding, RunResult, Severity, StageResult

if TYPE_CHECKING:
    from trainguard.supplychain.vulns import Package

app = typer.Typer()

Format = Literal["table", "json", "sarif"]
FailOn = Literal["low", "medium", "high", "critical"]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report here (default stdout).")
]
FailOpt = Annotated[FailOn, typer.Option(help="Exit 1 when a finding reaches this severity.")]
EnvOpt = Annotated[
    Path | None,
    typer.Option("--env", help="Another environment's prefix (its lib/python*/site-packages)."),
]
ReqOpt = Annotated[
    Path | None,
    typer.Option("--requirements", "-r", help="requirements.txt, uv.lock, poetry.lock, ..."),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--key-file", "-k", help="Key file (mode 0600); default: $TRAINGUARD_KEY."),
]


def _emit(
    ctx: typer.Context,
    fmt: Format,
    output: Path | None,
    stage: str,
    findings: list[Finding],
    data: object,
    table: Table,
) -> None:
    """Write the report as a table, JSON or SARIF, to ``output`` or stdout."""
    if state(ctx).json and fmt == "table":
        fmt = "json"
    if fmt == "table":
        if output is not None:
            raise ConfigError("--format table prints to the terminal; use json or sarif with -o")
        if not state(ctx).quiet:
            console().print(table)
        return
    if fmt == "json":
        text = json.dumps(data, indent=2, default=str)
    else:
        from trainguard.report import to_sarif

        run = RunResult(name=stage, stages=[StageResult(name=stage, findings=findings)])
        text = json.dumps(to_sarif(run), indent=2)
    if output is None:
        typer.echo(text)
    else:
        atomic_write_text(output, text + "\n")
        say(ctx, f"{fmt} report: {output}")


def _packages(env: Path | None, requirements: Path | None) -> list[Package]:
    from trainguard.supplychain.vulns import (
        environment_site_packages,
        installed_packages,
        requirements_packages,
    )

    if env is not None and requirements is not None:
        raise ConfigError("give either --env or --requirements, not both")
    if requirements is not None:
        return list(requirements_packages(requirements))
    return list(installed_packages(environment_site_packages(env) if env else None))


@app.command("scan")
def scan_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Model files or folders to scan.")],
    allow: Annotated[
        list[str],
        typer.Option("--allow", help="Extension (sklearn, torch-modules) or module:Name to trust."),
    ] = [],  # noqa: B006 - typer needs a literal default
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    fail_on: FailOpt = "high",
    max_seconds: Annotated[float, typer.Option(min=0.1, help="Time budget per file.")] = 120.0,
) -> int:
    """Scan model files without loading them (pickle, torch, joblib, numpy, safetensors, keras, onnx)."""
    from trainguard.supplychain import ScanLimits, scan_path

    report = scan_path(
        paths, allow=allow, limits=ScanLimits(max_seconds=max_seconds), fail_on=Severity(fail_on)
    )
    table = Table("file", "formats", "severity", "check", "message", title="model-file scan")
    for f in report.files:
        if not f.issues:
            table.add_row(f.path, "+".join(f.formats), "ok", "", "")
        for i in f.issues:
            table.add_row(i.location, "+".join(f.formats), i.severity.value, i.check_id, i.message)
    _emit(ctx, fmt, output, "scan", report.to_findings("scan"), report.to_dict(), table)
    return EXIT_OK if report.passed else EXIT_FAILED


@app.command("vulns")
def vulns_command(
    ctx: typer.Context,
    advisories: Annotated[
        list[Path],
        typer.Option(
            "--advisories", "-a", help="OSV advisory folder, file or all.zip (repeatable)."
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
    online: Annotated[bool, typer.Option("--online", help="Also query api.osv.dev.")] = False,
    env: EnvOpt = None,
    requirements: ReqOpt = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    fail_on: FailOpt = "high",
) -> int:
    """Match installed or pinned packages against OSV advisories."""
    from trainguard.supplychain.osv import load_advisories
    from trainguard.supplychain.vulns import audit, query_osv

    if not advisories and not online:
        raise ConfigError("give an advisory source: --advisories DIR and/or --online")
    packages = _packages(env, requirements)
    advs = load_advisories(advisories)
    if online:
        advs += query_osv(packages)
    report = audit(packages, advs, fail_on=Severity(fail_on))
    table = Table(
        "package", "advisory", "aliases", "affected", "fixed", "severity", title="vulnerabilities"
    )
    for m in report.matches:
        table.add_row(
            f"{m.package} {m.version}" + (" (model loading)" if m.model_loading else ""),
            m.advisory,
            ", ".join(m.aliases),
            m.affected,
            ", ".join(m.fixed),
            m.severity.value + (f" {m.cvss:.1f}" if m.cvss is not None else ""),
        )
    if not report.matches:
        say(
            ctx,
            f"no advisory matches {len(report.packages)} packages ({report.advisories} advisories)",
        )
    _emit(ctx, fmt, output, "vulns", report.to_findings("vulns"), report.to_dict(), table)
    return EXIT_OK if report.passed else EXIT_FAILED


@app.command("sbom")
def sbom_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="CycloneDX JSON file to write.")],
    artifacts: Annotated[
        list[Path] | None, typer.Argument(help="Model files or folders to include with SHA-256.")
    ] = None,
    env: EnvOpt = None,
    requirements: ReqOpt = None,
    name: Annotated[
        str, typer.Option(help="Name of the described environment.")
    ] = "training-environment",
) -> int:
    """Write a CycloneDX 1.6 SBOM of the environment and the model artifacts."""
    from trainguard.supplychain.sbom import write_sbom

    packages = _packages(env, requirements)
    path = write_sbom(output, packages, artifacts or [], name=name)
    if state(ctx).json:
        emit_json({"sbom": str(path), "packages": len(packages), "artifacts": len(artifacts or [])})
    else:
        say(ctx, f"SBOM with {len(packages)} packages: {path}")
    return EXIT_OK


def _meta(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--meta expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@app.command("encrypt")
def encrypt_command(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="The artifact to encrypt.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: SRC.tgenc")
    ] = None,
    key_file: KeyOpt = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Create --key-file (mode 0600) if it does not exist.")
    ] = False,
    meta: Annotated[list[str], typer.Option("--meta", help="KEY=VALUE (authenticated).")] = [],  # noqa: B006
) -> int:
    """Encrypt a model artifact with AES-256-GCM (streaming, authenticated metadata)."""
    from trainguard.supplychain.crypto import encrypt_file, generate_key, load_key

    if new_key:
        if key_file is None:
            raise ConfigError("--new-key needs --key-file PATH to write the key to")
        if not key_file.exists():
            generate_key(key_file)
            say(ctx, f"new key written to {key_file} (mode 0600): keep it apart from the artifact")
    key = load_key(key_file)
    dst = output or src.with_name(src.name + ".tgenc")
    header = encrypt_file(src, dst, key, meta=_meta(meta))
    if state(ctx).json:
        emit_json({"encrypted": str(dst), "sha256": header.sha256, "key_id": header.key_id})
    else:
        say(ctx, f"encrypted {src} -> {dst} (sha256 {header.sha256[:16]}..., key {header.key_id})")
    return EXIT_OK


@app.command("decrypt")
def decrypt_command(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="An artifact written by trainguard encrypt.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: SRC without .tgenc")
    ] = None,
    key_file: KeyOpt = None,
) -> int:
    """Decrypt and verify an artifact; exit 1 (and write nothing) if it was tampered with."""
    from trainguard.core.errors import IntegrityError
    from trainguard.supplychain.crypto import decrypt_file, load_key

    key = load_key(key_file)
    if output is None:
        if src.suffix != ".tgenc":
            raise ConfigError(f"{src}: give --output (the name does not end in .tgenc)")
        output = src.with_suffix("")
    try:
        header = decrypt_file(src, output, key)
    except IntegrityError as exc:
        typer.echo(f"error: {src}: {exc}", err=True)
        return EXIT_FAILED
    if state(ctx).json:
        emit_json({"decrypted": str(output), "name": header.name, "sha256": header.sha256})
    else:
        say(ctx, f"verified and decrypted {header.name} ({header.size} bytes) -> {output}")
    return EXIT_OK
