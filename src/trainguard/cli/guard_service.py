"""``trainguard guard serve | keys | log``: run the guard service, manage its keys, read its audit log.

These commands register on the ``guard`` group of :mod:`trainguard.cli.guard`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainguard.cli.common import console, emit_json, say, state
from trainguard.cli.guard import app as guard_app
from trainguard.core.atomic import atomic_open
from trainguard.core.errors import EXIT_OK, ConfigError, DataError

if TYPE_CHECKING:
    from trainguard.guard.service.audit import AuditStore

DB_HELP = "Audit database: a SQLite path or a postgresql:// URL."
DB_ENV = "TRAINGUARD_SERVICE_DB"
DEFAULT_DB = "trainguard-audit.db"
DbOption = Annotated[str, typer.Option("--db", envvar=DB_ENV, help=DB_HELP)]

keys_app = typer.Typer(name="keys", help="API keys of the guard service (stored hashed).")
log_app = typer.Typer(name="log", help="Query, export and prune the guard service's audit log.")
guard_app.add_typer(keys_app, name="keys")
guard_app.add_typer(log_app, name="log")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, field: str) -> float:
    """Seconds in ``30d``, ``12h``, ``15m``, ``90s`` or ``2w``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise ConfigError(f"{field} must be a duration such as 30d, 12h, 15m or 90s; got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_time(text: str, *, field: str, now: float) -> float:
    """Unix time from a duration ago (``1h``) or an ISO date/time (UTC when no zone is given)."""
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*[smhdw]\s*", text):
        return now - parse_duration(text, field=field)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{field} must be a duration ago (1h, 7d) or an ISO date/time; got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _store(db: str) -> AuditStore:
    from trainguard.guard.service.audit import open_store

    return open_store(db)


def _policy_map(items: list[str]) -> dict[str, str]:
    from trainguard.guard.policy import Policy

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--policy must be NAME=PATH.yaml; got {item!r}")
        Policy.from_yaml(path)  # a malformed policy fails here, with its field named
        out[name] = str(Path(path).resolve())
    return out


@guard_app.command("serve")
def serve_command(
    ctx: typer.Context,
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="NAME=PATH.yaml, repeatable ('default' is built in)."),
    ] = None,
    upstream: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL for the proxy (…/v1).")
    ] = None,
    upstream_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the upstream's API key.")
    ] = None,
    upstream_timeout: Annotated[float, typer.Option(help="Upstream timeout, seconds.")] = 60.0,
    request_timeout: Annotated[float, typer.Option(help="Guard check timeout, seconds.")] = 10.0,
    max_body: Annotated[int, typer.Option(help="Largest request body, bytes.")] = 1_000_000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> int:
    """Run the guard service (API, proxy, dashboard) with uvicorn until interrupted."""
    import uvicorn

    from trainguard.guard.service.settings import ENV_PREFIX, ServiceSettings, get_settings

    env = {
        "DB": db,
        "WORKERS": str(workers),
        "POLICIES": json.dumps(_policy_map(policy or [])),
        "UPSTREAM_TIMEOUT_S": str(upstream_timeout),
        "REQUEST_TIMEOUT_S": str(request_timeout),
        "MAX_BODY_BYTES": str(max_body),
    }
    if upstream:
        env["UPSTREAM"] = upstream
    if upstream_key_env:
        if upstream_key_env not in os.environ:
            raise ConfigError(f"--upstream-key-env: the variable {upstream_key_env} is not set")
        env["UPSTREAM_API_KEY"] = os.environ[upstream_key_env]
    os.environ.update({ENV_PREFIX + k: v for k, v in env.items()})
    get_settings.cache_clear()
    settings: ServiceSettings = get_settings()
    _store(settings.db).close()  # a database that cannot be opened fails here, once
    say(
        ctx, f"guard service on http://{host}:{port} (audit log {settings.db}, {workers} worker(s))"
    )
    app, options = "trainguard.guard.service.app:create_app", {
        "factory": True, "host": host, "port": port, "workers": workers, "log_level": log_level,
        "timeout_keep_alive": 5, "timeout_graceful_shutdown": 10,
    }  # fmt: skip
    if workers > 1:  # each worker on a SO_REUSEPORT socket of its own: connections spread evenly
        from trainguard.guard.service.workers import run_workers

        run_workers(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    else:
        uvicorn.run(app, **options)  # type: ignore[arg-type]
    return EXIT_OK


# --- keys -------------------------------------------------------------------------


@keys_app.command("create")
def keys_create_command(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant the key acts for.")],
    db: DbOption = DEFAULT_DB,
    policy: Annotated[str, typer.Option(help="Policy name the key's requests use.")] = "default",
    rate: Annotated[float, typer.Option(help="Requests per second.")] = 100.0,
    burst: Annotated[int | None, typer.Option(help="Burst size (default 2 x rate).")] = None,
    admin: Annotated[bool, typer.Option(help="May see every tenant on the dashboard.")] = False,
) -> int:
    """Create a key and print its token (shown only this once)."""
    from trainguard.guard.service.keys import create_key

    store = _store(db)
    try:
        token, key = create_key(store, tenant, policy=policy, rate=rate, burst=burst, admin=admin)
    finally:
        store.close()
    if state(ctx).json:
        emit_json({"token": token, **key.model_dump(exclude={"key_hash"})})
    else:
        sys.stdout.write(token + "\n")
        if not state(ctx).quiet:
            sys.stderr.write(
                f"key {key.key_id} for tenant {key.tenant} (policy {key.policy}, {key.rate:g}/s); "
                "store the token now, it is not shown again\n"
            )
    return EXIT_OK


@keys_app.command("list")
def keys_list_command(ctx: typer.Context, db: DbOption = DEFAULT_DB) -> int:
    """List the keys (ids, tenants, policies, limits; never tokens)."""
    store = _store(db)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    if state(ctx).json:
        emit_json([k.model_dump(exclude={"key_hash"}) for k in keys])
    elif not state(ctx).quiet:
        con = console()
        for k in keys:
            status = "revoked" if k.revoked else "active"
            con.print(
                f"{k.key_id}  {k.tenant}  policy={k.policy}  rate={k.rate:g}/s  "
                f"burst={k.burst}{'  admin' if k.admin else ''}  {status}",
                markup=False,
            )
    return EXIT_OK


@keys_app.command("revoke")
def keys_revoke_command(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex digits after tg_).")],
    db: DbOption = DEFAULT_DB,
) -> int:
    """Revoke a key (servers stop accepting it within their key-cache time, 5 s)."""
    from trainguard.guard.service.keys import revoke_key

    store = _store(db)
    try:
        key = revoke_key(store, key_id)
    finally:
        store.close()
    say(ctx, f"revoked {key.key_id} ({key.tenant})")
    return EXIT_OK


