"""Auditable decision events: one per tool call the policy engine judged.

Each event says which tool, with which arguments and labels, under which control
context, whether it was allowed, denied, confirmed or declined by the user, which rule
decided and why, with the offending data-flow path for a denial.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from trainguard.core.atomic import atomic_write_text
from trainguard.core.findings import Finding, Severity
from trainguard.policy.tools import ToolCall
from trainguard.policy.values import deep_label, unwrap

Outcome = Literal["allowed", "denied", "confirmed", "declined"]
"""``confirmed``/``declined``: the policy denied and the confirmation callback said
yes/no."""

_MAX_REPR = 200


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _short(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


class AuditEvent(BaseModel):
    """One decision about one tool call."""

    time: datetime = Field(default_factory=_now)
    tool: str
    side_effect: bool
    arguments: dict[str, str]
    labels: dict[str, str]
    context: str = ""
    outcome: Outcome
    rule: str
    reason: str = ""
    argument: str | None = None
    path: list[str] = Field(default_factory=list)


class AuditLog:
    """The ordered events of one or more agent runs."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(
        self,
        call: ToolCall,
        outcome: Outcome,
        rule: str,
        reason: str = "",
        *,
        argument: str | None = None,
        path: list[str] | None = None,
    ) -> AuditEvent:
        """Append and return the event for ``call``."""
        ctx = call.context_label()
        event = AuditEvent.model_construct(  # the fields are built here, typed: skip validation
            time=_now(),
            tool=call.name,
            side_effect=call.tool.side_effect,
            arguments={k: _short(unwrap(v)) for k, v in call.args.items()},
            labels={k: deep_label(v).describe() for k, v in call.args.items()},
            context=ctx.describe() if ctx.sources else "",
            outcome=outcome,
            rule=rule,
            reason=reason,
            argument=argument,
            path=list(path or []),
        )
        self.events.append(event)
        return event

    def denied(self) -> list[AuditEvent]:
        """The events whose call did not run (denied, or declined by the user)."""
        return [e for e in self.events if e.outcome in ("denied", "declined")]

    def write_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per line, atomically."""
        lines = [e.model_dump_json() for e in self.events]
        return atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))

    def to_findings(self, stage: str) -> list[Finding]:
        """One informational finding summarising the decisions, with the denials as a table."""
        denied = self.denied()
        return [
            Finding(
                stage=stage,
                check_id="policy-decisions",
                title="Tool-call policy decisions",
                severity=Severity.INFO,
                metrics={
                    "calls": float(len(self.events)),
                    "denied": float(len(denied)),
                    "side_effect_calls": float(sum(e.side_effect for e in self.events)),
                },
                message=f"{len(self.events)} tool calls judged, {len(denied)} stopped",
                table=[
                    {"tool": e.tool, "argument": e.argument, "rule": e.rule, "reason": e.reason}
                    for e in denied[:50]
                ],
            )
        ]
