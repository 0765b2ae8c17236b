"""Merkle tree hashes and inclusion proofs as Certificate Transparency defines them.

Leaves and interior nodes are hashed in separate domains, so no leaf can pose as a
node (the second-preimage attack on plain Merkle trees)::

    leaf_hash(d)     = SHA-256(0x00 || d)
    node_hash(l, r)  = SHA-256(0x01 || l || r)
    MTH([])          = SHA-256("")
    MTH(D[0:n])      = node_hash(MTH(D[0:k]), MTH(D[k:n])),  k the largest power of 2 < n

An inclusion proof (audit path) is the list of sibling hashes from a leaf to the
root; verifying it needs the leaf, its index, the tree size and the root only, so
one record can be shown to be in a data set without revealing the others.

References: RFC 6962, section 2.1; RFC 9162 (Certificate Transparency 2.0),
sections 2.1.1 (tree hash), 2.1.3.1 (audit paths) and 2.1.3.2 (verification).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from trainguard.core.errors import IntegrityError, ParameterError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (RFC 9162, 2.1.1)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node (RFC 9162, 2.1.1)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root hash of the tree over ``leaf_hashes`` (already hashed with :func:`leaf_hash`).

    Computed bottom-up level by level, which gives the same tree as the recursive
    definition: a left-over node at the end of a level is carried up unchanged.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass(frozen=True)
class InclusionProof:
    """The audit path of leaf ``index`` in a tree of ``tree_size`` leaves."""

    index: int
    tree_size: int
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (hashes in hex)."""
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> InclusionProof:
        """Inverse of :meth:`to_dict`; raise :class:`IntegrityError` on a malformed proof."""
        try:
            index, size, path = d["index"], d["tree_size"], d["path"]
            if not isinstance(index, int) or not isinstance(size, int):
                raise TypeError("index and tree_size must be integers")
            hashes = tuple(bytes.fromhex(str(h)) for h in path)  # type: ignore[attr-defined]
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"malformed inclusion proof ({exc})") from None
        return cls(index=index, tree_size=size, path=hashes)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> InclusionProof:
    """The audit path of leaf ``index`` (RFC 9162, 2.1.3.1), siblings from the leaf up."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ParameterError(
            f"The 'index' parameter of inclusion_proof must be an int in [0, {n - 1}]. Got {index!r} instead."
        )
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    # Walk down from the root, remembering the sibling subtree at each split.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(merkle_root(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(merkle_root(leaf_hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    return InclusionProof(index=index, tree_size=n, path=tuple(reversed(path)))


def root_from_inclusion(leaf: bytes, proof: InclusionProof) -> bytes:
    """The root that ``proof`` implies for leaf hash ``leaf`` (RFC 9162, 2.1.3.2).

    Raises
    ------
    IntegrityError
        If the proof has the wrong length for its index and tree size.
    """
    if not 0 <= proof.index < proof.tree_size:
        raise IntegrityError(
            f"inclusion proof: index {proof.index} is outside a tree of {proof.tree_size} leaves"
        )
    fn, sn = proof.index, proof.tree_size - 1
    r = leaf
    for p in proof.path:
        if sn == 0:
            raise IntegrityError("inclusion proof: more hashes than the tree has levels")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise IntegrityError("inclusion proof: fewer hashes than the tree has levels")
    return r


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``proof.index`` under ``root``."""
    try:
        return root_from_inclusion(leaf, proof) == root
    except IntegrityError:
        return False
