"""Proofs that one record was, or was not, in a data set, checked against its Merkle root.

A *membership* proof is the record's manifest entry (key and digest) with its
inclusion proof. An *absence* proof uses the manifest's leaf order (sorted by
digest): it shows the two adjacent leaves whose digests bracket the record's
digest, each with its inclusion proof, or the first or last leaf when the digest
falls outside. Only those one or two entries are revealed, never the rest of the
data. This is the sorted-Merkle-tree non-membership construction used by
certificate and key transparency logs (Laurie, Langley, Kasper: RFC 6962;
Melara et al., "CONIKS", USENIX Security 2015).

The verifier needs only the root, taken from a manifest whose signature it has
checked, and the record itself (or its digest).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trainguard.core.atomic import atomic_write_json
from trainguard.core.errors import DataError, IntegrityError
from trainguard.provenance.hashing import sha256_bytes
from trainguard.provenance.manifest import Entry, Manifest, leaf_order
from trainguard.provenance.merkle import InclusionProof, inclusion_proof, root_from_inclusion

PROOF_SCHEMA = "trainguard.record-proof/v1"


@dataclass(frozen=True)
class LeafProof:
    """One revealed manifest entry and its inclusion proof."""

    entry: Entry
    proof: InclusionProof

    def root(self) -> bytes:
        """The root this leaf and path imply."""
        return root_from_inclusion(self.entry.leaf(), self.proof)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        e = self.entry
        return {"key": e.key, "sha256": e.sha256, "size": e.size, **self.proof.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LeafProof:
        """Inverse of :meth:`to_dict`."""
        try:
            entry = Entry(str(d["key"]), str(d["sha256"]), int(d["size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"malformed leaf in proof ({exc!r})") from None
        return cls(entry=entry, proof=InclusionProof.from_dict(d))


@dataclass(frozen=True)
class RecordProof:
    """Proof that a record is ``present`` in, or ``absent`` from, a data set.

    ``sha256`` is the record's digest, ``root`` the Merkle root of the data set's manifest.
    """

    claim: Literal["present", "absent"]
    sha256: str
    root: str
    tree_size: int
    leaves: tuple[LeafProof, ...]
    dataset: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the proof file format)."""
        return {
            "schema": PROOF_SCHEMA,
            "claim": self.claim,
            "dataset": self.dataset,
            "sha256": self.sha256,
            "root": self.root,
            "tree_size": self.tree_size,
            "leaves": [lp.to_dict() for lp in self.leaves],
        }

    def save(self, path: str | Path) -> Path:
        """Write the proof as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RecordProof:
        """Read a proof dict; :class:`IntegrityError` if it is malformed."""
        if d.get("schema") != PROOF_SCHEMA or d.get("claim") not in ("present", "absent"):
            raise IntegrityError("not a trainguard record proof")
        try:
            return cls(
                claim=d["claim"],
                sha256=str(d["sha256"]),
                root=str(d["root"]),
                tree_size=int(d["tree_size"]),
                leaves=tuple(LeafProof.from_dict(x) for x in d["leaves"]),
                dataset=str(d.get("dataset", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"malformed record proof ({exc!r})") from None

    @classmethod
    def load(cls, path: str | Path) -> RecordProof:
        """Read a proof file written by :meth:`save`."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a readable proof file ({exc})") from None
        return cls.from_dict(d)


def prove_record(manifest: Manifest, record_sha256: str) -> RecordProof:
    """Prove that a record is in ``manifest`` (membership) or is not (absence).

    Parameters
    ----------
    manifest
        The data set's manifest (its root should be the one you signed).
    record_sha256
        Hex SHA-256 of the record's canonical bytes
        (:func:`~trainguard.provenance.records.canonical_record`) or of a file.
    """
    manifest.check_root()
    ordered = leaf_order(manifest.entries)
    leaves = [e.leaf() for e in ordered]
    digests = [e.sha256 for e in ordered]
    i = bisect.bisect_left(digests, record_sha256)

    def at(j: int) -> LeafProof:
        return LeafProof(ordered[j], inclusion_proof(leaves, j))

    if i < len(digests) and digests[i] == record_sha256:
        shown: tuple[LeafProof, ...] = (at(i),)
        claim: Literal["present", "absent"] = "present"
    else:
        shown = tuple(at(j) for j in (i - 1, i) if 0 <= j < len(ordered))
        claim = "absent"
    return RecordProof(
        claim=claim,
        sha256=record_sha256,
        root=manifest.root,
        tree_size=len(ordered),
        leaves=shown,
        dataset=manifest.name,
    )


def _check_absence(proof: RecordProof) -> None:
    n, d = proof.tree_size, proof.sha256
    idx = [lp.proof.index for lp in proof.leaves]
    digests = [lp.entry.sha256 for lp in proof.leaves]
    if n == 0:
        if proof.leaves:
            raise IntegrityError("absence proof: an empty data set has no leaves to show")
        return
    if len(idx) == 2:
        if idx[1] != idx[0] + 1 or not digests[0] < d < digests[1]:
            raise IntegrityError("absence proof: the two leaves do not bracket the record's digest")
    elif len(idx) == 1:
        first = idx[0] == 0 and d < digests[0]
        last = idx[0] == n - 1 and d > digests[0]
        if not (first or last):
            raise IntegrityError("absence proof: one leaf shown, but it is not the first or last")
    else:
        raise IntegrityError("absence proof: expected one or two neighbouring leaves")


def verify_record_proof(
    proof: RecordProof, root: str, tree_size: int, *, record: bytes | None = None
) -> Literal["present", "absent"]:
    """Check ``proof`` against a trusted ``root``; return the claim it proves.

    Parameters
    ----------
    proof
        A proof from :func:`prove_record`.
    root
        Hex Merkle root from a manifest you trust (its signature checked).
    tree_size
        Number of items of that manifest. Like the root it must come from the
        trusted manifest: an audit path alone does not fix the tree's size.
    record
        The record's canonical bytes, to bind the proof to the record itself.

    Raises
    ------
    IntegrityError
        If any hash, index or ordering in the proof does not hold.
    """
    if proof.root != root:
        raise IntegrityError(f"proof is for root {proof.root[:16]}..., not {root[:16]}...")
    if proof.tree_size != tree_size:
        raise IntegrityError(f"proof is for {proof.tree_size} items, the data set has {tree_size}")
    if record is not None and sha256_bytes(record) != proof.sha256:
        raise IntegrityError("the record's digest is not the one the proof is about")
    expected = bytes.fromhex(root)
    for lp in proof.leaves:
        if lp.proof.tree_size != proof.tree_size:
            raise IntegrityError("proof leaves disagree on the tree size")
        if lp.root() != expected:
            raise IntegrityError(
                f"inclusion path of leaf {lp.entry.key!r} does not lead to root {root[:16]}..."
            )
    if proof.claim == "present":
        if len(proof.leaves) != 1 or proof.leaves[0].entry.sha256 != proof.sha256:
            raise IntegrityError("membership proof must show one leaf with the record's digest")
    else:
        _check_absence(proof)
    return proof.claim
