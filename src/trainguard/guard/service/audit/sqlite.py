"""SQLite for the audit store: WAL journal; a write returns once its commit is synced to disk.

In WAL mode readers never block the writer. A commit appends the transaction's
pages to the write-ahead log; the store then ``fdatasync``-s the log before the
write returns, so a decision the service acknowledged survives ``kill -9`` and
power loss, as with ``synchronous=FULL``. The difference is where the sync runs:
``synchronous=FULL`` syncs inside the commit, holding the database's write lock for
the length of a disk flush (milliseconds), during which no other process can
commit. Here the connection runs ``synchronous=NORMAL`` (SQLite still syncs the log
before and the database after each checkpoint, and the log header when the log
starts over) and the sync follows the commit after the write lock is released:
another process commits meanwhile, and one flush makes durable every transaction
appended to the log before it began, whichever process wrote it (the "flush
pipelining" of Johnson et al., "Aether: A Scalable Approach to Logging", VLDB
2010). A transaction is acknowledged only after a sync that began after its
commit. Several worker processes may share one file:
writers take turns on an ``flock`` of a lock file beside the database, so a writer
waiting for another process's commit is queued in the kernel and woken as soon as
that commit ends (SQLite's own busy handler polls with sleeps growing to 100 ms,
which under steady load left requests waiting far longer than the commits took);
``BEGIN IMMEDIATE`` with a busy timeout still guards against writers not taking the
lock (another tool on the file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from trainguard.core.errors import ConfigError, DataError
from trainguard.guard.service.audit.store import Dialect

BUSY_TIMEOUT_MS = 30_000
WRITER_LOCK_SUFFIX = "-writer.lock"
"""Beside the database: writers of all processes take turns on an ``flock`` of this file."""


class _Connection(sqlite3.Connection):
    """A connection with the descriptor of the database's writer lock file and its log's path."""

    lock_fd = -1
    log_path = ""
    turn_held = False
    unsynced = False
    """A transaction was committed and the log not synced since."""

    def close(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1
        super().close()


def _connect(path: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30, factory=_Connection
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")  # the commit's sync follows it: see _turn
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a usable SQLite database ({exc})") from None
    if str(mode).lower() != "wal" and path != ":memory:":
        raise DataError(f"{path}: could not switch the journal to WAL (got {mode})")
    if path != ":memory:":
        conn.lock_fd = os.open(path + WRITER_LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
        conn.log_path = os.path.abspath(path) + "-wal"
    return conn


def _sync_log(conn: _Connection) -> None:
    """``fdatasync`` the write-ahead log: what was appended to it before is on disk after."""
    if conn.log_path:
        fd = os.open(conn.log_path, os.O_RDONLY)  # opened now: the log file of this moment
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
    conn.unsynced = False


@contextlib.contextmanager
def _turn(conn: _Connection) -> Iterator[None]:
    """Hold the writer turn: queue behind other processes' writers in the kernel (re-entrant).

    On leaving the outermost turn, after the lock is released, the log is synced if
    a transaction was committed in the turn: it returns once they are all durable.
    """
    if conn.turn_held:
        yield
        return
    fd = conn.lock_fd
    if fd >= 0:
        fcntl.flock(fd, fcntl.LOCK_EX)
    conn.turn_held = True
    try:
        yield
    finally:
        conn.turn_held = False
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_UN)
    if conn.unsynced:  # other processes commit while this one waits for the disk
        _sync_log(conn)


@contextlib.contextmanager
def _transaction(conn: _Connection) -> Iterator[sqlite3.Cursor]:
    with _turn(conn):
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
                conn.unsynced = True
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
        turn=_turn,
        checkpoint_sql=("PRAGMA wal_autocheckpoint = 0", "PRAGMA wal_checkpoint(PASSIVE)"),
    )


def integrity_check(path: str | Path) -> list[str]:
    """``PRAGMA integrity_check`` on a SQLite file: ``["ok"]`` when it is sound."""
    conn = sqlite3.connect(str(path))
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()
