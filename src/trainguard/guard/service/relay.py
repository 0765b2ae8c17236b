"""Relaying a streamed chat completion through the output guard (one :class:`StreamGuard` per choice).

Chunks are re-emitted with the text each guard releases instead of the raw delta;
a choice the guard blocks ends with ``finish_reason: content_filter`` and nothing
more of it is sent. The answer's decision goes to the audit log before the final
``[DONE]``, so a stream that ended normally is on record.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from trainguard.guard.service.audit.record import OUTPUT_SEQ, AuditRecord, content_hash
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.state import AuditUnavailable, ServiceState
from trainguard.guard.service.streaming import SseReader, StreamGuard, sse
from trainguard.guard.service.upstream import error_event


class StreamRelay:
    """One streamed answer on its way from the upstream to the client."""

    def __init__(
        self, svc: ServiceState, key: ApiKey, request_id: str, pending: list[asyncio.Future[None]]
    ) -> None:
        self.svc = svc
        self.key = key
        self.request_id = request_id
        self.pending = pending
        self.guards: dict[int, StreamGuard] = {}
        self.template: dict[str, Any] = {"object": "chat.completion.chunk"}

    def _guard(self, index: int) -> StreamGuard:
        if index not in self.guards:
            g = self.svc.guards().guard(self.key.policy)
            s = self.svc.settings
            self.guards[index] = StreamGuard(
                lambda t: g.check(t, "output"),
                window=s.stream_window,
                holdback=s.stream_holdback,
                step=s.stream_step,
            )
        return self.guards[index]

    async def _run(self, sg: StreamGuard, fn: Any) -> str:
        out: str = await self.svc.guards().run(
            self.key.policy, len(sg.pending) + self.svc.settings.stream_window, fn
        )
        return out

    def _blocked_choice(self, index: int, sg: StreamGuard) -> dict[str, Any]:
        return {
            "index": index,
            "delta": {},
            "finish_reason": "content_filter",
            "trainguard": {"decision": "block", "reasons": sg.verdict.reasons},
        }

    async def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        index = int(choice.get("index", 0))
        sg = self._guard(index)
        if sg.blocked:
            return None
        delta = dict(choice.get("delta") or {})
        content = delta.get("content")
        text = ""
        if isinstance(content, str) and content:
            text = await self._run(sg, lambda: sg.feed(content))
        if choice.get("finish_reason") is not None and not sg.blocked:
            text += await self._run(sg, sg.finish)
        if sg.blocked:
            return self._blocked_choice(index, sg)
        if text or "content" in delta:
            delta["content"] = text
        if not text and set(delta) <= {"content"} and choice.get("finish_reason") is None:
            return None
        return {**choice, "delta": delta}

    async def _chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        self.template = {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return chunk
        out = [c for c in [await self._choice(c) for c in choices if isinstance(c, dict)] if c]
        return {**chunk, "choices": out} if out else None

    async def _flush(self) -> dict[str, Any] | None:
        """Text still held back when the upstream ended without a finish reason."""
        out = []
        for index, sg in self.guards.items():
            if sg.pending and not sg.blocked:
                text = await self._run(sg, sg.finish)
                out.append(
                    self._blocked_choice(index, sg)
                    if sg.blocked
                    else {"index": index, "delta": {"content": text}, "finish_reason": None}
                )
        return {**self.template, "choices": out} if out else None

    def _records(self) -> list[AuditRecord]:
        keep = self.svc.guards().store_text(self.key.policy)
        return [
            AuditRecord(
                id=self.request_id, seq=OUTPUT_SEQ + index, ts=time.time(),
                tenant=self.key.tenant, key_id=self.key.key_id, policy=self.key.policy,
                endpoint="proxy", direction="output", decision=sg.verdict.decision,
                reasons=sg.verdict.reasons, fired=sg.verdict.fired,
                latency_ms=sg.verdict.latency_ms, content_sha256=content_hash(sg.text),
                content=sg.text if keep else None,
                metadata={"choice": index, "stream": True, "checks": sg.verdict.checks},
            )
            for index, sg in sorted(self.guards.items())
        ]  # fmt: skip

    async def events(self, resp: httpx.Response) -> AsyncIterator[bytes]:
        """The SSE bytes for the client; closes ``resp``."""
        reader = SseReader()
        failure: dict[str, Any] | None = None
        try:
            async for line in resp.aiter_lines():
                data = reader.line(line)
                if data is None:
                    continue
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    failure = error_event(
                        "upstream sent an event that is not JSON", "upstream_error"
                    )
                    break
                if not isinstance(chunk, dict):
                    failure = error_event(
                        "upstream sent an event that is not a chunk", "upstream_error"
                    )
                    break
                out = await self._chunk(chunk)
                if out is not None:
                    yield sse(out)
                if self.guards and all(sg.blocked for sg in self.guards.values()):
                    break
        except httpx.TimeoutException:
            failure = error_event("upstream timed out during the stream", "upstream_timeout")
        except httpx.HTTPError as exc:
            failure = error_event(f"upstream stream broke ({type(exc).__name__})", "upstream_error")
        finally:
            await resp.aclose()
        rest = await self._flush()
        if rest is not None:
            yield sse(rest)
        if not self.guards:
            self._guard(0).finish()
        try:
            await self.svc.record(*self.pending, self.svc.submit(self._records()))
        except AuditUnavailable as exc:
            failure = error_event(str(exc), "audit_unavailable")
        if failure is not None:
            yield sse(failure)
            return
        yield sse("[DONE]")
