"""The audit store on real databases: SQLite files and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future
from pathlib import Path

import pytest
from tests.guard_service.conftest import reset_postgres

from trainguard.guard.result import Decision
from trainguard.guard.service import AuditQuery, AuditRecord, create_key, open_store, revoke_key
from trainguard.guard.service.audit import AuditStore, AuditWriter, content_hash
from trainguard.guard.service.audit.record import new_request_id
from trainguard.guard.service.audit.sqlite import WRITER_LOCK_SUFFIX, integrity_check
from trainguard.guard.service.audit.store import ROWS_PER_INSERT

T0 = 1_800_000_000.0
TENANTS = ("acme", "beta")
DECISIONS = (Decision.ALLOW, Decision.FLAG, Decision.MASK, Decision.BLOCK)
CHECK_OF = {Decision.FLAG: "factcheck", Decision.MASK: "pii", Decision.BLOCK: "injection"}


def make_records(n: int, *, t0: float = T0, step: float = 7.0) -> list[AuditRecord]:
    out = []
    for i in range(n):
        d = DECISIONS[i % 4]
        fired = {CHECK_OF[d]: d} if d in CHECK_OF else {}
        if i % 5 == 0 and d is not Decision.ALLOW:
            fired["toxicity"] = Decision.FLAG
        out.append(AuditRecord(
            id=f"req{i:05d}", ts=t0 + i * step, tenant=TENANTS[i % 2], key_id="k" * 12,
            policy="default", endpoint="guard", direction="input" if i % 3 else "output",
            decision=d, reasons=[f"reason {i}"] if fired else [], fired=fired,
            latency_ms=0.5 + i % 10, content_sha256=content_hash(f"text {i}"),
            content=f"text {i}" if i % 2 else None, metadata={"i": i},
        ))  # fmt: skip
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        s = open_store(str(tmp_path / "audit.db"))
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
        s = open_store(url)
    yield s
    s.close()


def test_records_round_trip_with_filters(store: AuditStore) -> None:
    recs = make_records(40)
    store.write(recs[:25])
    store.write(recs[25:])
    assert list(store.query()) == recs
    assert store.count() == 40
    q = AuditQuery(tenant="beta", decision=Decision.FLAG, since=T0 + 50, until=T0 + 200)
    expect = [r for r in recs if r.tenant == "beta" and r.decision is Decision.FLAG
              and T0 + 50 <= r.ts < T0 + 200]  # fmt: skip
    assert list(store.query(q)) == expect and store.count(q) == len(expect)
    assert (
        list(store.query(AuditQuery(direction="output", limit=3, newest_first=True)))
        == [r for r in reversed(recs) if r.direction == "output"][:3]
    )
    assert list(store.query(AuditQuery(request_id="req00007"))) == [recs[7]]


def test_a_batch_is_all_or_nothing(store: AuditStore) -> None:
    recs = make_records(5)
    store.write(recs[:2])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.write([*recs[2:], recs[0]])  # the last one repeats a stored (id, seq)
    assert list(store.query()) == recs[:2]


def test_summary_counts_equal_a_direct_count(store: AuditStore) -> None:
    recs = make_records(120)
    store.write(recs)
    since, bucket = T0 + 100, 60.0
    got = {(b.bucket, b.tenant): b for b in store.summary(since, bucket)}
    expect_total: Counter[tuple[float, str]] = Counter()
    expect_dec: Counter[tuple[float, str, str]] = Counter()
    expect_chk: Counter[tuple[float, str, str]] = Counter()
    for r in recs:
        if r.ts < since:
            continue
        k = ((r.ts // bucket) * bucket, r.tenant)
        expect_total[k] += 1
        expect_dec[(*k, r.decision.value)] += 1
        for c in r.fired:
            expect_chk[(*k, c)] += 1
    assert {k: b.total for k, b in got.items()} == dict(expect_total)
    assert {(*k, d): n for k, b in got.items() for d, n in b.decisions.items()} == dict(expect_dec)
    assert {(*k, c): n for k, b in got.items() for c, n in b.checks.items() if n} == dict(
        expect_chk
    )
    only_beta = store.summary(since, bucket, tenant="beta")
    assert {b.tenant for b in only_beta} == {"beta"}
    assert sum(b.total for b in only_beta) == sum(
        n for (_, t), n in expect_total.items() if t == "beta"
    )


def test_retention_deletes_only_older_records(store: AuditStore) -> None:
    recs = make_records(30)
    store.write(recs)
    cutoff = recs[12].ts
    assert store.delete_before(cutoff) == 12
    assert list(store.query()) == recs[12:]
    assert store.delete_before(cutoff) == 0


def test_keys_are_stored_hashed_and_revocable(store: AuditStore) -> None:
    token, key = create_key(store, "acme", policy="strict", rate=5, admin=True)
    stored = store.get_key(key.key_id)
    assert stored == key and stored.burst == 10 and stored.admin
    assert token not in repr(stored.model_dump())
    assert [k.key_id for k in store.list_keys()] == [key.key_id]
    assert revoke_key(store, key.key_id).revoked is not None
    assert store.get_key("0" * 12) is None


def test_writer_commits_from_many_threads_and_isolates_a_bad_request(store: AuditStore) -> None:
    good = make_records(400)
    store.write([good[0]])  # resubmitting it makes its request fail (duplicate key)
    writer = AuditWriter(store, max_batch=64)
    futures: list[tuple[int, Future[None]]] = []
    lock = threading.Lock()

    def submit(part: list[AuditRecord], start: int) -> None:
        for j in range(0, len(part), 4):
            fut = writer.submit(part[j : j + 4])
            with lock:
                futures.append((start + j, fut))

    threads = [
        threading.Thread(target=submit, args=(good[i : i + 50], i)) for i in range(0, 400, 50)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = {start: fut.exception(timeout=30) for start, fut in futures}
    writer.close()
    assert outcomes.pop(0) is not None  # the request holding the duplicate
    assert all(e is None for e in outcomes.values())
    # Everything but the failed request's three new records (all or nothing per request).
    assert store.count() == 397
    assert {r.id for r in store.query()} == {r.id for r in good} - {r.id for r in good[1:4]}
    if store.dialect.name == "sqlite":
        assert integrity_check(store.url) == ["ok"]


def test_a_stopped_writer_refuses_records_instead_of_losing_them(store: AuditStore) -> None:
    writer = AuditWriter(store)
    writer.close()
    assert not writer.alive
    exc = writer.submit(make_records(2)).exception(timeout=5)
    assert isinstance(exc, RuntimeError) and "stopped" in str(exc)
    assert store.count() == 0


def test_one_write_of_many_records_is_one_transaction(store: AuditStore) -> None:
    recs = make_records(ROWS_PER_INSERT * 2 + 7)  # three multi-row INSERTs
    store.write(recs)
    assert list(store.query()) == recs
    dup = make_records(ROWS_PER_INSERT + 3, t0=T0 + 1e6)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.write([*dup[:-1], recs[0]])  # the last INSERT fails: the first is rolled back too
    assert store.count() == len(recs)


def test_waiting_requests_share_one_commit_made_when_the_writer_lock_frees(
    tmp_path: Path,
) -> None:
    db = tmp_path / "audit.db"
    store = open_store(str(db))
    groups: list[int] = []
    write = store.write

    def counted(records: list[AuditRecord]) -> None:
        write(records)
        groups.append(len(records))

    store.write = counted  # type: ignore[method-assign]
    writer = AuditWriter(store)
    other = os.open(f"{db}{WRITER_LOCK_SUFFIX}", os.O_RDWR)  # another process's writer turn
    fcntl.flock(other, fcntl.LOCK_EX)
    recs = make_records(30)

    async def requests() -> list[bool]:
        waiters = [writer.submit_async([r]) for r in recs]
        await asyncio.sleep(0.3)
        pending = [not w.done() for w in waiters]
        assert store.count() == 0  # nothing committed (or acknowledged) while the lock is held
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.gather(*waiters)
        return pending

    try:
        assert all(asyncio.run(requests()))
    finally:
        os.close(other)
        writer.close()
    assert store.count() == 30
    # The group is gathered once the writer has its turn: all 30 share one commit.
    assert groups == [30]
    store.close()


def test_log_checkpoints_run_outside_commits(tmp_path: Path) -> None:
    # A log page or more per record: 1,200 pages, past SQLite's automatic checkpoint at 1,000.
    recs = [r.model_copy(update={"content": "x" * 4000}) for r in make_records(1200)]
    for every in (10**9, 300):
        db = tmp_path / f"audit-{every}.db"
        store = open_store(str(db))
        empty = db.stat().st_size
        writer = AuditWriter(store, checkpoint_every=every)
        for i in range(0, len(recs), 50):
            writer.submit(recs[i : i + 50]).result(timeout=30)
        writer.close()
        grown = db.stat().st_size - empty
        assert store.count() == len(recs)
        store.close()
        if every > len(recs):
            assert grown == 0  # no commit copied the log into the database
        else:
            assert grown > len(recs) * 4000  # the writer's own checkpoints did


def test_the_log_starts_over_under_continuous_commits_of_two_writers(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    stores = [open_store(str(db)) for _ in range(2)]  # two workers' stores on one file
    writers = [AuditWriter(s, checkpoint_every=100) for s in stores]
    recs = [r.model_copy(update={"content": "x" * 1000}) for r in make_records(4000)]

    def load(k: int) -> None:
        mine = recs[k::2]
        for i in range(0, len(mine), 5):
            writers[k].submit(mine[i : i + 5]).result(timeout=30)

    threads = [threading.Thread(target=load, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for w in writers:
        w.close()
    log_size = Path(f"{db}-wal").stat().st_size  # its largest extent (a log starting over keeps it)
    assert stores[0].count() == 4000
    for s in stores:
        s.close()
    # 800 commits of 5 records, 1 MB a 200: the log started over along the way.
    assert log_size < 3_000_000, log_size


def test_a_decision_is_acknowledged_only_after_the_log_sync_that_follows_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "audit.db"
    store = open_store(str(db))
    real, gate, synced = os.fdatasync, threading.Event(), []

    def held_sync(fd: int) -> None:  # the real sync, the first one held until the test says
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        if len(synced) == 1:
            assert gate.wait(30)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", held_sync)
    recs = make_records(2)
    writer = AuditWriter(store)
    fut = writer.submit(recs[:1])
    deadline = time.monotonic() + 30
    while not synced and time.monotonic() < deadline:
        time.sleep(0.01)
    assert synced == [os.path.realpath(db) + "-wal"]
    assert store.count() == 1 and not fut.done()  # committed, not acknowledged before the sync
    other = open_store(str(db))  # another process's writer: the write lock is free meanwhile
    t = threading.Thread(target=other.write, args=(recs[1:],))
    t.start()
    t.join(30)
    assert not t.is_alive() and store.count() == 2 and not fut.done()
    gate.set()
    fut.result(timeout=30)
    writer.close()
    other.close()
    store.close()


def test_request_ids_are_uuid7_ordered_by_time() -> None:
    before = time.time_ns() // 1_000_000
    first = new_request_id()
    after = time.time_ns() // 1_000_000
    time.sleep(0.002)
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == 2000 and all(len(i) == 32 for i in ids)
    u = uuid.UUID(first)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert before <= u.int >> 80 <= after  # the leading 48 bits: Unix ms at creation
    assert all(first < i for i in ids)  # made later, sorts later (a millisecond apart)
