"""API keys: random bearer tokens, stored only as SHA-256 hashes, each bound to a tenant and a policy.

A token reads ``tg_<key id>_<secret>``: the key id (12 hex digits) finds the stored
record, the SHA-256 of the whole token is compared in constant time. The secret has
256 bits of entropy, so a plain fast hash is enough (no password-hashing needed) and
the token itself is shown only once, when the key is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from trainguard.core.errors import ConfigError

if TYPE_CHECKING:
    from trainguard.guard.service.audit.store import AuditStore

TOKEN_RE = re.compile(r"^tg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ApiKey(BaseModel):
    """A stored API key (never the token itself)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    key_hash: str
    """SHA-256 of the token, hex."""
    tenant: str
    policy: str = "default"
    rate: float = Field(default=100.0, gt=0)
    """Sustained requests per second."""
    burst: int = Field(default=200, gt=0)
    """Requests allowed at once before the rate applies."""
    admin: bool = False
    """Admin keys see every tenant on the dashboard; others only their own."""
    created: float = 0.0
    revoked: float | None = None


def token_hash(token: str) -> str:
    """SHA-256 of a token, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token(token: str) -> str | None:
    """The key id of a well-formed token, else None."""
    m = TOKEN_RE.match(token)
    return m.group(1) if m else None


def verify_token(token: str, key: ApiKey) -> bool:
    """True when ``token`` hashes to the key's stored hash and the key is not revoked."""
    return key.revoked is None and hmac.compare_digest(token_hash(token), key.key_hash)


def _check_name(field: str, value: str) -> str:
    if not NAME_RE.match(value):
        raise ConfigError(
            f"{field} must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter "
            f"or digit); got {value!r}"
        )
    return value


def create_key(
    store: AuditStore,
    tenant: str,
    *,
    policy: str = "default",
    rate: float = 100.0,
    burst: int | None = None,
    admin: bool = False,
) -> tuple[str, ApiKey]:
    """Create and store a key; return the token (shown once) and the stored record."""
    _check_name("tenant", tenant)
    _check_name("policy", policy)
    if not rate > 0:
        raise ConfigError(f"rate must be a number of requests per second > 0; got {rate}")
    if burst is not None and burst < 1:
        raise ConfigError(f"burst must be an integer >= 1; got {burst}")
    key_id = secrets.token_hex(6)
    token = f"tg_{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        key_id=key_id,
        key_hash=token_hash(token),
        tenant=tenant,
        policy=policy,
        rate=rate,
        burst=burst if burst is not None else max(1, round(2 * rate)),
        admin=admin,
        created=time.time(),
    )
    store.add_key(key)
    return token, key


def revoke_key(store: AuditStore, key_id: str) -> ApiKey:
    """Revoke a key by id; raise :class:`ConfigError` when there is no such key."""
    key = store.get_key(key_id)
    if key is None:
        raise ConfigError(f"no API key with id {key_id!r}")
    if key.revoked is None:
        store.revoke_key(key_id, time.time())
    return store.get_key(key_id) or key
