"""Crash test: kill -9 the service under load; every acknowledged decision must be in the log."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.guard_service.conftest import Server, fast_default_policy, free_port, service_server

from trainguard.guard.service import create_key, open_store
from trainguard.guard.service.audit.sqlite import integrity_check

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, str]]:
    """A one-worker service of its own, whose upstream is a port nobody listens on."""
    tmp = tmp_path_factory.mktemp("crash")
    db = tmp / "audit.db"
    store = open_store(str(db))
    token = create_key(store, "load", rate=100_000)[0]
    store.close()
    srv = service_server(str(db), tmp / "service.log", upstream=f"http://127.0.0.1:{free_port()}/v1",
                         policies={"default": fast_default_policy(tmp)})  # fmt: skip
    yield srv.start("/readyz"), db, token
    srv.stop()


def test_unreachable_upstream_is_502(lone) -> None:
    srv, _, token = lone
    r = httpx.post(srv.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                   json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_error"
    assert "upstream unreachable (ConnectError)" in r.json()["error"]["message"]


def _load(url: str, token: str, acked: list[str], stop: threading.Event, n: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = c.post(
                    "/v1/guard/input", json={"text": f"worker {n} message {i}: mail a{i}@b.org"}
                )
            except httpx.HTTPError:
                return  # the server is gone
            if r.status_code == 200:
                acked.append(r.json()["id"])


def test_kill9_under_load_loses_no_acknowledged_decision(lone) -> None:
    srv, db, token = lone
    acked: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_load, args=(srv.url, token, acked, stop, n)) for n in range(8)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    srv.kill9()  # mid-load: requests are in flight and commits may be half-way
    stop.set()
    for t in threads:
        t.join(15)
    assert len(acked) >= 100, "the load never got going"
    assert integrity_check(db) == ["ok"]
    con = sqlite3.connect(db)
    stored = {row[0] for row in con.execute("SELECT id FROM decisions")}
    con.close()
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged decisions lost"
    # The service comes back on the same file and keeps recording.
    srv.start("/readyz")
    r = httpx.post(srv.url + "/v1/guard/input", json={"text": "after the crash"},
                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200
    store = open_store(str(db))
    try:
        assert store.count() >= len(stored) + 1
    finally:
        store.close()
    assert integrity_check(db) == ["ok"]
