"""``POST /v1/chat/completions``: an OpenAI-compatible proxy with the input and output guards.

The input guard checks the text of every ``user`` and ``tool`` message (the
untrusted ones: what people type and what tools fetched). A block answers with a
well-formed refusal (``finish_reason: content_filter``) without calling the
upstream; a mask forwards the redacted text. The output guard checks each answer,
streamed answers through a sliding window (:mod:`..streaming`). Upstream failures
are 502, upstream timeouts 504, in the OpenAI error format.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from trainguard.guard.result import Decision, GuardResult, strictest
from trainguard.guard.service.audit.record import OUTPUT_SEQ, new_request_id
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.models import error_responses
from trainguard.guard.service.relay import StreamRelay
from trainguard.guard.service.state import ServiceState, api_key_of, service_of
from trainguard.guard.service.streaming import sse
from trainguard.guard.service.upstream import (
    UpstreamError,
    open_stream,
    openai_error,
    post_json,
    refusal_chunk,
    refusal_completion,
)

GUARDED_ROLES = frozenset({"user", "tool"})
router = APIRouter(tags=["proxy"])


class ChatMessage(BaseModel):
    """A chat message; content is a string or a list of parts (text parts are guarded)."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """An OpenAI chat completion request; fields other than these are forwarded as they are."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class OpenAIError(BaseModel):
    """``{"error": {"message": ..., "type": ...}}``."""

    error: dict[str, Any]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A chat completion, or with ``stream: true`` a stream of chunks.",
        "content": {"application/json": {"schema": {"type": "object"}}, "text/event-stream": {}},
    },
    502: {"model": OpenAIError, "description": "The upstream failed or answered an error."},
    504: {"model": OpenAIError, "description": "The upstream timed out."},
    **error_responses(400, 401, 403, 413, 422, 429, 503),
}


def _texts(payload: dict[str, Any]) -> list[tuple[int, int | None, str]]:
    """(message index, part index or None, text) of every guarded text in the request."""
    out: list[tuple[int, int | None, str]] = []
    for i, m in enumerate(payload["messages"]):
        if m.get("role") not in GUARDED_ROLES:
            continue
        content = m.get("content")
        if isinstance(content, str):
            out.append((i, None, content))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append((i, j, part["text"]))
    return out


def _redact_request(payload: dict[str, Any], where: list[tuple[int, int | None, str]],
                    results: list[GuardResult]) -> None:  # fmt: skip
    for (i, j, _), r in zip(where, results, strict=True):
        if j is None:
            payload["messages"][i]["content"] = r.redacted
        else:
            payload["messages"][i]["content"][j]["text"] = r.redacted


def _info(request_id: str, decision: Decision, reasons: list[str]) -> dict[str, Any]:
    return {"request_id": request_id, "decision": decision.value, "reasons": reasons}


async def _guard_answer(
    svc: ServiceState, key: ApiKey, rid: str, data: dict[str, Any]
) -> list[Any]:
    """Guard each choice's message in place; return the audit items."""
    choices = [c for c in data["choices"] if isinstance(c, dict)]
    texts = [str(((c.get("message") or {}).get("content")) or "") for c in choices]
    results = await svc.guards().check_many(key.policy, texts, "output") if texts else []
    for c, r in zip(choices, results, strict=True):
        if r.decision is Decision.BLOCK:
            c["message"] = {
                "role": "assistant",
                "content": None,
                "refusal": "blocked by the guard policy",
            }
            c["finish_reason"] = "content_filter"
        elif r.decision is Decision.MASK and c.get("message"):
            c["message"]["content"] = r.redacted
        c["trainguard"] = _info(rid, r.decision, r.reasons)
    return [
        (r, t, {"choice": int(c.get("index", 0))})
        for c, r, t in zip(choices, results, texts, strict=True)
    ]


@router.post("/v1/chat/completions", responses=_RESPONSES, summary="Guarded chat completion")
async def chat_completions(
    body: ChatRequest,
    svc: Annotated[ServiceState, Depends(service_of)],
    key: Annotated[ApiKey, Depends(api_key_of)],
) -> Response:
    """Guard the messages, forward to the upstream, guard the answer (streamed or not)."""
    if svc.http is None:
        return openai_error(503, "this server has no upstream configured", "no_upstream")
    rid = new_request_id()
    cid = f"chatcmpl-{rid}"
    payload = body.model_dump(mode="json", exclude_unset=True)
    payload["stream"] = body.stream
    where = _texts(payload)
    results = (
        await svc.guards().check_many(key.policy, [t for *_, t in where], "input") if where else []
    )
    items = [(r, t, {"message": i}) for (i, _, t), r in zip(where, results, strict=True)]
    pending = [svc.submit(svc.records(key, rid, "proxy", items))] if items else []
    decision = strictest([r.decision for r in results])
    headers = {"X-Request-ID": rid, "X-Trainguard-Input": decision.value}
    if decision is Decision.BLOCK:
        await svc.record(*pending)
        info = _info(rid, decision, [x for r in results for x in r.reasons])
        if body.stream:
            chunks = [sse(refusal_chunk(cid, body.model, info)), sse("[DONE]")]
            return StreamingResponse(iter(chunks), media_type="text/event-stream", headers=headers)
        return JSONResponse(refusal_completion(cid, body.model, info), headers=headers)
    _redact_request(payload, where, results)
    try:
        if body.stream:
            resp = await open_stream(svc.http, "/chat/completions", payload)
            relay = StreamRelay(svc, key, rid, pending)
            return StreamingResponse(
                relay.events(resp), media_type="text/event-stream", headers=headers
            )
        data = await post_json(svc.http, "/chat/completions", payload)
    except UpstreamError as exc:
        await svc.record(*pending)
        return openai_error(exc.status, str(exc), exc.kind)
    out_items = await _guard_answer(svc, key, rid, data)
    out = svc.records(key, rid, "proxy", out_items, seq0=OUTPUT_SEQ)
    await svc.record(*pending, svc.submit(out))
    return JSONResponse(data, headers=headers)
