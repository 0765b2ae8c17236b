"""The deployment engine: a SuperLink and SuperNodes as separate processes, with TLS and node authentication.

:class:`Federation` starts ``flower-superlink`` with the certificates of
:mod:`~trainguard.federated.certs` and ``--enable-supernode-auth``, registers
SuperNode public keys with ``flwr supernode register``, starts one
``flower-supernode`` per client (``--root-certificates``,
``--auth-supernode-private-key``, ``--node-config partition-id=i``), and submits
the run with ``flwr run`` as a Flower App whose components are
``trainguard.federated.server_app:app`` and ``trainguard.federated.client_app:app``.
Every process gets its own ports on ``host`` and a private ``FLWR_HOME``; logs go
to ``<workdir>/logs``. :func:`run_deployment` does all of it, and also starts a
SuperNode with an unregistered key to check that the SuperLink refuses it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from trainguard.core.atomic import atomic_write_text
from trainguard.core.errors import ConfigError, DataError, MissingDependency
from trainguard.federated.certs import CertificateSet, NodeKey, make_certificates, make_node_key
from trainguard.federated.config import FederatedConfig
from trainguard.federated.results import DeploymentReport, FederatedResult
from trainguard.federated.runtime import CONFIG_KEY, OUTPUT_KEY

CONNECTION = "trainguard"
"""Name of the SuperLink connection in the private Flower configuration."""

APP_PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "trainguard-federated"
version = "1.0.0"
description = "A trainguard federated run"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "trainguard"

[tool.flwr.app.components]
serverapp = "trainguard_flower_app:server_app"
clientapp = "trainguard_flower_app:client_app"

[tool.flwr.app.config]
{config_key} = {config_path}
{output_key} = {output_path}
"""
APP_MODULE = '''"""Entry points of a trainguard federated run (the code lives in trainguard.federated)."""

from trainguard.federated.client_app import app as client_app
from trainguard.federated.server_app import app as server_app

__all__ = ["client_app", "server_app"]
'''


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def flower_binary(name: str) -> str:
    """Path of a Flower executable (next to this Python first, then on PATH)."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise MissingDependency(f"'{name}' not found: pip install 'trainguard[federated]'")
    return found


def _tail(path: Path, lines: int = 5) -> str:
    if not path.is_file():
        return ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", path.read_text(encoding="utf-8", errors="replace"))
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


class Federation:
    """A SuperLink with TLS and SuperNode authentication, and the SuperNodes started for it.

    Use it as a context manager: processes are stopped (by their own ids) on exit.
    """

    def __init__(
        self, certs: CertificateSet, workdir: str | Path, *, host: str = "127.0.0.1"
    ) -> None:
        self.certs = certs
        self.workdir = Path(workdir)
        self.host = host
        self.port = 0
        self.logs = self.workdir / "logs"
        self.home = self.workdir / "flwr-home"
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def address(self) -> str:
        """``host:port`` of the SuperLink (Fleet, Control and runtime APIs share it)."""
        return f"{self.host}:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["FLWR_HOME"] = str(self.home)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self._env(), cwd=self.workdir
            )
        self._procs.append(proc)
        return proc

    def _flwr(
        self, args: list[str], *, timeout: float, log: str
    ) -> subprocess.CompletedProcess[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{log}.log").open("ab") as fh:
            return subprocess.run(
                [flower_binary("flwr"), *args],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.workdir,
                timeout=timeout,
                check=False,
            )

    def start(self, *, timeout: float = 60.0) -> Federation:
        """Start the SuperLink on a free port and wait until it accepts connections."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host)
        atomic_write_text(
            self.home / "config.toml",
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "{self.address}"\nroot-certificates = "{self.certs.ca_cert.resolve()}"\n',
        )
        proc = self._spawn(
            "superlink",
            [
                flower_binary("flower-superlink"),
                "--ssl-ca-certfile",
                str(self.certs.ca_cert.resolve()),
                "--ssl-certfile",
                str(self.certs.server_cert.resolve()),
                "--ssl-keyfile",
                str(self.certs.server_key.resolve()),
                "--enable-supernode-auth",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--disable-runtime-dependency-installation",
            ],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DataError(
                    f"flower-superlink exited with code {proc.returncode}: {_tail(self.logs / 'superlink.log')}"
                )
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                if s.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.3)
        raise DataError(f"flower-superlink did not open {self.address} within {timeout:.0f} s")

    def register(self, keys: list[NodeKey], *, timeout: float = 60.0) -> list[int]:
        """Register SuperNode public keys with the SuperLink (concurrently); return the node ids assigned."""
        self.logs.mkdir(parents=True, exist_ok=True)
        procs = []
        for i, key in enumerate(keys):
            args = ["supernode", "register", str(key.public.resolve()), CONNECTION]
            procs.append(self._spawn(f"register-{i}", [flower_binary("flwr"), *args]))
        ids = []
        for i, (key, proc) in enumerate(zip(keys, procs, strict=True)):
            code = proc.wait(timeout=timeout)
            text = _tail(self.logs / f"register-{i}.log", lines=3)
            match = re.findall(r"SuperNode (\d+) registered", text)
            if code != 0 or not match:
                raise DataError(f"flwr supernode register {key.public} failed: {text}")
            ids.append(int(match[-1]))
        return ids

    def _node_args(self, key: NodeKey, node_config: str, extra: list[str]) -> list[str]:
        return [
            flower_binary("flower-supernode"),
            "--root-certificates",
            str(self.certs.ca_cert.resolve()),
            "--superlink",
            self.address,
            "--auth-supernode-private-key",
            str(key.private.resolve()),
            "--node-config",
            node_config,
            "--host",
            self.host,
            "--port",
            str(free_port(self.host)),
            *extra,
        ]

    def start_node(
        self, key: NodeKey, partition: int, num_partitions: int
    ) -> subprocess.Popen[bytes]:
        """Start a SuperNode for client ``partition`` signing with ``key``."""
        cfg = f"partition-id={partition} num-partitions={num_partitions}"
        return self._spawn(f"supernode-{partition}", self._node_args(key, cfg, []))

    def start_intruder(self, key: NodeKey) -> subprocess.Popen[bytes]:
        """Start a SuperNode signing with ``key`` that gives up after one failed connection."""
        extra = ["--max-retries", "1", "--max-wait-time", "10"]
        return self._spawn(
            "intruder", self._node_args(key, "partition-id=0 num-partitions=1", extra)
        )

    def intruder_outcome(
        self, proc: subprocess.Popen[bytes], *, timeout: float = 60.0
    ) -> tuple[bool, int | None, str]:
        """``(refused, Flower exit code, reason line)`` of a node started by :meth:`start_intruder`.

        A node still running after ``timeout`` seconds was let in: it counts as
        accepted and is stopped.
        """
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop(proc)
            return False, None, _tail(self.logs / "intruder.log", lines=1)
        lines = _tail(self.logs / "intruder.log", lines=40).split(" | ")
        flower_code = next(
            (int(m) for p in lines for m in re.findall(r"Exit Code: (\d+)", p)), code
        )
        reason = next(
            (p for p in lines if "[code:" in p),
            next((p for p in lines if "Failed to" in p), lines[-1]),
        )
        return code != 0, flower_code, reason

    def run_app(
        self, cfg: FederatedConfig, output: str | Path, *, timeout: float
    ) -> FederatedResult:
        """Submit ``cfg`` as a Flower App with ``flwr run`` and wait for its result in ``output``."""
        out = Path(output).resolve()
        out.mkdir(parents=True, exist_ok=True)
        app = self.workdir / "app"
        app.mkdir(parents=True, exist_ok=True)
        config_file = atomic_write_text(self.workdir / "config.json", cfg.model_dump_json(indent=2))
        atomic_write_text(app / "trainguard_flower_app.py", APP_MODULE)
        atomic_write_text(
            app / "pyproject.toml",
            APP_PYPROJECT.format(
                config_key=json.dumps(CONFIG_KEY),
                config_path=json.dumps(str(config_file.resolve())),
                output_key=json.dumps(OUTPUT_KEY),
                output_path=json.dumps(str(out)),
            ),
        )
        try:
            done = self._flwr(["run", str(app), CONNECTION, "--stream"], timeout=timeout, log="run")
        except subprocess.TimeoutExpired:
            raise DataError(
                f"the federated run did not finish within {timeout:.0f} s; logs in {self.logs}"
            ) from None
        if done.returncode != 0:
            raise DataError(
                f"flwr run failed (exit {done.returncode}): {_tail(self.logs / 'run.log')}"
            )
        return FederatedResult.load(out)

    @staticmethod
    def _stop(*procs: subprocess.Popen[bytes]) -> None:
        """Ask each process to terminate, then wait for all (killing any that hang)."""
        running = [p for p in procs if p.poll() is None]
        for p in running:
            p.terminate()
        for p in running:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def stop(self) -> None:
        """Stop every process this federation started."""
        self._stop(*self._procs)
        self._procs.clear()

    def __enter__(self) -> Federation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def deployment_certificates(cfg: FederatedConfig, workdir: Path) -> CertificateSet:
    """The certificates in ``engine.certs`` (with a key per client), or a fresh set in ``workdir``."""
    n = cfg.partition.num_clients
    if cfg.engine.certs is None:
        return make_certificates(workdir / "certs", nodes=n, hosts=(cfg.engine.host, "localhost"))
    certs = CertificateSet.load(cfg.engine.certs)
    if len(certs.nodes) < n:
        raise ConfigError(
            f"engine.certs: {certs.folder} holds {len(certs.nodes)} node keys for {n} clients; "
            f"run `trainguard federated certs {certs.folder} --nodes {n}`"
        )
    return certs


