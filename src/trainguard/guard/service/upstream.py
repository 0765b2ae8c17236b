"""Talking to the upstream OpenAI-compatible server: requests, and its failures as 502/504.

Every way the upstream can fail (connection refused, an HTTP error status, a body
that is not a chat completion, a timeout) becomes one :class:`UpstreamError` with the
status the client gets: 504 for a timeout, 502 for the rest. The message says what
happened, in the OpenAI error format the client libraries read.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from fastapi.responses import JSONResponse

REFUSAL = "I can't help with that: the request was blocked by the guard policy."


class UpstreamError(Exception):
    """The upstream failed; ``status`` is 502 or 504."""

    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def openai_error(status: int, message: str, kind: str) -> JSONResponse:
    """An error response in the OpenAI format."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
    )


def error_event(message: str, kind: str) -> dict[str, Any]:
    """The payload of an SSE error event (failures after the stream started)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _upstream_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error", {})
        msg = err.get("message") if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        msg = None
    return str(msg or resp.text[:200] or resp.reason_phrase)


def _failure(exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(504, f"upstream timed out ({type(exc).__name__})", "upstream_timeout")
    return UpstreamError(502, f"upstream unreachable ({type(exc).__name__})", "upstream_error")


def _check_status(resp: httpx.Response, body: str | None = None) -> None:
    if resp.status_code >= 400:
        msg = body if body is not None else _upstream_message(resp)
        raise UpstreamError(502, f"upstream answered {resp.status_code}: {msg}", "upstream_error")


async def post_json(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """POST ``payload`` and return the JSON answer; :class:`UpstreamError` on any failure."""
    try:
        resp = await client.post(path, json=payload)
    except httpx.HTTPError as exc:
        raise _failure(exc) from None
    _check_status(resp)
    try:
        data = resp.json()
    except ValueError:
        raise UpstreamError(
            502, "upstream answered with a body that is not JSON", "upstream_error"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise UpstreamError(502, "upstream answer is not a chat completion", "upstream_error")
    return data


async def open_stream(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any]
) -> httpx.Response:
    """Open a streamed POST; the caller reads and closes it. :class:`UpstreamError` on failure."""
    req = client.build_request("POST", path, json=payload)
    try:
        resp = await client.send(req, stream=True)
    except httpx.HTTPError as exc:
        raise _failure(exc) from None
    if resp.status_code >= 400:
        try:
            text = (await resp.aread()).decode("utf-8", "replace")
            try:
                err = json.loads(text).get("error", {})
                text = str(err.get("message", text)) if isinstance(err, dict) else text
            except (ValueError, AttributeError):
                pass
        except httpx.HTTPError as exc:
            raise _failure(exc) from None
        finally:
            await resp.aclose()
        _check_status(resp, text[:200])
    return resp


def refusal_completion(
    completion_id: str, model: str, trainguard: dict[str, Any]
) -> dict[str, Any]:
    """A chat completion whose answer is the guard's refusal (finish reason ``content_filter``)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REFUSAL, "refusal": REFUSAL},
                "finish_reason": "content_filter",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "trainguard": trainguard,
    }


def refusal_chunk(completion_id: str, model: str, trainguard: dict[str, Any]) -> dict[str, Any]:
    """The one chunk of a streamed refusal."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": REFUSAL},
                "finish_reason": "content_filter",
            }
        ],
        "trainguard": trainguard,
    }
