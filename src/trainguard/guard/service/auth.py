"""Authentication: bearer API keys looked up by id, verified against their stored hash, cached briefly.

``Authorization: Bearer tg_<id>_<secret>`` authenticates every endpoint but the
health checks. The dashboard also takes HTTP Basic with the token as the password,
so a person can open it in a browser (which then asks for the key). A key found or
found missing is cached for ``ttl`` seconds: look-ups stay off the database under
load, and a revoked key stops working within that time.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable

from trainguard.guard.service.keys import ApiKey, parse_token, verify_token

CACHE_LIMIT = 10_000


def bearer_token(header: str | None, *, allow_basic: bool = False) -> str | None:
    """The token in an ``Authorization`` header value (Bearer; Basic password if allowed)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic" and allow_basic:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class Authenticator:
    """Finds the :class:`ApiKey` a token belongs to, with a small time-limited cache."""

    def __init__(self, lookup: Callable[[str], ApiKey | None], *, ttl: float = 5.0) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def key_for(self, key_id: str) -> ApiKey | None:
        """The stored key with this id (from the cache when fresh)."""
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        key = self.lookup(key_id)
        with self._lock:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key_id] = (now, key)
        return key

    def authenticate(self, token: str | None) -> ApiKey | None:
        """The live key ``token`` belongs to, or None for a missing, malformed, wrong or revoked one."""
        if token is None:
            return None
        key_id = parse_token(token)
        if key_id is None:
            return None
        key = self.key_for(key_id)
        return key if key is not None and verify_token(token, key) else None
