"""Sign and verify model artifacts (a file or a folder) with a key the user holds.

* Ed25519 keys: trainguard's format, an in-toto signature statement naming every
  file with its SHA-256 in a DSSE envelope (:mod:`trainguard.provenance.attestation`).
* ECDSA keys (P-256, P-384, P-521): the OpenSSF ``model-signing`` package's format,
  a Sigstore bundle with a DSSE envelope, signed offline with the local key and
  verifiable with ``model_signing verify key``. ``model-signing`` supports no
  Ed25519 keys, which is why both formats exist.

:func:`verify_artifact` tells the two apart by the file's content.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from trainguard.core.errors import DataError
from trainguard.provenance.attestation import artifact_statement, sign_statement
from trainguard.provenance.chain import ChainReport, verify_chain
from trainguard.provenance.signing import (
    load_envelope,
    load_private_key,
    load_public_key,
    save_envelope,
)

BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"


def _pem_kind(path: Path, *, private: bool, password: str | None = None) -> str:
    try:
        data = path.read_bytes()
        key: object = (
            serialization.load_pem_private_key(data, password.encode() if password else None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (OSError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable PEM key ({first})") from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ec"
    raise DataError(f"{path}: expected an Ed25519 or ECDSA key, got {type(key).__name__}")


def _model_signing():  # type: ignore[no-untyped-def]
    from trainguard.core.errors import require

    require("model_signing", "supplychain")
    require("OpenSSL", "supplychain")
    import model_signing

    return model_signing


def default_signature_path(path: str | Path) -> Path:
    """Where a signature goes by default: ``<artifact>.sig`` beside the artifact."""
    p = Path(path)
    return p.with_name(p.name + ".sig")


def sign_artifact(
    path: str | Path,
    private_key: str | Path,
    *,
    out: str | Path | None = None,
    password: str | None = None,
) -> Path:
    """Sign a model file or folder; return the signature file.

    The key file decides the format: Ed25519 gives a trainguard DSSE envelope,
    ECDSA a ``model-signing`` Sigstore bundle.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder to sign")
    target = Path(out) if out is not None else default_signature_path(p)
    key_path = Path(private_key)
    if _pem_kind(key_path, private=True, password=password) == "ec":
        ms = _model_signing()
        cfg = ms.signing.Config().use_elliptic_key_signer(private_key=key_path, password=password)
        cfg.sign(p, target)
        return target
    key = load_private_key(key_path, password=password)
    save_envelope(sign_statement(artifact_statement(p), key), target)
    return target


def verify_artifact(
    signature: str | Path,
    public_key: str | Path,
    *,
    artifact: str | Path | None = None,
) -> ChainReport:
    """Verify a signature file against the artifact it names and report each check.

    Parameters
    ----------
    signature
        A trainguard envelope or a ``model-signing`` bundle.
    public_key
        The signer's public key (PEM).
    artifact
        For a bundle: the signed file or folder (default: the signature path without
        ``.sig``). For a trainguard envelope: the folder holding the artifact
        (default: the signature's folder).
    """
    sig = Path(signature)
    doc = load_envelope(sig)
    if str(doc.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX):
        target = Path(artifact) if artifact is not None else sig.with_suffix("")
        report = ChainReport(source=str(sig), predicate_type="model-signing")
        if _pem_kind(Path(public_key), private=False) != "ec":
            report.add("signature", False, "a model-signing bundle needs an ECDSA public key")
            return report
        ms = _model_signing()
        try:
            ms.verifying.Config().use_elliptic_key_verifier(public_key=Path(public_key)).verify(
                target, sig
            )
        except ValueError as exc:
            first = str(exc).splitlines()[0][:300]
            report.add("model-signing bundle", False, first, str(target))
        else:
            report.add("model-signing bundle", True, f"every file of {target.name} matches")
        return report
    base = Path(artifact) if artifact is not None else None
    return verify_chain(sig, load_public_key(public_key), base=base)
