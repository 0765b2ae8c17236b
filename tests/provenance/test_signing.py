"""Ed25519 keys and DSSE envelopes; checked against securesystemslib's DSSE implementation."""

from __future__ import annotations

import base64
import copy
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trainguard.core.errors import DataError, IntegrityError
from trainguard.provenance.signing import (
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    pae,
    sign_envelope,
    verify_envelope,
)

TYPE = "application/vnd.in-toto+json"


def test_pae_matches_the_dsse_spec_example() -> None:
    # protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_sign_verify_and_every_byte_is_covered() -> None:
    key = Ed25519PrivateKey.generate()
    payload = b'{"subject":[{"name":"m.pt"}]}'
    env = sign_envelope(payload, TYPE, key)
    assert verify_envelope(env, key.public_key()) == payload
    for i in range(len(payload)):
        t = copy.deepcopy(env)
        t["payload"] = base64.b64encode(
            payload[:i] + bytes([payload[i] ^ 1]) + payload[i + 1 :]
        ).decode()
        with pytest.raises(IntegrityError, match="no signature in the envelope verifies"):
            verify_envelope(t, key.public_key())
    t = copy.deepcopy(env)
    t["payloadType"] = "application/json"
    with pytest.raises(IntegrityError):
        verify_envelope(t, key.public_key())


def test_wrong_key_fails() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    env = sign_envelope(b"x", TYPE, key)
    with pytest.raises(IntegrityError, match="wrong key"):
        verify_envelope(env, other.public_key())


def test_malformed_envelope() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(IntegrityError, match="malformed DSSE envelope"):
        verify_envelope({"payload": "!!", "payloadType": TYPE, "signatures": []}, key.public_key())


def test_envelopes_interoperate_with_securesystemslib() -> None:
    dsse = pytest.importorskip("securesystemslib.dsse")
    from securesystemslib.signer import CryptoSigner, SSlibKey

    key = Ed25519PrivateKey.generate()
    kid = key_id(key.public_key())
    sslib_key = SSlibKey.from_crypto(key.public_key(), keyid=kid)
    payload = b'{"_type":"https://in-toto.io/Statement/v1"}'
    ours = sign_envelope(payload, TYPE, key)
    # securesystemslib accepts our envelope ...
    dsse.Envelope.from_dict(copy.deepcopy(ours)).verify([sslib_key], 1)
    # ... and its envelope, signed with the same key, is byte-identical (Ed25519 is deterministic)
    theirs = dsse.Envelope(payload, TYPE, {})
    theirs.sign(CryptoSigner(key, sslib_key))
    assert theirs.pae() == pae(TYPE, payload)
    assert theirs.to_dict() == ours
    assert verify_envelope(theirs.to_dict(), key.public_key()) == payload


def test_key_files_permissions_password_and_refusals(tmp_path: Path) -> None:
    priv, pub = generate_keypair(tmp_path / "k", password="s3cret")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert pub == tmp_path / "k.pub"
    key = load_private_key(priv, password="s3cret")
    assert key_id(key.public_key()) == key_id(load_public_key(pub))
    with pytest.raises(DataError, match="not a readable PEM private key"):
        load_private_key(priv, password="wrong")
    with pytest.raises(DataError, match="not a readable PEM private key"):
        load_private_key(priv)
    with pytest.raises(DataError, match="refusing to overwrite"):
        generate_keypair(priv)
    with pytest.raises(DataError, match="cannot read the public key"):
        load_public_key(tmp_path / "none.pub")
    with pytest.raises(DataError, match="expected an Ed25519"):
        load_public_key(_ec_public(tmp_path))


def _ec_public(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    p = tmp_path / "ec.pub"
    p.write_bytes(
        k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return p