def run_deployment(
    cfg: FederatedConfig,
    output: str | Path,
    *,
    workdir: str | Path | None = None,
    probe_intruder: bool = True,
) -> FederatedResult:
    """Run ``cfg`` on a real SuperLink and SuperNodes on ``engine.host`` (TLS, node authentication).

    Returns the ServerApp's result with a :class:`DeploymentReport`: the registered
    node ids and, with ``probe_intruder``, whether a SuperNode holding an
    unregistered key was refused. Without ``workdir`` the federation lives in a
    temporary folder (keys made for it are deleted) and its logs are copied to
    ``output/deployment-logs``.
    """
    if workdir is not None:
        return _deploy(cfg, Path(output), Path(workdir), probe_intruder)
    with tempfile.TemporaryDirectory(prefix="trainguard-federation-") as tmp:
        try:
            return _deploy(cfg, Path(output), Path(tmp), probe_intruder)
        finally:
            if (Path(tmp) / "logs").is_dir():
                shutil.copytree(
                    Path(tmp) / "logs", Path(output) / "deployment-logs", dirs_exist_ok=True
                )


def _deploy(
    cfg: FederatedConfig, output: Path, work: Path, probe_intruder: bool
) -> FederatedResult:
    work.mkdir(parents=True, exist_ok=True)
    certs = deployment_certificates(cfg, work)
    n = cfg.partition.num_clients
    with Federation(certs, work, host=cfg.engine.host) as fed:
        fed.start()
        ids = fed.register(certs.nodes[:n])
        for i in range(n):
            fed.start_node(certs.nodes[i], i, n)
        intruder = fed.start_intruder(make_node_key(work / "intruder")) if probe_intruder else None
        result = fed.run_app(cfg, output, timeout=cfg.engine.timeout)
        probe: tuple[bool | None, int | None, str] = (None, None, "")
        if intruder is not None:
            probe = fed.intruder_outcome(intruder)
    result.deployment = DeploymentReport(
        superlink=fed.address,
        tls=True,
        node_authentication=True,
        registered_nodes=ids,
        intruder_refused=probe[0],
        intruder_exit_code=probe[1],
        intruder_message=probe[2],
    )
    result.save(output)
    return result
