r"""Encrypted model artifacts: streaming AES-256-GCM with authenticated metadata.

File layout::

    magic "TGENC\\0\\1\\0" | header length (u32, big-endian) | header (JSON) |
    chunk 0 ciphertext + tag | chunk 1 ... | final chunk ciphertext + tag

The header holds the artifact's name, size, SHA-256, creation time, the chunk size,
a random 7-byte nonce prefix and a key identifier. Every chunk is sealed with
AES-256-GCM (NIST SP 800-38D) under the nonce ``prefix | counter (u32) | last flag``
and the whole preamble as associated data: the online-AE construction "STREAM" of
Hoang, Reyhanitabar, Rogaway and Vizár (CRYPTO 2015), also used by Tink's streaming
AEAD. So any changed bit (header or data), reordered, dropped or appended chunk
fails authentication, and a truncated file cannot pass for a shorter one. Decryption
writes to a temporary file that replaces the destination only after every tag and
the plaintext SHA-256 have been verified: a tampered artifact raises
:class:`~trainguard.core.errors.IntegrityError` and never leaves a corrupted model.

Keys are 32 random bytes, stored base64-encoded in a file written with mode 0600
(:func:`generate_key`) or given in an environment variable (``TRAINGUARD_KEY``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import stat
import struct
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trainguard.core.atomic import atomic_open, atomic_write_bytes
from trainguard.core.errors import ConfigError, DataError, IntegrityError
from trainguard.core.validation import check_int

MAGIC = b"TGENC\x00\x01\x00"
ALGORITHM = "AES-256-GCM-STREAM"
KEY_ENV = "TRAINGUARD_KEY"
_TAG = 16
_MAX_HEADER = 1 << 16


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def key_id(key: bytes) -> str:
    """A short public identifier of ``key`` (it reveals nothing usable about the key)."""
    return hashlib.sha256(b"trainguard-key-id:" + key).hexdigest()[:16]


def generate_key(path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a new random 256-bit key (base64) to ``path`` with permissions 0600."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise ConfigError(f"{p}: key file exists; refusing to overwrite it")
    text = base64.b64encode(secrets.token_bytes(32)) + b"\n"
    return atomic_write_bytes(p, text, perms=0o600)


def _decode_key(text: str, origin: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{origin}: expected a 256-bit key (base64 or 64 hex digits)")
    return key


def load_key(path: str | Path | None = None, *, env: str = KEY_ENV) -> bytes:
    """Read the key from ``path`` (which must not be readable by others) or ``$env``."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: no such key file")
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"{p}: key file is accessible to others (mode {mode:04o}); chmod 600")
        return _decode_key(p.read_text(encoding="ascii", errors="replace"), str(p))
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"no key: give a key file or set the {env} environment variable")
    return _decode_key(value, f"${env}")


@dataclass(frozen=True)
class ArtifactHeader:
    """The authenticated metadata of an encrypted artifact."""

    name: str
    size: int
    sha256: str
    created: str
    chunk_size: int
    key_id: str
    nonce_prefix: str
    algorithm: str = ALGORITHM
    meta: dict[str, str] = field(default_factory=dict)


def _preamble(header: ArtifactHeader) -> bytes:
    body = json.dumps(asdict(header), sort_keys=True).encode()
    return MAGIC + struct.pack(">I", len(body)) + body


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise DataError("artifact has more than 2**32 chunks; use a larger chunk size")
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


def encrypt_stream(
    src: IO[bytes], dst: IO[bytes], key: bytes, header: ArtifactHeader
) -> ArtifactHeader:
    """Encrypt ``src`` (whose size and SHA-256 the header states) into ``dst``."""
    aead, prefix = AESGCM(key), bytes.fromhex(header.nonce_prefix)
    aad = _preamble(header)
    dst.write(aad)
    block, counter = src.read(header.chunk_size), 0
    while True:
        following = src.read(header.chunk_size)
        last = not following
        dst.write(aead.encrypt(_nonce(prefix, counter, last), block, aad))
        if last:
            return header
        block, counter = following, counter + 1


def read_header(src: IO[bytes]) -> tuple[ArtifactHeader, bytes]:
    """Parse the preamble (not yet authenticated); return the header and its raw bytes."""
    start = src.read(len(MAGIC) + 4)
    if len(start) != len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
        raise IntegrityError("not a trainguard encrypted artifact (bad magic or version)")
    (n,) = struct.unpack(">I", start[len(MAGIC) :])
    body = src.read(n) if n <= _MAX_HEADER else b""
    try:
        fields = json.loads(body)
        header = ArtifactHeader(**fields)
        check_int(header.chunk_size, "chunk_size", "artifact header", low=1, high=1 << 30)
        if header.algorithm != ALGORITHM or len(bytes.fromhex(header.nonce_prefix)) != 7:
            raise ValueError("unsupported algorithm or nonce")
    except (ValueError, TypeError):
        raise IntegrityError("artifact header is damaged or was modified") from None
    return header, start + body


def decrypt_stream(src: IO[bytes], dst: IO[bytes], key: bytes) -> ArtifactHeader:
    """Decrypt and verify ``src`` into ``dst``; :class:`IntegrityError` on any tampering."""
    header, aad = read_header(src)
    if header.key_id != key_id(key):
        raise IntegrityError(
            f"artifact was encrypted with another key (key id {header.key_id}, given {key_id(key)})"
        )
    aead, prefix = AESGCM(key), bytes.fromhex(header.nonce_prefix)
    size, digest, counter = 0, hashlib.sha256(), 0
    sealed = header.chunk_size + _TAG
    block = src.read(sealed)
    while True:
        following = src.read(sealed)
        last = not following
        try:
            plain = aead.decrypt(_nonce(prefix, counter, last), block, aad)
        except InvalidTag:
            raise IntegrityError(
                f"chunk {counter} failed authentication: the artifact was modified, "
                "truncated or reordered"
            ) from None
        dst.write(plain)
        size += len(plain)
        digest.update(plain)
        if last:
            break
        block, counter = following, counter + 1
    if size != header.size or digest.hexdigest() != header.sha256:
        raise IntegrityError("decrypted content does not match the size and SHA-256 in its header")
    return header


def encrypt_file(
    src: str | Path,
    dst: str | Path,
    key: bytes,
    *,
    name: str | None = None,
    meta: dict[str, str] | None = None,
    chunk_size: int = 1 << 20,
) -> ArtifactHeader:
    """Encrypt file ``src`` to ``dst`` (atomically); return the authenticated header."""
    check_int(chunk_size, "chunk_size", "encrypt_file", low=1, high=1 << 30)
    s = Path(src)
    if not s.is_file():
        raise DataError(f"{s}: no such file to encrypt")
    header = ArtifactHeader(
        name=name or s.name,
        size=s.stat().st_size,
        sha256=sha256_file(s),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        chunk_size=chunk_size,
        key_id=key_id(key),
        nonce_prefix=secrets.token_bytes(7).hex(),
        meta=dict(meta or {}),
    )
    with s.open("rb") as fin, atomic_open(dst, "wb") as fout:
        return encrypt_stream(fin, fout, key, header)


def decrypt_file(src: str | Path, dst: str | Path, key: bytes) -> ArtifactHeader:
    """Decrypt and verify ``src`` into ``dst``; ``dst`` appears only if all checks pass."""
    s = Path(src)
    if not s.is_file():
        raise DataError(f"{s}: no such encrypted artifact")
    with s.open("rb") as fin, atomic_open(dst, "wb") as fout:
        return decrypt_stream(fin, fout, key)
