"""SQLite for the audit store: WAL journal, ``synchronous=FULL`` (a commit is on disk when it returns).

In WAL mode readers never block the writer, and with ``synchronous=FULL`` every
commit fsyncs the log before it returns, so a decision the service acknowledged
survives ``kill -9`` and power loss. Several worker processes may share one file:
writers take turns (``BEGIN IMMEDIATE`` with a busy timeout).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from trainguard.core.errors import ConfigError, DataError
from trainguard.guard.service.audit.store import Dialect

BUSY_TIMEOUT_MS = 30_000


def _connect(path: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a usable SQLite database ({exc})") from None
    if str(mode).lower() != "wal" and path != ":memory:":
        raise DataError(f"{path}: could not switch the journal to WAL (got {mode})")
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        yield cur
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    else:
        cur.execute("COMMIT")
    finally:
        cur.close()


def sqlite_dialect(path: str) -> Dialect:
    """The dialect of a SQLite file (created with its folder if absent)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{path}: the audit database must be a file, not a folder")
    p.parent.mkdir(parents=True, exist_ok=True)
    return Dialect(
        name="sqlite",
        connect=lambda: _connect(str(p)),
        transaction=_transaction,
        param="?",
        bucket="CAST(ts / ? AS INTEGER)",
    )


def integrity_check(path: str | Path) -> list[str]:
    """``PRAGMA integrity_check`` on a SQLite file: ``["ok"]`` when it is sound."""
    conn = sqlite3.connect(str(path))
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()
