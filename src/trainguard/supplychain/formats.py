"""Detect a model file's format from its bytes (magic numbers), never from its name.

A checkpoint renamed ``weights.txt`` or a pickle renamed ``model.safetensors`` is
scanned as what it is. A file can match several formats (a pickle with a zip appended
is a polyglot: ``pickle.load`` runs the pickle while zip readers see the archive);
every match is scanned.

References: PKWARE APPNOTE 6.3.10 (zip end-of-central-directory record), POSIX
ustar, the NumPy ``.npy`` format NEP 1, the safetensors format (8-byte little-endian
header length, then a JSON header), the HDF5 superblock signature, RFC 1950/1952
(zlib, gzip), the xz and LZ4 frame formats, and ``torch/serialization.py`` (the
legacy format starts with a pickled magic number).
"""

from __future__ import annotations

import struct

from trainguard.supplychain.pickle_vm import OPCODES

TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
HEAD_BYTES = 1024
TAIL_BYTES = (1 << 16) + 22

_COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x04\x22\x4d\x18": "lz4",
}
_HDF5 = b"\x89HDF\r\n\x1a\n"
_PROTO0_STARTS = frozenset(b"(c]})NILFSVJKMTUXG")  # opcodes a pickle can begin with


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    n = struct.unpack("<Q", head[:8])[0]  # a length past the end is caught by validation
    return 2 <= n < 1 << 40 and head[8:9] == b"{"


def _looks_like_onnx(head: bytes) -> bool:
    """ModelProto serialises ``ir_version`` (field 1, varint) first, then small fields."""
    if len(head) < 4 or head[0] != 0x08:
        return False
    i = 1
    while i < len(head) and head[i] & 0x80:
        i += 1
    return i + 1 < len(head) and head[i + 1] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72)


def detect(head: bytes, tail: bytes) -> list[str]:
    """Formats of a file whose first and last bytes are ``head`` and ``tail``.

    Returns a list of names from ``zip``, ``tar``, ``numpy``, ``safetensors``,
    ``hdf5``, ``onnx``, ``torch-legacy``, ``pickle`` (protocol 2+ header),
    ``pickle0`` (could be a protocol 0/1 pickle), ``gzip``, ``bzip2``, ``xz``,
    ``zlib``, ``lz4``; empty when nothing matches.
    """
    kinds: list[str] = []
    if head.startswith(TORCH_LEGACY_MAGIC):
        kinds.append("torch-legacy")
    elif len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        kinds.append("pickle")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or b"PK\x05\x06" in tail:
        kinds.append("zip")
    if head[257:262] == b"ustar":
        kinds.append("tar")
    if head.startswith(b"\x93NUMPY"):
        kinds.append("numpy")
    if head.startswith(_HDF5) or head[512:520] == _HDF5:
        kinds.append("hdf5")
    if _is_safetensors(head):
        kinds.append("safetensors")
    for magic, name in _COMPRESSED.items():
        if head.startswith(magic):
            kinds.append(name)
    if _is_zlib(head):
        kinds.append("zlib")
    if _looks_like_onnx(head):
        kinds.append("onnx")
    if not kinds and head and head[0] in OPCODES and head[0] in _PROTO0_STARTS:
        kinds.append("pickle0")
    return kinds
