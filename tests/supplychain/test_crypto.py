"""Encrypted artifacts: round trips, any flipped bit fails, keys stay private."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import tracemalloc

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trainguard.core.errors import ConfigError, IntegrityError
from trainguard.supplychain.crypto import (
    MAGIC,
    ArtifactHeader,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypt_stream,
    generate_key,
    key_id,
    load_key,
    sha256_file,
)

KEY = bytes(range(32))


def sealed(data: bytes, chunk: int = 16, key: bytes = KEY) -> bytes:
    import hashlib

    header = ArtifactHeader(
        name="m.pt",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created="2026-01-01T00:00:00+00:00",
        chunk_size=chunk,
        key_id=key_id(key),
        nonce_prefix="00112233445566",
        meta={"run": "test"},
    )
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key, header)
    return out.getvalue()


def opened(blob: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, key)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100])
def test_round_trip_across_chunk_boundaries(size):
    data = os.urandom(size)
    assert opened(sealed(data)) == data


def test_every_flipped_bit_fails():
    blob = sealed(b"weights " * 6)  # 48 bytes: 3 chunks of 16
    for i in range(len(blob) * 8):
        bad = bytearray(blob)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(IntegrityError):
            opened(bytes(bad))


def test_truncated_extended_and_reordered_files_fail():
    blob = sealed(os.urandom(64))
    (n,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4 + n
    chunks = [blob[start + k : start + k + 32] for k in range(0, len(blob) - start, 32)]
    assert len(chunks) == 4  # 16 bytes of ciphertext + 16 of tag each
    variants = [
        blob[: start + 3 * 32],  # drop the final chunk
        blob[: start + 2 * 32],  # drop two
        blob + chunks[-1],  # append a chunk
        blob[:start] + chunks[1] + chunks[0] + b"".join(chunks[2:]),  # swap two chunks
        blob[:-1],
    ]
    for v in variants:
        with pytest.raises(IntegrityError):
            opened(v)


def test_wrong_key_names_both_key_ids():
    with pytest.raises(IntegrityError, match="another key"):
        opened(sealed(b"x"), key=bytes(32))


def test_format_is_the_documented_stream_construction():
    """Chunk 0 opens with plain AES-GCM, nonce prefix|counter|flag, AAD the preamble."""
    blob = sealed(b"A" * 20)
    (n,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    preamble = blob[: len(MAGIC) + 4 + n]
    header = json.loads(preamble[len(MAGIC) + 4 :])
    assert header["meta"] == {"run": "test"} and header["name"] == "m.pt"
    nonce = bytes.fromhex(header["nonce_prefix"]) + struct.pack(">I", 0) + b"\x00"
    chunk0 = blob[len(preamble) : len(preamble) + 16 + 16]
    assert AESGCM(KEY).decrypt(nonce, chunk0, preamble) == b"A" * 16


def test_files_round_trip_and_a_failed_decrypt_writes_nothing(tmp_path):
    src = tmp_path / "model.pt"
    src.write_bytes(os.urandom(3000))
    header = encrypt_file(src, tmp_path / "model.enc", KEY, meta={"stage": "ship"}, chunk_size=1000)
    assert header.sha256 == sha256_file(src) and header.size == 3000
    out = decrypt_file(tmp_path / "model.enc", tmp_path / "back.pt", KEY)
    assert (tmp_path / "back.pt").read_bytes() == src.read_bytes() and out.meta == {"stage": "ship"}
    bad = bytearray((tmp_path / "model.enc").read_bytes())
    bad[-2000] ^= 0x10
    (tmp_path / "bad.enc").write_bytes(bytes(bad))
    (tmp_path / "existing.pt").write_bytes(b"previous good model")
    with pytest.raises(IntegrityError):
        decrypt_file(tmp_path / "bad.enc", tmp_path / "fresh.pt", KEY)
    with pytest.raises(IntegrityError):
        decrypt_file(tmp_path / "bad.enc", tmp_path / "existing.pt", KEY)
    assert not (tmp_path / "fresh.pt").exists()
    assert (tmp_path / "existing.pt").read_bytes() == b"previous good model"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_streaming_keeps_memory_small(tmp_path):
    src = tmp_path / "big.bin"
    with src.open("wb") as fh:
        for _ in range(32):
            fh.write(os.urandom(1 << 20))
    tracemalloc.start()
    encrypt_file(src, tmp_path / "big.enc", KEY)
    decrypt_file(tmp_path / "big.enc", tmp_path / "big.out", KEY)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20  # 32 MiB artifact, a few 1 MiB chunks in memory
    assert sha256_file(tmp_path / "big.out") == sha256_file(src)


def test_key_files_are_private_and_checked(tmp_path, monkeypatch):
    path = generate_key(tmp_path / "k.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key(path)) == 32
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        generate_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(path)
    monkeypatch.setenv("TRAINGUARD_KEY", KEY.hex())
    assert load_key() == KEY
    monkeypatch.setenv("TRAINGUARD_KEY", "c2hvcnQ=")
    with pytest.raises(ConfigError, match="256-bit"):
        load_key()
    monkeypatch.delenv("TRAINGUARD_KEY")
    with pytest.raises(ConfigError, match="TRAINGUARD_KEY"):
        load_key()
