"""Provenance of data and models.

Manifests with Merkle roots and record proofs, signatures, in-toto/SLSA attestations
walked end to end, and data-set watermarks with ownership tests.
"""

from trainguard.provenance.artifacts import sign_artifact, verify_artifact
from trainguard.provenance.attestation import (
    artifact_statement,
    open_statement,
    sign_statement,
    training_provenance,
)
from trainguard.provenance.chain import ChainReport, verify_chain
from trainguard.provenance.hashing import hash_file, hash_files
from trainguard.provenance.manifest import (
    Manifest,
    ManifestDiff,
    build_manifest,
    diff_manifests,
    verify_manifest,
)
from trainguard.provenance.merkle import (
    InclusionProof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)
from trainguard.provenance.proofs import RecordProof, prove_record, verify_record_proof
from trainguard.provenance.records import canonical_record, iter_records
from trainguard.provenance.signing import (
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_envelope,
    verify_envelope,
)

__all__ = [
    "ChainReport",
    "InclusionProof",
    "Manifest",
    "ManifestDiff",
    "RecordProof",
    "artifact_statement",
    "build_manifest",
    "canonical_record",
    "diff_manifests",
    "generate_keypair",
    "hash_file",
    "hash_files",
    "inclusion_proof",
    "iter_records",
    "leaf_hash",
    "load_private_key",
    "load_public_key",
    "merkle_root",
    "node_hash",
    "open_statement",
    "prove_record",
    "sign_artifact",
    "sign_envelope",
    "sign_statement",
    "training_provenance",
    "verify_artifact",
    "verify_chain",
    "verify_envelope",
    "verify_inclusion",
    "verify_manifest",
    "verify_record_proof",
]
