"""``create_app``: the guard service as a FastAPI application.

::

    uvicorn --factory trainguard.guard.service.app:create_app     # settings from TRAINGUARD_SERVICE_*
    trainguard guard serve --db audit.db --upstream http://127.0.0.1:8000/v1

Layers, outside in: the :class:`~trainguard.guard.service.gate.Gate` (401, 429, 413),
the :class:`~trainguard.guard.service.fastpath.GuardFastPath` (well-formed
``/v1/guard/input|output`` requests), FastAPI's validation (422), the routes (guard
API, OpenAI-compatible proxy, dashboard, health), and the service state opened in the lifespan (audit store and
group-commit writer, one Guard per policy, the upstream client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from trainguard import __version__
from trainguard.guard.service.fastpath import ERRORS, GuardFastPath
from trainguard.guard.service.gate import Gate
from trainguard.guard.service.routes import dashboard, guard, health, proxy
from trainguard.guard.service.settings import ServiceSettings, get_settings
from trainguard.guard.service.state import ServiceState


def _add_error_handlers(app: FastAPI) -> None:
    for exc_type, (status, headers) in ERRORS.items():

        async def handler(_: Request, exc: Exception, status: int = status,
                          headers: dict[str, str] = headers) -> JSONResponse:  # fmt: skip
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers or None)

        app.add_exception_handler(exc_type, handler)


def _openapi_with_security(app: FastAPI) -> dict[str, Any]:
    """The generated OpenAPI document plus the bearer scheme on every route but health."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        doc.setdefault("components", {})["securitySchemes"] = {
            "apiKey": {"type": "http", "scheme": "bearer", "description": "tg_<id>_<secret>"}
        }
        for path, ops in doc["paths"].items():
            if path not in ("/healthz", "/readyz"):
                for op in ops.values():
                    op["security"] = [{"apiKey": []}]
        app.openapi_schema = doc
    return app.openapi_schema


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the service; ``settings`` default to the environment (:func:`get_settings`)."""
    settings = settings or get_settings()
    svc = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(
        title="trainguard guard service",
        version=__version__,
        description="Guard API, OpenAI-compatible guarding proxy, audit log and dashboard.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = svc
    app.add_middleware(GuardFastPath, service=svc)
    app.add_middleware(
        Gate, auth=svc.auth, limiter=svc.limiter, max_body_bytes=settings.max_body_bytes
    )
    _add_error_handlers(app)
    for r in (health.router, guard.router, proxy.router, dashboard.router):
        app.include_router(r)
    app.openapi = lambda: _openapi_with_security(app)  # type: ignore[method-assign]
    return app