# --- log --------------------------------------------------------------------------


@log_app.callback(invoke_without_command=True)
def log_command(
    ctx: typer.Context,
    db: DbOption = DEFAULT_DB,
    since: Annotated[str | None, typer.Option(help="From: 1h, 7d or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="Until: 1h, 7d or an ISO time.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    decision: Annotated[str | None, typer.Option(help="allow, flag, mask or block.")] = None,
    direction: Annotated[str | None, typer.Option(help="input or output.")] = None,
    request_id: Annotated[str | None, typer.Option(help="Only this request.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many records.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file (atomically).")] = None,
) -> int:
    """Query the audit log (oldest first); ``prune`` deletes old records."""
    if ctx.invoked_subcommand is not None:
        return EXIT_OK
    from trainguard.guard.result import Decision
    from trainguard.guard.service.audit import AuditQuery
    from trainguard.guard.service.audit.export import write_csv, write_jsonl

    if fmt not in ("table", "jsonl", "csv"):
        raise ConfigError(f"--format must be table, jsonl or csv; got {fmt!r}")
    if decision is not None and decision not in {d.value for d in Decision}:
        raise ConfigError(f"--decision must be allow, flag, mask or block; got {decision!r}")
    if direction not in (None, "input", "output"):
        raise ConfigError(f"--direction must be input or output; got {direction!r}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1; got {limit}")
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    q = AuditQuery(
        since=parse_time(since, field="--since", now=now) if since else None,
        until=parse_time(until, field="--until", now=now) if until else None,
        tenant=tenant,
        decision=Decision(decision) if decision else None,
        direction=direction,  # type: ignore[arg-type]
        request_id=request_id,
        limit=limit,
    )
    store = _store(db)
    try:
        records = store.query(q)
        if fmt == "table":
            if out is not None:
                raise ConfigError("--out needs --format jsonl or csv")
            con = console()
            for r in records:
                when = dt.datetime.fromtimestamp(r.ts, dt.timezone.utc).isoformat(
                    timespec="seconds"
                )
                con.print(
                    f"{when}  {r.tenant}  {r.endpoint}/{r.direction}  {r.decision.value:<5}  "
                    f"{r.latency_ms:6.2f} ms  {r.id}  {'; '.join(r.reasons)[:100]}",
                    markup=False,
                )
            return EXIT_OK
        writer = write_jsonl if fmt == "jsonl" else write_csv
        if out is None:
            writer(records, sys.stdout)
            return EXIT_OK
        try:
            with atomic_open(out, "w") as fh:
                n = writer(records, fh)
        except OSError as exc:
            raise DataError(f"{out}: cannot write ({exc.__class__.__name__})") from None
    finally:
        store.close()
    say(ctx, f"wrote {n} records to {out}")
    return EXIT_OK


@log_app.command("prune")
def log_prune_command(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(help="Delete records older than this (30d, 12h).")],
    db: DbOption = DEFAULT_DB,
) -> int:
    """Retention: delete audit records older than a given age."""
    cutoff = dt.datetime.now(dt.timezone.utc).timestamp() - parse_duration(
        older_than, field="--older-than"
    )
    store = _store(db)
    try:
        n = store.delete_before(cutoff)
    finally:
        store.close()
    if state(ctx).json:
        emit_json({"deleted": n, "before": cutoff})
    else:
        say(ctx, f"deleted {n} records older than {older_than}")
    return EXIT_OK
