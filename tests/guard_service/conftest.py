"""Real servers for the service tests: the guard service (uvicorn on 127.0.0.1, random ports) and an upstream.

Nothing is mocked: the service runs as ``trainguard guard serve`` in its own process
(two workers for the shared server), the upstream is the small OpenAI-compatible app
in ``upstream_app.py`` under uvicorn, and the audit log is a real SQLite file.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from trainguard.guard.service import ApiKey, create_key, open_store
from trainguard.guard.service.keys import parse_token, token_hash

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STRICT_POLICY = """\
toxicity:
  keywords: {block: high}
  classifier: {model: none}
audit: {store_text: true}
"""
"""Tenant beta's policy: keyword blocks from 'high' severity, no classifier, raw texts kept."""
FUZZ_TOKEN = f"tg_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
"""Known when the fuzz test module is imported (schemathesis takes its auth then); stored in setup."""
FAST_DEFAULT_POLICY = "toxicity:\n  classifier: {model: none}\n"
"""The built-in policy without the toxicity classifier (its pickle scan costs seconds per worker)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process on 127.0.0.1."""

    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str, timeout: float = 90.0) -> Server:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.args, cwd=REPO, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.url} not ready after {timeout} s")

    def kill9(self) -> None:
        """SIGKILL the whole process group (uvicorn and any workers), no clean-up."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def service_server(db: str, log: Path, *, workers: int = 1, upstream: str | None = None,
                   policies: dict[str, Path] | None = None, extra: list[str] | None = None) -> Server:  # fmt: skip
    """``trainguard guard serve`` on a free port (not started)."""
    port = free_port()
    args = [sys.executable, "-m", "trainguard.cli.app", "--quiet", "guard", "serve", "--db", db,
            "--port", str(port), "--workers", str(workers)]  # fmt: skip
    if upstream:
        args += ["--upstream", upstream, "--upstream-timeout", "2"]
    for name, path in (policies or {}).items():
        args += ["--policy", f"{name}={path}"]
    env = {"HF_HUB_OFFLINE": "1", "TRAINGUARD_SERVICE_KEY_CACHE_S": "1"}
    return Server(args + (extra or []), port, env=env, log=log)


def fast_default_policy(folder: Path) -> Path:
    """Write the test servers' default policy into ``folder``."""
    path = folder / "fast-default.yaml"
    path.write_text(FAST_DEFAULT_POLICY)
    return path


@dataclass
class Service:
    """The shared service: its server, database and tokens by name."""

    server: Server
    db: Path
    tokens: dict[str, str]
    upstream: Server

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, name: str = "acme") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def client(self, name: str = "acme") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(name), timeout=30)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    args = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "upstream_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    srv = Server(args, port, log=log).start("/docs")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, upstream: Server) -> Iterator[Service]:
    """The guard service with two workers, a SQLite audit log and keys for several tenants."""
    tmp = tmp_path_factory.mktemp("service")
    db = tmp / "audit.db"
    strict = tmp / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    fast = fast_default_policy(tmp)
    store = open_store(str(db))
    tokens = {
        "acme": create_key(store, "acme")[0],
        "beta": create_key(store, "beta", policy="strict")[0],
        "admin": create_key(store, "ops", admin=True)[0],
        "slowpoke": create_key(store, "slowpoke", rate=0.5, burst=2)[0],
        "ghost": create_key(store, "ghost", policy="missing")[0],
    }
    store.add_key(ApiKey(key_id=parse_token(FUZZ_TOKEN) or "", key_hash=token_hash(FUZZ_TOKEN),
                         tenant="fuzz", rate=100_000, burst=100_000))  # fmt: skip
    tokens["fuzz"] = FUZZ_TOKEN
    store.close()
    srv = service_server(str(db), tmp / "service.log", workers=2, upstream=upstream.url + "/v1",
                         policies={"strict": strict, "default": fast}).start("/readyz")  # fmt: skip
    yield Service(srv, db, tokens, upstream)
    srv.stop()


def _postgres_bindir() -> Path | None:
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a random loopback port (skips without the server binaries)."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are absent; .ci/services installs them"
        )
    prefix: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="trainguard-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    db = str(data / "db")

    def run(tool: str, *args: str, check: bool = True) -> None:
        subprocess.run([*prefix, str(bindir / tool), *args], check=check, capture_output=True)

    run("initdb", "-D", db, "-A", "trust", "-U", "postgres", "--no-sync")
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    run("pg_ctl", "-D", db, "-l", str(data / "log"), "-o", opts, "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", db, "-m", "immediate", "stop", check=False)
        shutil.rmtree(data, ignore_errors=True)


def reset_postgres(url: str) -> None:
    """Drop the service's tables so a test starts from an empty database."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS decisions, api_keys")
