"""Guard service throughput and latency (p50/p99) at concurrency 1, 16 and 64, on loopback.

The service runs as ``trainguard guard serve`` (uvicorn, ``--workers`` processes each
on its own ``SO_REUSEPORT`` socket, the SQLite audit log with durable group commits)
and this process drives it with a
small asyncio HTTP/1.1 client (keep-alive connections, one request in flight per
connection, so concurrency = connections), bounded by a request count and a time
limit per level. Texts: the 500-character texts of ``benchmarks.guard_latency``
(benign prompts, tweets, jailbreaks). Two policies: keywords + PII + injection
heuristics (no classifier), and the same with the embedding layer on.

Side by side, on the same texts and client: the Guard called in-process (one core,
no HTTP, no audit log: the library's own speed) and a bare FastAPI/uvicorn endpoint
returning a fixed JSON (the HTTP stack's ceiling on this machine).

Aim (issue 9): at least 1,000 checks/s with p99 under 20 ms at concurrency 16 for the
first policy, on these 2 cores (which the client shares with the server).

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_service_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import REPO, print_table
from benchmarks.guard_latency import texts_500
from trainguard.guard import Guard, Policy

POLICIES = {
    "keywords + PII + injection heuristics": "toxicity:\n  classifier: {model: none}\n",
    "+ embedding similarity": "toxicity:\n  classifier: {model: none}\ninjection: {embeddings: true}\n",
}
BARE_APP = """
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/v1/guard/input")
async def echo(request: Request) -> dict:
    body = await request.json()
    return {"decision": "allow", "chars": len(body["text"])}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code in (200, 404, 405):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- the load client -----------------------------------------------------------------


