"""``GET /healthz`` (the process answers) and ``GET /readyz`` (Guards built, audit log writable)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from trainguard.guard.service.state import ServiceState, service_of

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
    detail: str = ""


@router.get("/healthz", summary="Liveness (no key needed)")
async def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness (no key needed)",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready."}},
)
async def readyz(svc: Annotated[ServiceState, Depends(service_of)]) -> Health | JSONResponse:
    """Ready when the Guards are built, the audit writer runs and the database answers."""
    if not svc.ready:
        return JSONResponse({"status": "starting", "detail": ""}, status_code=503)
    try:
        await anyio.to_thread.run_sync(svc.audit_store().ping)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": f"audit database: {type(exc).__name__}"},
            status_code=503,
        )
    return Health(status="ready", detail=svc.audit_store().dialect.name)
