"""``POST /v1/guard/input`` and ``/output`` answered straight from ASGI; FastAPI answers the rest.

Checking one text is what the service does most, and FastAPI's generic request
handling (its middleware stack, routing, dependency solving, JSON decoding then
validation, response validation) costs about a quarter of a millisecond a request
on this hardware, a third of the check itself. For a JSON body that matches
:class:`~trainguard.guard.service.models.GuardRequest` (validated by pydantic
straight from the bytes, with the same model and strictness as the route) this
handler does what the routes do: check, record durably, answer the
:class:`~trainguard.guard.service.models.GuardResponse` with its ``X-Request-ID``.
Every other request, including bodies that do not match the schema, goes to
FastAPI unchanged, so the answers stay those of the OpenAPI document (422 and the
rest); the routes remain for that document and for those answers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trainguard.core.errors import ConfigError
from trainguard.guard.service.gate import send_error
from trainguard.guard.service.guards import GuardTimeout
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.models import GuardRequest, GuardResponse
from trainguard.guard.service.state import AuditUnavailable, ServiceState

DIRECTIONS: dict[str, Literal["input", "output"]] = {
    "/v1/guard/input": "input",
    "/v1/guard/output": "output",
}
ERRORS: dict[type[Exception], tuple[int, dict[str, str]]] = {
    ConfigError: (403, {}),
    GuardTimeout: (503, {"Retry-After": "1"}),
    AuditUnavailable: (503, {"Retry-After": "1"}),
}
"""The service's own errors: status and headers of their ``{"detail": ...}`` answer."""


def _json_body(scope: Scope) -> bool:
    for k, v in scope["headers"]:
        if k == b"content-type":
            return v == b"application/json"
    return False


class GuardFastPath:
    """Pure ASGI middleware, inside the gate: the two guard routes without FastAPI's overhead."""

    def __init__(self, app: ASGIApp, *, service: ServiceState) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a well-formed guard request, or hand the request to FastAPI as it came."""
        direction = DIRECTIONS.get(scope["path"]) if scope["type"] == "http" else None
        if direction is None or scope["method"] != "POST" or not _json_body(scope):
            await self.app(scope, receive, send)
            return
        first = await receive()  # the gate has read the whole body: it comes in one message
        try:
            if first["type"] != "http.request" or first.get("more_body", False):
                raise ValueError
            body = GuardRequest.model_validate_json(first["body"])
        except (ValueError, ValidationError):  # FastAPI answers it (422), as documented
            await self.app(scope, _again(first, receive), send)
            return
        key: ApiKey = scope["state"]["api_key"]
        try:
            rid, result = await self.service.decide(key, body.text, body.metadata, direction)
        except tuple(ERRORS) as exc:
            status, headers = next(v for t, v in ERRORS.items() if isinstance(exc, t))
            await send_error(send, status, str(exc), headers)
            return
        payload = GuardResponse.of(result, request_id=rid, policy=key.policy).model_dump_json()
        data = payload.encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(data)).encode()), (b"content-type", b"application/json"),
            (b"x-request-id", rid.encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})


def _again(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` once more, then the rest of the request."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await receive()

    return again
