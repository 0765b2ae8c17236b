"""The audit store: one SQL implementation over a small dialect (SQLite or PostgreSQL).

The same tables serve both databases: ``decisions`` (one row per guard decision,
keyed by request id and position) and ``api_keys``. A :class:`Dialect` supplies
what differs: how to connect, the parameter marker, how to floor a timestamp into
a bucket, and how a write transaction is opened. Every thread gets its own
connection, so the group-commit writer, the dashboard and the key look-ups never
share one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trainguard.core.errors import ConfigError
from trainguard.guard.service.audit.record import CHECKS, AuditQuery, AuditRecord, BucketCount
from trainguard.guard.service.keys import ApiKey

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decisions (
        id TEXT NOT NULL, seq INTEGER NOT NULL, ts DOUBLE PRECISION NOT NULL,
        tenant TEXT NOT NULL, key_id TEXT NOT NULL, policy TEXT NOT NULL,
        endpoint TEXT NOT NULL, direction TEXT NOT NULL, decision TEXT NOT NULL,
        reasons TEXT NOT NULL, fired TEXT NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
        content_sha256 TEXT NOT NULL, content TEXT, metadata TEXT NOT NULL,
        PRIMARY KEY (id, seq))""",
    "CREATE INDEX IF NOT EXISTS decisions_ts ON decisions (ts)",
    "CREATE INDEX IF NOT EXISTS decisions_tenant_ts ON decisions (tenant, ts)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, tenant TEXT NOT NULL,
        policy TEXT NOT NULL, rate DOUBLE PRECISION NOT NULL, burst INTEGER NOT NULL,
        admin BOOLEAN NOT NULL, created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION)""",
)
_COLUMNS = (
    "id, seq, ts, tenant, key_id, policy, endpoint, direction, decision, reasons, fired, "
    "latency_ms, content_sha256, content, metadata"
)
_ROW_MARKS = "(" + ", ".join("?" * len(_COLUMNS.split(", "))) + ")"
ROWS_PER_INSERT = 256
"""Most rows in one ``INSERT`` (15 parameters each, well under SQLite's 32,766)."""
_KEY_COLUMNS = "key_id, key_hash, tenant, policy, rate, burst, admin, created, revoked"


def _no_turn(conn: Any) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Dialect:
    """What differs between the databases the store runs on."""

    name: str
    connect: Callable[[], Any]
    """A new DB-API connection in autocommit mode."""
    transaction: Callable[[Any], contextlib.AbstractContextManager[Any]]
    """A write transaction on a connection: commits durably on exit, rolls back on error."""
    param: str
    """The parameter marker (``?`` or ``%s``)."""
    bucket: str
    """SQL flooring ``ts`` to a multiple of the bucket width (one parameter)."""
    turn: Callable[[Any], contextlib.AbstractContextManager[None]] = _no_turn
    """Holds the database's writer turn on a connection across several transactions
    (SQLite: other processes' writers wait; a no-op where writers do not queue)."""
    checkpoint_sql: tuple[str, str] | None = None
    """SQL that stops a connection's automatic checkpoints, and SQL that checkpoints now
    (SQLite's write-ahead log); ``None`` where the database needs neither."""


def _row(rec: AuditRecord) -> tuple[Any, ...]:
    return (
        rec.id, rec.seq, rec.ts, rec.tenant, rec.key_id, rec.policy, rec.endpoint,
        rec.direction, rec.decision.value, json.dumps(rec.reasons),
        json.dumps({k: v.value for k, v in rec.fired.items()}), rec.latency_ms,
        rec.content_sha256, rec.content, json.dumps(rec.metadata),
    )  # fmt: skip


def _record(row: Sequence[Any]) -> AuditRecord:
    names = _COLUMNS.split(", ")
    d = dict(zip(names, row, strict=True))
    for k in ("reasons", "fired", "metadata"):
        d[k] = json.loads(d[k])
    return AuditRecord.model_validate(d)


class AuditStore:
    """Decisions and API keys in a SQL database (see :func:`open_store`)."""

    def __init__(self, dialect: Dialect, url: str) -> None:
        self.dialect = dialect
        self.url = url
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        conn = self._conn()
        with dialect.transaction(conn) as cur:
            for stmt in SCHEMA:
                cur.execute(stmt)

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.dialect.connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _sql(self, text: str) -> str:
        return text.replace("?", self.dialect.param)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cur = self._conn().cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()

    def _write(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self.dialect.transaction(self._conn()) as cur:
            if len(rows) == 1:
                cur.execute(self._sql(sql), tuple(rows[0]))
            else:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
            return int(cur.rowcount)

    # --- decisions ---------------------------------------------------------------
    @contextlib.contextmanager
    def writer_turn(self) -> Iterator[None]:
        """Hold the writer turn of this thread's connection across several :meth:`write` calls."""
        with self.dialect.turn(self._conn()):
            yield

    def manual_checkpoints(self) -> None:
        """Stop this thread's connection checkpointing inside its commits; see :meth:`checkpoint`.

        SQLite otherwise copies the log into the database inside the commit that passes
        1,000 log pages, which makes that commit (and every request waiting on it)
        several syncs long.
        """
        if self.dialect.checkpoint_sql is not None:
            self._fetch(self.dialect.checkpoint_sql[0])

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database now, without waiting for readers."""
        if self.dialect.checkpoint_sql is not None:
            self._fetch(self.dialect.checkpoint_sql[1])

    def write(self, records: Sequence[AuditRecord]) -> None:
        """Insert ``records`` in one durable transaction (all or none).

        Up to :data:`ROWS_PER_INSERT` records go in one multi-row ``INSERT``: one
        statement per group instead of one step per row.
        """
        if not records:
            return
        rows = [_row(r) for r in records]
        with self.dialect.transaction(self._conn()) as cur:
            for i in range(0, len(rows), ROWS_PER_INSERT):
                part = rows[i : i + ROWS_PER_INSERT]
                values = ", ".join([_ROW_MARKS] * len(part))
                cur.execute(
                    self._sql(f"INSERT INTO decisions ({_COLUMNS}) VALUES {values}"),
                    tuple(v for row in part for v in row),
                )

    def _where(self, q: AuditQuery) -> tuple[str, list[Any]]:
        conds, params = [], []
        for col, op, val in (
            ("ts", ">=", q.since),
            ("ts", "<", q.until),
            ("tenant", "=", q.tenant),
            ("decision", "=", q.decision.value if q.decision else None),
            ("direction", "=", q.direction),
            ("id", "=", q.request_id),
        ):
            if val is not None:
                conds.append(f"{col} {op} ?")
                params.append(val)
        return (" WHERE " + " AND ".join(conds)) if conds else "", params

    def query(self, q: AuditQuery | None = None, *, chunk: int = 1000) -> Iterator[AuditRecord]:
        """Records matching ``q`` in time order (newest first if asked), streamed in chunks."""
        q = q or AuditQuery()
        where, params = self._where(q)
        order = "DESC" if q.newest_first else "ASC"
        sql = f"SELECT {_COLUMNS} FROM decisions{where} ORDER BY ts {order}, id, seq"
        if q.limit is not None:
            sql += f" LIMIT {int(q.limit)}"
        cur = self._conn().cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
            while rows := cur.fetchmany(chunk):
                yield from (_record(r) for r in rows)
        finally:
            cur.close()

    def count(self, q: AuditQuery | None = None) -> int:
        """Number of records matching ``q``."""
        where, params = self._where(q or AuditQuery())
        return int(self._fetch(f"SELECT COUNT(*) FROM decisions{where}", params)[0][0])

    def delete_before(self, ts: float) -> int:
        """Delete records older than ``ts`` (Unix seconds); return how many went."""
        return self._write("DELETE FROM decisions WHERE ts < ?", [(ts,)])

    def summary(
        self, since: float, bucket_s: float, tenant: str | None = None
    ) -> list[BucketCount]:
        """Decision and per-check counts per time bucket and tenant since ``since``."""
        if not bucket_s > 0:
            raise ConfigError(f"bucket_s must be > 0; got {bucket_s}")
        fired = ", ".join("SUM(CASE WHEN fired LIKE ? THEN 1 ELSE 0 END)" for _ in CHECKS)
        where = "ts >= ?" + (" AND tenant = ?" if tenant else "")
        sql = (
            f"SELECT {self.dialect.bucket} AS b, tenant, decision, COUNT(*), {fired} "
            f"FROM decisions WHERE {where} GROUP BY b, tenant, decision ORDER BY b, tenant"
        )
        patterns = [f'%"{c}"%' for c in CHECKS]
        rows = self._fetch(sql, [bucket_s, *patterns, since] + ([tenant] if tenant else []))
        out: dict[tuple[float, str], BucketCount] = {}
        for b, ten, dec, n, *per_check in rows:
            key = (float(b) * bucket_s, str(ten))
            bc = out.setdefault(
                key,
                BucketCount(bucket=key[0], tenant=key[1], total=0, decisions={}, checks={}),
            )
            bc.total += int(n)
            bc.decisions[str(dec)] = bc.decisions.get(str(dec), 0) + int(n)
            for c, k in zip(CHECKS, per_check, strict=True):
                bc.checks[c] = bc.checks.get(c, 0) + int(k or 0)
        return list(out.values())

    def latencies(
        self, since: float, tenant: str | None = None, limit: int = 5000
    ) -> list[tuple[float, float]]:
        """(time, guard latency in ms) of the newest ``limit`` records since ``since``."""
        where = "ts >= ?" + (" AND tenant = ?" if tenant else "")
        rows = self._fetch(
            f"SELECT ts, latency_ms FROM decisions WHERE {where} ORDER BY ts DESC LIMIT {int(limit)}",
            [since] + ([tenant] if tenant else []),
        )
        return [(float(r[0]), float(r[1])) for r in rows]

    # --- keys --------------------------------------------------------------------
    def add_key(self, key: ApiKey) -> None:
        """Store a new key."""
        d = key.model_dump()
        self._write(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 9)})",
            [tuple(d[c] for c in _KEY_COLUMNS.split(", "))],
        )

    def _keys(self, where: str = "", params: Sequence[Any] = ()) -> list[ApiKey]:
        rows = self._fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys{where} ORDER BY created", params)
        return [
            ApiKey.model_validate(dict(zip(_KEY_COLUMNS.split(", "), r, strict=True))) for r in rows
        ]

    def get_key(self, key_id: str) -> ApiKey | None:
        """The key with this id, or None."""
        keys = self._keys(" WHERE key_id = ?", [key_id])
        return keys[0] if keys else None

    def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        return self._keys()

    def revoke_key(self, key_id: str, when: float) -> None:
        """Mark a key revoked at ``when``."""
        self._write("UPDATE api_keys SET revoked = ? WHERE key_id = ?", [(when, key_id)])

    # --- housekeeping ------------------------------------------------------------
    def ping(self) -> None:
        """Raise when the database does not answer."""
        self._fetch("SELECT 1")

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
        self._local = threading.local()


def open_store(url: str) -> AuditStore:
    """Open (and create) the audit store at a SQLite path or a ``postgresql://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from trainguard.guard.service.audit.postgres import postgres_dialect

        return AuditStore(postgres_dialect(url), url)
    from trainguard.guard.service.audit.sqlite import sqlite_dialect

    return AuditStore(sqlite_dialect(url), url)
