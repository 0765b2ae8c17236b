"""Request and response bodies of the guard API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trainguard.guard.result import Decision, GuardResult, Span

MAX_BATCH = 100
"""Most items in one ``/v1/guard/batch`` request."""

MetaValue = str | int | float | bool | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GuardRequest(_Body):
    """One text to check."""

    text: str = Field(description="The text to check.")
    metadata: dict[str, MetaValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Free key/value pairs stored with the decision in the audit log.",
    )


class BatchItem(GuardRequest):
    """One text of a batch, with its direction."""

    direction: Literal["input", "output"] = "input"


class BatchRequest(_Body):
    """Up to 100 texts checked in one call (the toxicity classifier runs batched)."""

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class CheckSummary(BaseModel):
    """One check's verdict."""

    name: str
    decision: Decision
    score: float | None = None


class GuardResponse(BaseModel):
    """The Guard's verdict on one text."""

    id: str = Field(description="Request id, also in the X-Request-ID header and the audit log.")
    policy: str
    direction: Literal["input", "output"]
    decision: Decision
    reasons: list[str]
    spans: list[Span]
    redacted: str = Field(description="The text with masked spans replaced.")
    checks: list[CheckSummary]
    latency_ms: dict[str, float]

    @classmethod
    def of(cls, result: GuardResult, *, request_id: str, policy: str) -> GuardResponse:
        """The response for a :class:`GuardResult`."""
        return cls(
            id=request_id,
            policy=policy,
            direction=result.direction,
            decision=result.decision,
            reasons=result.reasons,
            spans=result.spans,
            redacted=result.redacted,
            checks=[
                CheckSummary(name=c.name, decision=c.decision, score=c.score) for c in result.checks
            ],
            latency_ms=result.latency_ms,
        )


class BatchResponse(BaseModel):
    """Verdicts in the order of the items."""

    id: str
    results: list[GuardResponse]


class ErrorBody(BaseModel):
    """An error (401, 403, 413, 429, 503)."""

    detail: str


class ValidationErrorBody(BaseModel):
    """A request body that does not match the schema (422)."""

    detail: list[dict[str, object]] | str


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries for the error codes a route can answer."""
    text = {
        400: "The body is not UTF-8 JSON.",
        401: "Missing or invalid API key.",
        403: "The key's policy is not configured on this server.",
        413: "Request body too large.",
        422: "The body does not match the schema.",
        429: "Rate limit exceeded; see Retry-After.",
        503: "Not ready, the guard timed out, or the audit log could not record the decision.",
    }
    out: dict[int | str, dict[str, object]] = {}
    for c in codes:
        entry: dict[str, object] = {
            "description": text[c],
            "model": ValidationErrorBody if c == 422 else ErrorBody,
        }
        if c in (401, 429):
            name = "WWW-Authenticate" if c == 401 else "Retry-After"
            entry["headers"] = {name: {"schema": {"type": "string"}}}
        out[c] = entry
    return out
