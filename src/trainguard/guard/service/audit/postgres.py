"""PostgreSQL for the audit store (psycopg 3), for teams whose service outgrows one machine.

Commits are durable with the server's default ``synchronous_commit = on``; several
service machines can share the database. The URL is a libpq connection string,
``postgresql://user:password@host:5432/dbname``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from trainguard.core.errors import DataError, require
from trainguard.guard.service.audit.store import Dialect


def _connect(url: str) -> Any:
    require("psycopg", "service")
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"audit database: cannot connect to PostgreSQL ({first})") from None


@contextlib.contextmanager
def _transaction(conn: Any) -> Iterator[Any]:
    with conn.transaction(), conn.cursor() as cur:
        yield cur


def postgres_dialect(url: str) -> Dialect:
    """The dialect of a PostgreSQL database at ``url``."""
    return Dialect(
        name="postgresql",
        connect=lambda: _connect(url),
        transaction=_transaction,
        param="%s",
        bucket="FLOOR(ts / ?)",
    )
