"""Merkle trees against the RFC 6962 reference vectors (certificate-transparency test data)."""

from __future__ import annotations

import hashlib

import pytest

from trainguard.core.errors import IntegrityError, ParameterError
from trainguard.provenance.merkle import (
    EMPTY_ROOT,
    InclusionProof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_inclusion,
    verify_inclusion,
)

# The eight leaves and tree heads used by every Certificate Transparency implementation.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path) from the same test data.
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in CT_LEAVES]


@pytest.mark.parametrize("n", range(9))
def test_roots_match_rfc6962_reference(n: int) -> None:
    assert merkle_root(LEAVES[:n]).hex() == CT_ROOTS[n]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_audit_paths_match_reference(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(LEAVES[:size], index)
    assert [h.hex() for h in proof.path] == path
    assert verify_inclusion(LEAVES[index], proof, bytes.fromhex(CT_ROOTS[size]))


def test_every_leaf_of_every_tree_size_verifies() -> None:
    for n in range(1, 34):
        leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(n)]
        root = merkle_root(leaves)
        for i in range(n):
            assert verify_inclusion(leaves[i], inclusion_proof(leaves, i), root)


def test_forged_proofs_fail() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(13)]
    root = merkle_root(leaves)
    good = inclusion_proof(leaves, 6)
    # another leaf with this path
    assert not verify_inclusion(leaves[7], good, root)
    # one flipped bit in any sibling hash
    for k in range(len(good.path)):
        path = list(good.path)
        path[k] = bytes([path[k][0] ^ 1]) + path[k][1:]
        assert not verify_inclusion(leaves[6], InclusionProof(6, 13, tuple(path)), root)
    # the right path, but a claimed index or size that does not fit it
    assert not verify_inclusion(leaves[6], InclusionProof(7, 13, good.path), root)
    assert not verify_inclusion(
        leaves[6], InclusionProof(6, 12, good.path), merkle_root(leaves[:12])
    )
    # a hash dropped or added
    assert not verify_inclusion(leaves[6], InclusionProof(6, 13, good.path[:-1]), root)
    with pytest.raises(IntegrityError, match="more hashes"):
        root_from_inclusion(leaves[6], InclusionProof(6, 13, (*good.path, good.path[0])))
    with pytest.raises(IntegrityError, match="outside"):
        root_from_inclusion(leaves[6], InclusionProof(13, 13, good.path))


def test_leaves_and_nodes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    # a leaf whose data is the concatenation of two child hashes is not that node
    assert leaf_hash(a + b) != node_hash(a, b)
    assert merkle_root([leaf_hash(a + b)]) != merkle_root([a, b])


def test_bad_index_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="'index' parameter of inclusion_proof"):
        inclusion_proof(LEAVES, 8)


def test_proof_round_trips_through_json_form() -> None:
    p = inclusion_proof(LEAVES, 3)
    assert InclusionProof.from_dict(p.to_dict()) == p
    with pytest.raises(IntegrityError, match="malformed"):
        InclusionProof.from_dict({"index": "x", "tree_size": 8, "path": []})
