"""The service's Guards: one per configured policy, built at start-up, run off or on the event loop.

Short texts are checked right on the event loop (a check takes well under a
millisecond, less than handing it to a thread would cost); long texts and policies
with model layers (embeddings, local transformers) run in a worker thread under the
request timeout, so one slow text cannot stall the other requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

import anyio
import anyio.to_thread

from trainguard.core.errors import ConfigError
from trainguard.guard.guard import Guard
from trainguard.guard.policy import Policy
from trainguard.guard.result import GuardResult

T = TypeVar("T")
Direction = Literal["input", "output"]


class GuardTimeout(Exception):
    """A check did not finish within the request timeout."""


def _slow(policy: Policy) -> bool:
    models = [policy.toxicity.classifier.model, policy.injection.classifier or ""]
    return policy.injection.embeddings or any(m.startswith("transformers:") for m in models)


def load_policies(paths: dict[str, str]) -> dict[str, Policy]:
    """Policies by name from YAML paths; ``default`` is the built-in policy unless named."""
    out = {"default": Policy()}
    for name, path in paths.items():
        out[name] = Policy.from_yaml(path)
    return out


class GuardPool:
    """The Guard of every policy, and how to run it within a request."""

    def __init__(self, policies: dict[str, Policy], *, inline_chars: int, timeout_s: float) -> None:
        self.policies = policies
        self.guards = {name: Guard(p) for name, p in policies.items()}
        self.inline_chars = inline_chars
        self.timeout_s = timeout_s
        self._slow = {name: _slow(p) for name, p in policies.items()}

    def guard(self, policy: str) -> Guard:
        """The Guard of a policy; :class:`ConfigError` when the server has no such policy."""
        try:
            return self.guards[policy]
        except KeyError:
            raise ConfigError(
                f"this key's policy {policy!r} is not configured on this server"
            ) from None

    def store_text(self, policy: str) -> bool:
        """True when the policy asks the audit log to keep raw texts."""
        return self.policies[policy].audit.store_text

    async def run(self, policy: str, chars: int, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a guard call over ``chars`` characters) inline or in a thread with the timeout."""
        if chars <= self.inline_chars and not self._slow[policy]:
            return fn()
        try:
            with anyio.fail_after(self.timeout_s):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except TimeoutError:
            raise GuardTimeout(f"the guard took over {self.timeout_s:g} s") from None

    async def check(self, policy: str, text: str, direction: Direction) -> GuardResult:
        """The policy's verdict on one text."""
        g = self.guard(policy)
        return await self.run(policy, len(text), lambda: g.check(text, direction))

    async def check_many(
        self, policy: str, texts: Sequence[str], direction: Direction
    ) -> list[GuardResult]:
        """Verdicts on many texts (toxicity classifier batched)."""
        g = self.guard(policy)
        chars = sum(len(t) for t in texts)
        return await self.run(policy, chars, lambda: g.check_many(texts, direction))
