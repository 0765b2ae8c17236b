"""The audit log: every guard decision, durably, in SQLite (WAL) or PostgreSQL."""

from trainguard.guard.service.audit.record import (
    AuditQuery,
    AuditRecord,
    BucketCount,
    content_hash,
)
from trainguard.guard.service.audit.store import AuditStore, open_store
from trainguard.guard.service.audit.writer import AuditWriter

__all__ = [
    "AuditQuery",
    "AuditRecord",
    "AuditStore",
    "AuditWriter",
    "BucketCount",
    "content_hash",
    "open_store",
]