async def _connection(port: int, requests: list[bytes], deadline: float, lat: list[float],
                      codes: dict[int, int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in requests:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            codes[status] = codes.get(status, 0) + 1
    finally:
        writer.close()


def _request(text: str, token: str) -> bytes:
    body = json.dumps({"text": text}).encode()
    head = (f"POST /v1/guard/input HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(port: int, token: str, texts: list[str], concurrency: int, total: int,
         seconds: float, server_pgid: int) -> dict[str, float]:  # fmt: skip
    """Run ``total`` requests (or ``seconds``) over ``concurrency`` connections.

    Also the CPU time per request of the server's processes and of this client.
    """
    reqs = [_request(t, token) for t in texts]
    per = max(1, total // concurrency)
    lat: list[float] = []
    codes: dict[int, int] = {}

    async def run() -> float:
        warm = time.perf_counter() + 1.0
        await asyncio.gather(*[_connection(port, reqs[i::concurrency][:4], warm, [], {})
                               for i in range(concurrency)])  # fmt: skip
        t0 = time.perf_counter()
        deadline = t0 + seconds
        plans = [
            [reqs[(i + k * concurrency) % len(reqs)] for k in range(per)]
            for i in range(concurrency)
        ]
        await asyncio.gather(*[_connection(port, p, deadline, lat, codes) for p in plans])
        return time.perf_counter() - t0

    server0, client0 = group_cpu_s(server_pgid), time.process_time()
    try:
        import uvloop

        wall = uvloop.run(run())
    except ImportError:
        wall = asyncio.run(run())
    server, client = group_cpu_s(server_pgid) - server0, time.process_time() - client0
    ms = np.asarray(lat) * 1e3
    ok = codes.get(200, 0)
    n = len(lat) + 4 * concurrency  # with the warm-up requests
    return {"n": len(lat), "ok": ok, "rps": ok / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "errors": len(lat) - ok,
            "server_ms": server / n * 1e3, "client_ms": client / n * 1e3}  # fmt: skip


# --- the runs --------------------------------------------------------------------------


def in_process(texts: list[str], policy_yaml: str, total: int) -> dict[str, float]:
    guard = Guard(Policy.from_text(policy_yaml))
    guard.check(texts[0])
    lat = []
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(total):
        t = time.perf_counter()
        guard.check(texts[i % len(texts)])
        lat.append((time.perf_counter() - t) * 1e3)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"n": total, "rps": total / wall, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "cpu_ms": cpu / total * 1e3}  # fmt: skip


def service_runs(tmp: Path, label: str, policy_yaml: str, texts: list[str], args: argparse.Namespace,
                 ) -> list[list[object]]:  # fmt: skip
    from trainguard.guard.service import create_key, open_store

    db = tmp / f"audit-{len(label)}.db"
    pol = tmp / f"policy-{len(label)}.yaml"
    pol.write_text(policy_yaml)
    store = open_store(str(db))
    token = create_key(store, "bench", rate=1e9, burst=10**9)[0]
    store.close()
    port = free_port()
    proc = start([sys.executable, "-m", "trainguard.cli.app", "--quiet", "guard", "serve", "--db", str(db),
                  "--port", str(port), "--workers", str(args.workers), "--policy", f"default={pol}"],
                 env={"HF_HUB_OFFLINE": "1"})  # fmt: skip
    rows = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        for c in args.concurrency:
            r = load(port, token, texts, c, args.requests, args.seconds, proc.pid)
            rows.append([label, "guard service", c, r["n"], r["rps"], r["p50"], r["p99"],
                         r["errors"], r["server_ms"], r["client_ms"]])  # fmt: skip
    finally:
        stop(proc)
    return rows


def bare_runs(tmp: Path, texts: list[str], args: argparse.Namespace) -> list[list[object]]:
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = start([sys.executable, "-m", "uvicorn", "--app-dir", str(tmp), "bare_app:app", "--port", str(port),
                  "--workers", str(args.workers), "--log-level", "warning"])  # fmt: skip
    rows = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/docs", proc)
        for c in args.concurrency:
            r = load(port, "x", texts, c, args.requests, args.seconds, proc.pid)
            rows.append(["(none)", "bare FastAPI echo", c, r["n"], r["rps"], r["p50"], r["p99"],
                         r["errors"], r["server_ms"], r["client_ms"]])  # fmt: skip
    finally:
        stop(proc)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--requests", type=int, default=6000, help="most requests per level")
    ap.add_argument("--seconds", type=float, default=10.0, help="longest run per level")
    ap.add_argument("--skip-embeddings", action="store_true")
    args = ap.parse_args(argv)
    texts = texts_500()
    rows: list[list[object]] = []
    ref = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows += bare_runs(tmp, texts, args)
        for label, yaml in POLICIES.items():
            if args.skip_embeddings and "embedding" in label:
                continue
            r = in_process(
                texts, yaml, min(args.requests, 3000 if "embedding" not in label else 300)
            )
            ref[label] = r
            rows.append([label, "Guard.check in-process", 1, r["n"], r["rps"], r["p50"], r["p99"],
                         0, r["cpu_ms"], ""])  # fmt: skip
            rows += service_runs(tmp, label, yaml, texts, args)
    bare = {r[2]: r[4] for r in rows if r[1] == "bare FastAPI echo"}
    table = [
        [*r, r[4] / bare[r[2]] if r[1] == "guard service" else "", r[4] / ref[r[0]]["rps"]
         if r[1] == "guard service" else ""]
        for r in rows
    ]  # fmt: skip
    print_table(
        f"Guard service on loopback: {len(texts)} texts of 500 characters, {args.workers} workers, "
        f"SQLite audit log (WAL, group commit, log synced before acknowledging)",
        ["policy", "server", "concurrency", "requests", "checks/s", "p50 ms", "p99 ms", "errors",
         "server CPU ms/req", "client CPU ms/req", "x bare FastAPI", "x in-process"],
        table,
    )  # fmt: skip
    svc16 = [
        r for r in rows if r[1] == "guard service" and r[2] == 16 and "embedding" not in str(r[0])
    ]
    if svc16:
        r = svc16[0]
        met = float(r[4]) >= 1000 and float(r[6]) < 20  # type: ignore[arg-type]
        print(f"\naim (>= 1000 checks/s, p99 < 20 ms at concurrency 16, first policy): "
              f"{'met' if met else 'not met'} ({float(r[4]):.0f}/s, p99 {float(r[6]):.1f} ms)")  # type: ignore[arg-type]  # fmt: skip


if __name__ == "__main__":
    main()
