"""What one service process holds: settings, audit store and writer, Guards, key cache, limiter, upstream client."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any, Literal

import anyio.to_thread
import httpx
from fastapi import Request

from trainguard.guard.result import GuardResult
from trainguard.guard.service.audit.record import AuditRecord, new_request_id
from trainguard.guard.service.audit.store import AuditStore, open_store
from trainguard.guard.service.audit.writer import AuditWriter
from trainguard.guard.service.auth import Authenticator
from trainguard.guard.service.guards import GuardPool, load_policies
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.ratelimit import RateLimiter
from trainguard.guard.service.settings import ServiceSettings


class AuditUnavailable(Exception):
    """The audit log could not record a decision, so the decision is not given."""


class ServiceState:
    """The long-lived parts of the service; :meth:`start` and :meth:`stop` run in the app's lifespan."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.limiter = RateLimiter(share=1.0 / settings.workers)
        self.auth = Authenticator(self._lookup_key, ttl=settings.key_cache_s)
        self.store: AuditStore | None = None
        self.writer: AuditWriter | None = None
        self.pool: GuardPool | None = None
        self.http: httpx.AsyncClient | None = None

    def _lookup_key(self, key_id: str) -> ApiKey | None:
        return self.store.get_key(key_id) if self.store is not None else None

    async def start(self) -> None:
        """Open the store, start the writer, build the Guards, open the upstream client."""
        s = self.settings
        sys.setswitchinterval(s.switch_interval_ms / 1000)
        self.store = await anyio.to_thread.run_sync(open_store, s.db)
        self.writer = AuditWriter(
            self.store, max_batch=s.commit_batch, checkpoint_every=s.checkpoint_records
        )
        policies = load_policies(s.policies)
        self.pool = await anyio.to_thread.run_sync(
            lambda: GuardPool(policies, inline_chars=s.inline_chars, timeout_s=s.request_timeout_s)
        )
        if s.upstream:
            self.http = httpx.AsyncClient(
                base_url=s.upstream,
                timeout=httpx.Timeout(s.upstream_timeout_s),
                headers={"Authorization": f"Bearer {s.upstream_api_key}"}
                if s.upstream_api_key
                else {},
            )

    async def stop(self) -> None:
        """Commit what is queued and close everything."""
        if self.http is not None:
            await self.http.aclose()
        if self.writer is not None:
            await anyio.to_thread.run_sync(self.writer.close)
        if self.store is not None:
            self.store.close()

    @property
    def ready(self) -> bool:
        """True once the Guards are built and the writer runs."""
        return self.pool is not None and self.writer is not None and self.writer.alive

    def guards(self) -> GuardPool:
        """The Guard pool (the app is started)."""
        assert self.pool is not None, "the service is not started"
        return self.pool

    def audit_store(self) -> AuditStore:
        """The audit store (the app is started)."""
        assert self.store is not None, "the service is not started"
        return self.store

    def records(
        self,
        key: ApiKey,
        request_id: str,
        endpoint: Literal["guard", "batch", "proxy"],
        items: Sequence[tuple[GuardResult, str, dict[str, Any]]],
        *,
        seq0: int = 0,
    ) -> list[AuditRecord]:
        """Audit records for the (result, text, metadata) triples of one request."""
        keep = self.guards().store_text(key.policy)
        return [
            AuditRecord.from_result(
                r, text, request_id=request_id, seq=seq0 + i, tenant=key.tenant,
                key_id=key.key_id, policy=key.policy, endpoint=endpoint, store_text=keep,
                metadata=meta,
            )
            for i, (r, text, meta) in enumerate(items)
        ]  # fmt: skip

    def submit(self, records: Sequence[AuditRecord]) -> asyncio.Future[None]:
        """Queue records for the next group commit; await the result before acknowledging."""
        assert self.writer is not None, "the service is not started"
        return self.writer.submit_async(records)

    async def decide(
        self,
        key: ApiKey,
        text: str,
        metadata: dict[str, Any],
        direction: Literal["input", "output"],
    ) -> tuple[str, GuardResult]:
        """Check one text with the key's policy and record the decision durably: (request id, result)."""
        rid = new_request_id()
        result = await self.guards().check(key.policy, text, direction)
        await self.record(self.submit(self.records(key, rid, "guard", [(result, text, metadata)])))
        return rid, result

    async def record(self, *pending: asyncio.Future[None]) -> None:
        """Wait until submitted records are committed; :class:`AuditUnavailable` if they were not."""
        try:
            await asyncio.gather(*pending)
        except Exception as exc:
            raise AuditUnavailable(
                f"the audit log could not record the decision ({type(exc).__name__})"
            ) from None


async def service_of(request: Request) -> ServiceState:
    """The service state of the app handling ``request`` (a FastAPI dependency)."""
    st: ServiceState = request.app.state.service
    return st


async def api_key_of(request: Request) -> ApiKey:
    """The key the gate authenticated for ``request`` (a FastAPI dependency)."""
    key: ApiKey = request.state.api_key
    return key
