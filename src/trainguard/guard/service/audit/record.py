"""What the audit log stores per decision, and the filters it is queried with."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainguard.guard.result import Decision, GuardResult

CHECKS = ("toxicity", "pii", "injection", "factcheck")
"""The checks the dashboard reports rates for (the guard's check names)."""
OUTPUT_SEQ = 1000
"""A proxied request's output records are numbered from here (its inputs from 0)."""


def content_hash(text: str) -> str:
    """SHA-256 of the UTF-8 text, hex (what the log keeps instead of the text)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def new_request_id() -> str:
    """A time-ordered 128-bit request id, hex: a UUID version 7 (RFC 9562, section 5.7).

    48 bits of Unix time in milliseconds, then 74 random bits (and the version and
    variant bits). Ids made later sort later, so the log's primary-key index grows at
    its right edge: a commit touches one index page instead of one random page per
    record, and a large log does not read scattered index pages back from disk.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62
    return uuid.UUID(int=value | (rand & (2**62 - 1))).hex


class AuditRecord(BaseModel):
    """One guard decision as the audit log keeps it."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Request id (hex); one request may produce several records (batch, proxy)."""
    seq: int = 0
    """Position of the record within its request."""
    ts: float
    """Unix time in seconds."""
    tenant: str
    key_id: str
    policy: str
    endpoint: Literal["guard", "batch", "proxy"]
    direction: Literal["input", "output"]
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    fired: dict[str, Decision] = Field(default_factory=dict)
    """Checks that did not allow the text, with their decision."""
    latency_ms: float
    """Time the guard took for this text, in milliseconds."""
    content_sha256: str
    content: str | None = None
    """The raw text, kept only when the key's policy has ``audit.store_text: true``."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_result(
        cls,
        result: GuardResult,
        text: str,
        *,
        request_id: str,
        seq: int,
        tenant: str,
        key_id: str,
        policy: str,
        endpoint: Literal["guard", "batch", "proxy"],
        store_text: bool,
        metadata: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """The record of one :class:`GuardResult` on ``text``."""
        return cls(
            id=request_id,
            seq=seq,
            ts=time.time(),
            tenant=tenant,
            key_id=key_id,
            policy=policy,
            endpoint=endpoint,
            direction=result.direction,
            decision=result.decision,
            reasons=result.reasons,
            fired={c.name: c.decision for c in result.checks if c.decision is not Decision.ALLOW},
            latency_ms=result.latency_ms.get("total", 0.0),
            content_sha256=content_hash(text),
            content=text if store_text else None,
            metadata=metadata or {},
        )


class AuditQuery(BaseModel):
    """Filters for reading the log; every field is optional."""

    since: float | None = None
    until: float | None = None
    tenant: str | None = None
    decision: Decision | None = None
    direction: Literal["input", "output"] | None = None
    request_id: str | None = None
    limit: int | None = Field(default=None, gt=0)
    newest_first: bool = False


class BucketCount(BaseModel):
    """Counts of decisions in one time bucket for one tenant."""

    bucket: float
    """Start of the bucket, Unix seconds."""
    tenant: str
    total: int
    decisions: dict[str, int]
    """Count per decision (``allow``, ``flag``, ``mask``, ``block``)."""
    checks: dict[str, int]
    """Count per check of texts that check did not allow."""
