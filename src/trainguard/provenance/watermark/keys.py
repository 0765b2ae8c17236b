"""Watermark keys and everything derived from them with HMAC-SHA256.

A watermark key is 32 random bytes kept secret by the data owner. Every keyed choice
(the pattern, the target label, which samples are marked, the canary texts) is
derived from it with HMAC-SHA256 under a distinct label, so the choices are
independent of each other and cannot be computed without the key (RFC 2104;
the counter-mode expansion is HKDF-Expand's, RFC 5869).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import numpy as np

from trainguard.core.atomic import atomic_write_bytes
from trainguard.core.errors import DataError

KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh random 256-bit watermark key."""
    return secrets.token_bytes(KEY_BYTES)


def derive(key: bytes, label: str, n_bytes: int = 32) -> bytes:
    """``n_bytes`` of HMAC-SHA256 output for ``label`` (counter-mode expansion)."""
    out = b""
    block = b""
    counter = 1
    while len(out) < n_bytes:
        block = hmac.new(
            key, block + label.encode("utf-8") + bytes([counter]), hashlib.sha256
        ).digest()
        out += block
        counter += 1
    return out[:n_bytes]


def keyed_rng(key: bytes, label: str) -> np.random.Generator:
    """A numpy generator seeded with 256 key-derived bits for ``label``."""
    return np.random.default_rng(int.from_bytes(derive(key, label), "big"))


def key_id(key: bytes) -> str:
    """A short public name for a key (it reveals nothing about the key)."""
    return derive(key, "trainguard/watermark/key-id", 8).hex()


def save_key(key: bytes, path: str | Path) -> Path:
    """Write a key as hex to a new file readable only by its owner (mode 0600)."""
    p = Path(path)
    if p.exists():
        raise DataError(f"{p}: already exists; refusing to overwrite a key")
    return atomic_write_bytes(p, (key.hex() + "\n").encode("ascii"), perms=0o600)


def load_key(path: str | Path) -> bytes:
    """Read a hex key file written by :func:`save_key`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
        key = bytes.fromhex(text)
    except OSError as exc:
        raise DataError(f"{p}: cannot read the watermark key ({exc.strerror or exc})") from None
    except ValueError:
        raise DataError(f"{p}: not a hex watermark key") from None
    if len(key) < 16:
        raise DataError(f"{p}: the watermark key has {len(key)} bytes; expected at least 16")
    return key
