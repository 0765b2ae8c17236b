"""Keys the user holds, and DSSE envelopes signed with them.

Keys are Ed25519 (RFC 8032) in PEM files: the private key as PKCS#8 (optionally
encrypted with a password, file mode 0600), the public key as SubjectPublicKeyInfo.
A key is named by its *key id*, the hex SHA-256 of the raw 32-byte public key.

Everything trainguard signs is a DSSE envelope (Dead Simple Signing Envelope, the
format of in-toto attestations and Sigstore bundles)::

    {"payload": base64(body), "payloadType": TYPE,
     "signatures": [{"keyid": KEYID, "sig": base64(Ed25519(PAE(TYPE, body)))}]}

    PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body

The signature covers the payload type and every byte of the body, so any change is
detected. ECDSA keys (P-256/384/521) are accepted for model artifacts through the
OpenSSF ``model-signing`` package instead; see :mod:`trainguard.provenance.artifacts`.

References: DSSE protocol v1.0.0 (secure-systems-lab/dsse, ``protocol.md``);
RFC 8032 (Ed25519).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trainguard.core.atomic import atomic_write_bytes, atomic_write_json
from trainguard.core.errors import DataError, IntegrityError

PrivateKey = Ed25519PrivateKey
PublicKey = Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keypair(
    private_path: str | Path, public_path: str | Path | None = None, *, password: str | None = None
) -> tuple[Path, Path]:
    """Create an Ed25519 key pair; write the private key (mode 0600) and the public key.

    Parameters
    ----------
    private_path
        Where the PKCS#8 PEM private key goes; an existing file is never overwritten.
    public_path
        Where the public key goes (default: ``<private_path>.pub``).
    password
        Encrypt the private key with this password (PKCS#8 with the best available
        encryption of ``cryptography``).
    """
    priv = Path(private_path)
    pub = Path(public_path) if public_path is not None else priv.with_name(priv.name + ".pub")
    for p in (priv, pub):
        if p.exists():
            raise DataError(f"{p}: already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    atomic_write_bytes(
        priv,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc),
        perms=0o600,
    )
    atomic_write_bytes(pub, public_pem(key.public_key()))
    return priv, pub


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The PEM (SubjectPublicKeyInfo) encoding of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def load_private_key(path: str | Path, *, password: str | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file (``DataError`` on a wrong file or password)."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(
            data, password.encode("utf-8") if password else None
        )
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable PEM private key ({first})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DataError(f"{path}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM file."""
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise DataError(f"{path}: not a readable PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DataError(f"{path}: expected an Ed25519 public key, got {type(key).__name__}")
    return key


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload and its type."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def sign_envelope(
    payload: bytes, payload_type: str, private_key: Ed25519PrivateKey
) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` signed with ``private_key``."""
    sig = private_key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {
                "keyid": key_id(private_key.public_key()),
                "sig": base64.b64encode(sig).decode("ascii"),
            }
        ],
    }


def verify_envelope(envelope: dict[str, Any], public_key: Ed25519PublicKey) -> bytes:
    """Return the payload of ``envelope`` after checking a signature by ``public_key``.

    Raises
    ------
    IntegrityError
        If the envelope is malformed, or no signature in it verifies with the key
        (a wrong key, or any changed byte of the payload or its type).
    """
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = str(envelope["payloadType"])
        sigs = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise IntegrityError(f"malformed DSSE envelope ({exc!r})") from None
    message = pae(payload_type, payload)
    for sig in sigs:
        try:
            public_key.verify(sig, message)
            return payload
        except InvalidSignature:
            continue
    raise IntegrityError(
        f"no signature in the envelope verifies with key {key_id(public_key)[:16]}... "
        "(wrong key, or the signed content was changed)"
    )


def save_envelope(envelope: dict[str, Any], path: str | Path) -> Path:
    """Write an envelope as JSON, atomically."""
    return atomic_write_json(path, envelope)


def load_envelope(path: str | Path) -> dict[str, Any]:
    """Read a JSON signature file (a DSSE envelope or a Sigstore bundle)."""
    try:
        obj = json.loads(_read(path, "signature"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON signature file ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a signature envelope")
    return obj
