"""The ASGI gate in front of every route: authentication (401), rate limit (429), body size (413).

It runs before FastAPI reads or validates anything, so a request without a valid key
gets 401 and nothing else, whatever its path or body; health checks are the only
paths it lets through. The authenticated key is put in the request state
(``request.state.api_key``) for the routes.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trainguard.guard.service.auth import Authenticator, bearer_token
from trainguard.guard.service.ratelimit import RateLimiter, retry_after

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
DASHBOARD_PREFIX = "/dashboard"


async def send_error(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """Send a JSON ``{"detail": ...}`` error response."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, Message | None]:
    """The whole request body (raises :class:`_TooLarge` past ``limit``) and a disconnect, if any."""
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return b"".join(chunks), msg
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not msg.get("more_body", False):
            return b"".join(chunks), None


class Gate:
    """Pure ASGI middleware: 401 / 429 / 413 before the app sees a request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Authenticator,
        limiter: RateLimiter,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.auth = auth
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401/429/413 itself, or pass the request on with its body read."""
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        dashboard = scope["path"].startswith(DASHBOARD_PREFIX)
        header = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        key = self.auth.authenticate(bearer_token(header, allow_basic=dashboard))
        if key is None:
            challenge = 'Basic realm="trainguard"' if dashboard else "Bearer"
            await send_error(
                send, 401, "missing or invalid API key", {"WWW-Authenticate": challenge}
            )
            return
        wait = self.limiter.acquire(key.key_id, key.rate, key.burst)
        if wait > 0:
            await send_error(
                send, 429, "rate limit exceeded for this key", {"Retry-After": retry_after(wait)}
            )
            return
        scope.setdefault("state", {})["api_key"] = key
        if _declared_length(scope) > self.max_body_bytes:
            await send_error(send, 413, f"request body over {self.max_body_bytes} bytes")
            return
        try:
            body, disconnect = await _read_body(receive, self.max_body_bytes)
        except _TooLarge:
            await send_error(send, 413, f"request body over {self.max_body_bytes} bytes")
            return
        await self.app(scope, _replay(body, disconnect, receive), send)


def _declared_length(scope: Scope) -> int:
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return 0
    return 0


def _replay(body: bytes, disconnect: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnect is not None:
            return disconnect
        return await receive()

    return replay
