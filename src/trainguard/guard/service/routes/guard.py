"""``POST /v1/guard/input``, ``/v1/guard/output``, ``/v1/guard/batch``: the Guard over HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response

from trainguard.guard.result import GuardResult
from trainguard.guard.service.audit.record import new_request_id
from trainguard.guard.service.keys import ApiKey
from trainguard.guard.service.models import (
    BatchRequest,
    BatchResponse,
    GuardRequest,
    GuardResponse,
    error_responses,
)
from trainguard.guard.service.state import ServiceState, api_key_of, service_of

router = APIRouter(
    prefix="/v1/guard", tags=["guard"], responses=error_responses(400, 401, 403, 413, 422, 429, 503)
)

Service = Annotated[ServiceState, Depends(service_of)]
Key = Annotated[ApiKey, Depends(api_key_of)]


async def _one(
    svc: ServiceState, key: ApiKey, body: GuardRequest, direction: Literal["input", "output"],
    response: Response,
) -> GuardResponse:  # fmt: skip
    rid, result = await svc.decide(key, body.text, body.metadata, direction)
    response.headers["X-Request-ID"] = rid
    return GuardResponse.of(result, request_id=rid, policy=key.policy)


@router.post("/input", summary="Check a text going into the model")
async def guard_input(
    body: GuardRequest, svc: Service, key: Key, response: Response
) -> GuardResponse:
    """Run the input checks of the key's policy; the decision is in the audit log when this returns."""
    return await _one(svc, key, body, "input", response)


@router.post("/output", summary="Check a text coming out of the model")
async def guard_output(
    body: GuardRequest, svc: Service, key: Key, response: Response
) -> GuardResponse:
    """Run the output checks of the key's policy; the decision is in the audit log when this returns."""
    return await _one(svc, key, body, "output", response)


@router.post("/batch", summary="Check up to 100 texts")
async def guard_batch(
    body: BatchRequest, svc: Service, key: Key, response: Response
) -> BatchResponse:
    """Check each item in its direction; results keep the order of the items."""
    rid = new_request_id()
    results: list[GuardResult | None] = [None] * len(body.items)
    for direction in ("input", "output"):
        idx = [i for i, it in enumerate(body.items) if it.direction == direction]
        if idx:
            out = await svc.guards().check_many(
                key.policy, [body.items[i].text for i in idx], direction
            )
            for i, r in zip(idx, out, strict=True):
                results[i] = r
    done = [r for r in results if r is not None]
    items = [(r, it.text, it.metadata) for r, it in zip(done, body.items, strict=True)]
    await svc.record(svc.submit(svc.records(key, rid, "batch", items)))
    response.headers["X-Request-ID"] = rid
    return BatchResponse(
        id=rid, results=[GuardResponse.of(r, request_id=rid, policy=key.policy) for r in done]
    )
