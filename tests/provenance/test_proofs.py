"""Record proofs: membership and absence verify against the root; forged proofs fail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainguard.core.errors import IntegrityError
from trainguard.provenance.hashing import sha256_bytes
from trainguard.provenance.manifest import build_manifest
from trainguard.provenance.proofs import RecordProof, prove_record, verify_record_proof
from trainguard.provenance.records import canonical_record, read_record


@pytest.fixture
def table(tmp_path: Path) -> Path:
    f = tmp_path / "people.csv"
    rows = [f"{i},name{i},{20 + i % 50}" for i in range(200)]
    f.write_text("id,name,age\n" + "\n".join(rows) + "\n")
    return f


def test_membership_proof_of_a_record_verifies(table: Path, tmp_path: Path) -> None:
    m = build_manifest(table)
    record = canonical_record({"id": "17", "name": "name17", "age": "37"})
    assert record == read_record(table, "17")
    proof = prove_record(m, sha256_bytes(record))
    assert proof.claim == "present" and len(proof.leaves) == 1
    assert proof.leaves[0].entry.key == "17"
    # the proof reveals one entry and log2(n) hashes, not the other records
    assert len(proof.leaves[0].proof.path) <= 8
    loaded = RecordProof.load(proof.save(tmp_path / "proof.json"))
    assert verify_record_proof(loaded, m.root, len(m), record=record) == "present"


@pytest.mark.parametrize(
    "record",
    [
        {"id": "17", "name": "name17", "age": "38"},  # one value off
        {"id": "0", "name": "", "age": ""},
        {"id": "999", "name": "nobody", "age": "1"},
    ],
)
def test_absence_proof_of_a_record_not_in_the_data(table: Path, record: dict[str, str]) -> None:
    m = build_manifest(table)
    data = canonical_record(record)
    proof = prove_record(m, sha256_bytes(data))
    assert proof.claim == "absent"
    assert verify_record_proof(proof, m.root, len(m), record=data) == "absent"


def test_absence_at_both_ends_of_the_leaf_order(table: Path) -> None:
    m = build_manifest(table)
    for digest in ("0" * 64, "f" * 64):
        proof = prove_record(m, digest)
        assert len(proof.leaves) == 1
        assert verify_record_proof(proof, m.root, len(m)) == "absent"


def test_forged_proofs_fail(table: Path) -> None:
    m = build_manifest(table)
    record = read_record(table, "42")
    good = prove_record(m, sha256_bytes(record))
    leaf = good.leaves[0]
    # a tampered sibling hash
    path = list(leaf.proof.path)
    path[2] = bytes(32)
    bad_path = dataclasses.replace(leaf, proof=dataclasses.replace(leaf.proof, path=tuple(path)))
    with pytest.raises(IntegrityError, match="does not lead to root"):
        verify_record_proof(dataclasses.replace(good, leaves=(bad_path,)), m.root, len(m))
    # the proof offered for a different record
    other = canonical_record({"id": "42", "name": "name42", "age": "99"})
    with pytest.raises(IntegrityError, match="not the one the proof is about"):
        verify_record_proof(good, m.root, len(m), record=other)
    # a "present" claim for a digest that is not in the data, reusing a real leaf
    absent_digest = sha256_bytes(other)
    with pytest.raises(IntegrityError, match="one leaf with the record's digest"):
        verify_record_proof(dataclasses.replace(good, sha256=absent_digest), m.root, len(m))
    # an "absent" claim for a record that is present: its neighbours do not bracket it
    fake = prove_record(m, "0" * 64)
    with pytest.raises(IntegrityError):
        verify_record_proof(dataclasses.replace(fake, sha256=good.sha256), m.root, len(m))
    # absence with two leaves that are not adjacent
    a = prove_record(m, "0" * 64).leaves[0]
    b = prove_record(m, "f" * 64).leaves[0]
    gap = dataclasses.replace(fake, sha256="8" * 64, leaves=(a, b))
    with pytest.raises(IntegrityError, match="do not bracket"):
        verify_record_proof(gap, m.root, len(m))
    # a wrong root or size
    with pytest.raises(IntegrityError, match="not"):
        verify_record_proof(good, "ab" * 32, len(m))
    with pytest.raises(IntegrityError, match="items"):
        verify_record_proof(good, m.root, len(m) - 1)


def test_malformed_proof_file(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"schema": "trainguard.record-proof/v1", "claim": "present"}')
    with pytest.raises(IntegrityError, match="malformed record proof"):
        RecordProof.load(tmp_path / "p.json")
