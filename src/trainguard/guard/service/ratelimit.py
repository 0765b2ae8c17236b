"""Per-key rate limits: a token bucket per API key (Turner, "New directions in communications", 1986).

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; a
request takes one token or is refused with the time until one is back, which the
service sends as ``Retry-After``. With several worker processes each keeps its own
buckets at ``rate / workers`` (a key's total stays about its rate when the kernel
spreads connections evenly).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by API key id (thread-safe)."""

    def __init__(self, *, share: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, rate: float, burst: int) -> float:
        """Take a token for ``key``: 0.0 when granted, else seconds until one is available."""
        rate = rate * self.share
        cap = max(1.0, burst * self.share)
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket(tokens=cap, stamp=now)
            b.tokens = min(cap, b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / rate


def retry_after(wait_s: float) -> str:
    """The ``Retry-After`` header value for a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
