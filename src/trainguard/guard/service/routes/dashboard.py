"""``GET /dashboard``: a live page of recent decisions, block/flag rates by check and tenant, latency.

The page (HTML, one script, no external assets) polls ``GET /dashboard/data`` every
two seconds. Both sit behind the same API keys as the rest of the service; a browser
opening the page is asked for the key (HTTP Basic, the key as the password). A
tenant's key sees its own tenant, an admin key sees all of them.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Annotated

import anyio.to_thread
import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from trainguard.guard.service.audit.record import AuditQuery, BucketCount
from trainguard.guard.service.audit.store import AuditStore
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.models import error_responses
from trainguard.guard.service.state import ServiceState, api_key_of, service_of

router = APIRouter(
    prefix="/dashboard", tags=["dashboard"], responses=error_responses(401, 422, 429)
)
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"


class RecentDecision(BaseModel):
    """One row of the recent-decisions table."""

    id: str
    ts: float
    tenant: str
    endpoint: str
    direction: str
    decision: str
    reasons: list[str]
    latency_ms: float


class LatencyBucket(BaseModel):
    """Guard latency percentiles in one time bucket (ms)."""

    bucket: float
    p50: float
    p99: float
    n: int


class DashboardData(BaseModel):
    """What the dashboard shows."""

    tenant: str | None
    window_s: float
    bucket_s: float
    generated: float
    totals: dict[str, int]
    buckets: list[BucketCount]
    latency: dict[str, float]
    latency_buckets: list[LatencyBucket]
    recent: list[RecentDecision]


def _static(name: str) -> bytes:
    return resources.files("trainguard.guard.service").joinpath("static", name).read_bytes()


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "n": 0}
    p50, p90, p99 = np.percentile(np.asarray(values), [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "n": len(values)}


def dashboard_data(
    store: AuditStore, tenant: str | None, *, window_s: float, bucket_s: float, recent: int = 50
) -> DashboardData:
    """Collect the dashboard's numbers from the audit store."""
    now = time.time()
    since = now - window_s
    buckets = store.summary(since, bucket_s, tenant)
    totals: dict[str, int] = {"total": 0}
    for b in buckets:
        totals["total"] += b.total
        for d, n in b.decisions.items():
            totals[d] = totals.get(d, 0) + n
    lat = store.latencies(since, tenant)
    by_bucket: dict[float, list[float]] = {}
    for ts, ms in lat:
        by_bucket.setdefault((ts // bucket_s) * bucket_s, []).append(ms)
    lat_buckets = [
        LatencyBucket(bucket=b, p50=(p := _percentiles(v))["p50"], p99=p["p99"], n=len(v))
        for b, v in sorted(by_bucket.items())
    ]
    rows = store.query(AuditQuery(since=since, tenant=tenant, limit=recent, newest_first=True))
    return DashboardData(
        tenant=tenant,
        window_s=window_s,
        bucket_s=bucket_s,
        generated=now,
        totals=totals,
        buckets=buckets,
        latency=_percentiles([ms for _, ms in lat]),
        latency_buckets=lat_buckets,
        recent=[RecentDecision.model_validate(r.model_dump(mode="json")) for r in rows],
    )


@router.get("", include_in_schema=False)
async def page() -> Response:
    """The dashboard page."""
    return Response(_static("dashboard.html"), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})  # fmt: skip


@router.get("/app.js", include_in_schema=False)
async def script() -> Response:
    """The dashboard's script."""
    return Response(_static("dashboard.js"), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


class DashboardQuery(BaseModel):
    """Query parameters of ``/dashboard/data`` (unknown ones are refused)."""

    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(default=15, gt=0, le=1440, description="Window length.")
    bucket_s: float = Field(default=30, ge=1, le=3600, description="Bucket width in seconds.")
    tenant: str | None = Field(default=None, max_length=64, description="Admin keys only.")


@router.get("/data", summary="Dashboard numbers")
async def data(
    svc: Annotated[ServiceState, Depends(service_of)],
    key: Annotated[ApiKey, Depends(api_key_of)],
    q: Annotated[DashboardQuery, Query()],
) -> DashboardData:
    """Recent decisions, decision and per-check counts per bucket and tenant, latency percentiles."""
    scope = (q.tenant or None) if key.admin else key.tenant
    store = svc.audit_store()
    return await anyio.to_thread.run_sync(
        lambda: dashboard_data(store, scope, window_s=q.minutes * 60, bucket_s=q.bucket_s)
    )
