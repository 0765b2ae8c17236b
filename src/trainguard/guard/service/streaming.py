"""Guarding a streamed answer: a sliding window over the text with a hold-back.

An answer streamed as server-sent events arrives a few characters at a time, so a
blocked phrase can be split over chunks ("I will ki" + "ll you"). :class:`StreamGuard`
keeps the answer's text in two parts: what was already sent, and what is pending.
Every ``step`` new characters it checks the window made of the last ``window``
characters sent plus everything pending, and sends the pending text except the last
``holdback`` characters. A phrase up to ``holdback`` characters long is therefore
still unsent when it completes: a block stops the stream before any of it leaves,
and a masked span is replaced before it is sent (a cut never falls inside a masked
span). Context from the sent part lets phrases that start there be seen too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainguard.guard.result import Decision, GuardResult, redact, strictest


@dataclass
class StreamVerdict:
    """What the checks of one streamed answer found, for the audit log."""

    decision: Decision = Decision.ALLOW
    reasons: list[str] = field(default_factory=list)
    fired: dict[str, Decision] = field(default_factory=dict)
    latency_ms: float = 0.0
    checks: int = 0


class StreamGuard:
    """Sliding-window output guard for one streamed answer (one choice).

    Parameters
    ----------
    check
        The output check of the policy on a text.
    window
        Characters of already-sent text the check sees as context.
    holdback
        Characters kept unsent after each check (the longest phrase caught whole).
    step
        New characters gathered before the next check.
    """

    def __init__(
        self, check: Callable[[str], GuardResult], *, window: int, holdback: int, step: int
    ) -> None:
        self.check = check
        self.window = window
        self.holdback = holdback
        self.step = step
        self.sent = ""
        self.pending = ""
        self.blocked = False
        self.verdict = StreamVerdict()

    @property
    def text(self) -> str:
        """The raw answer received so far."""
        return self.sent + self.pending

    def due(self) -> bool:
        """True when enough new text is pending for the next check."""
        return not self.blocked and len(self.pending) >= self.holdback + self.step

    def feed(self, delta: str) -> str:
        """Add a chunk of the answer; return what may be sent now ('' while holding back)."""
        if self.blocked:
            return ""
        self.pending += delta
        return self._release(final=False) if self.due() else ""

    def finish(self) -> str:
        """The answer ended: check the rest and return what may be sent."""
        if self.blocked or (not self.pending and self.verdict.checks):
            return ""
        return self._release(final=True)

    def _account(self, r: GuardResult) -> None:
        v = self.verdict
        v.checks += 1
        v.latency_ms += r.latency_ms.get("total", 0.0)
        v.decision = strictest([v.decision, r.decision])
        for reason in r.reasons:
            if reason not in v.reasons:
                v.reasons.append(reason)
        for c in r.checks:
            if c.decision is not Decision.ALLOW:
                v.fired[c.name] = strictest([v.fired.get(c.name, Decision.ALLOW), c.decision])

    def _release(self, *, final: bool) -> str:
        ctx = self.sent[-self.window :] if self.window else ""
        r = self.check(ctx + self.pending)
        self._account(r)
        if r.decision is Decision.BLOCK:
            self.blocked = True
            return ""
        base = len(ctx)
        masked = [s for s in r.spans if s.replacement is not None and s.end > base]
        cut = len(self.pending) if final else max(0, len(self.pending) - self.holdback)
        for s in masked:
            if s.start - base < cut < s.end - base:
                cut = max(0, s.start - base)
        local = [
            s.model_copy(update={"start": max(0, s.start - base), "end": s.end - base})
            for s in masked
            if s.end - base <= cut
        ]
        out = redact(self.pending[:cut], local)
        self.sent += self.pending[:cut]
        self.pending = self.pending[cut:]
        return out


# --- server-sent events ---------------------------------------------------------------


class SseReader:
    """Turns lines of a ``text/event-stream`` into event ``data`` payloads (multi-line joined)."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def line(self, line: str) -> str | None:
        """Feed one line (without its end); return an event's data when the line ends it."""
        if line == "":
            data, self._data = self._data, []
            return "\n".join(data) if data else None
        if line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
        return None

    def end(self) -> str | None:
        """The data of an event the stream ended without a blank line after."""
        return self.line("")


def sse(payload: dict[str, Any] | str) -> bytes:
    """One SSE event carrying ``payload`` (JSON unless it is a string such as ``[DONE]``)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
