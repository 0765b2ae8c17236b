"""Artifact signatures and training provenance, walked end to end; tampering is located."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trainguard.provenance.artifacts import sign_artifact, verify_artifact
from trainguard.provenance.attestation import (
    SLSA_PROVENANCE,
    open_statement,
    sign_statement,
    training_provenance,
)
from trainguard.provenance.chain import verify_chain
from trainguard.provenance.manifest import build_manifest
from trainguard.provenance.signing import (
    generate_keypair,
    load_envelope,
    load_private_key,
    load_public_key,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys" / "owner.key")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(bytes(range(256)) * 10)
    (d / "config.json").write_text('{"layers": 3}')
    return d


def _failed(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{x.name}|{x.detail}" for x in report.failures]


def test_signed_folder_verifies_and_statement_is_valid_in_toto(keys, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sig = sign_artifact(model_dir, keys[0])
    assert sig == model_dir.with_name("model.sig")
    report = verify_artifact(sig, keys[1])
    assert report.ok, _failed(report)
    st = open_statement(load_envelope(sig), load_public_key(keys[1]))
    assert {s["name"] for s in st["subject"]} == {"model/weights.bin", "model/config.json"}
    # peer check: the in-toto attestation library accepts the statement
    ita = pytest.importorskip("in_toto_attestation.v1.statement")
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2

    pb = json_format.ParseDict(st, statement_pb2.Statement())
    ita.Statement.copy_from_pb(pb).validate()


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        (
            lambda d: (d / "weights.bin").write_bytes(
                b"\xff" + (d / "weights.bin").read_bytes()[1:]
            ),
            "changed file weights.bin",
        ),
        (lambda d: (d / "evil.pkl").write_bytes(b"cos\nsystem\n"), "added file evil.pkl"),
        (lambda d: (d / "config.json").unlink(), "removed file config.json"),
    ],
    ids=["changed", "added", "removed"],
)
def test_folder_tampering_is_located(keys, model_dir: Path, tamper, where: str) -> None:  # type: ignore[no-untyped-def]
    sig = sign_artifact(model_dir, keys[0])
    tamper(model_dir)
    report = verify_artifact(sig, keys[1])
    assert not report.ok
    assert where in report.failures[0].detail


def test_wrong_key_and_edited_signature_fail(keys, model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sig = sign_artifact(model_dir, keys[0])
    _, other_pub = generate_keypair(tmp_path / "other.key")
    report = verify_artifact(sig, other_pub)
    assert not report.ok and "wrong key" in report.failures[0].detail
    env = json.loads(sig.read_text())
    env["signatures"][0]["sig"] = env["signatures"][0]["sig"][::-1]
    sig.write_text(json.dumps(env))
    assert not verify_artifact(sig, keys[1]).ok


def _training_setup(tmp_path: Path, keys: tuple[Path, Path]) -> tuple[Path, Path, Path, Path]:
    data = tmp_path / "train.csv"
    data.write_text("x,label\n" + "\n".join(f"{i},{i % 2}" for i in range(50)) + "\n")
    manifest = build_manifest(data).save(tmp_path / "train.csv.manifest.json")
    sign_artifact(manifest, keys[0])
    config = tmp_path / "config.json"
    config.write_text('{"epochs": 3}')
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights" * 100)
    statement = training_provenance(
        model,
        base=tmp_path,
        data=[(manifest, data)],
        config=config,
        code=REPO,
        parameters={"epochs": 3},
    )
    att = tmp_path / "model.pt.provenance.json"
    att.write_text(json.dumps(sign_statement(statement, load_private_key(keys[0]))))
    return att, data, config, model


def _has_git() -> bool:
    try:
        return (
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True
            ).returncode
            == 0
        )
    except OSError:
        return False


@pytest.mark.skipif(not _has_git(), reason="the repository is not a git checkout here")
def test_provenance_chain_verifies_end_to_end(tmp_path: Path, keys) -> None:  # type: ignore[no-untyped-def]
    att, *_ = _training_setup(tmp_path, keys)
    report = verify_chain(att, load_public_key(keys[1]))
    assert report.ok, _failed(report)
    assert report.predicate_type == SLSA_PROVENANCE
    names = [x.name for x in report.links]
    assert "model model.pt" in names and "code" in names
    assert any(n.endswith("manifest signature") for n in names)
    assert any(n.endswith("items") for n in names)
    # peer check: the provenance statement is a valid in-toto Statement v1
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    st = open_statement(load_envelope(att), load_public_key(keys[1]))
    Statement.copy_from_pb(json_format.ParseDict(st, statement_pb2.Statement())).validate()
    # ... and its predicate parses, with no unknown field, as the SLSA v1 Provenance message
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

    pred = json_format.ParseDict(st["predicate"], provenance_pb2.Provenance())
    assert pred.build_definition.build_type == "https://trainguard.dev/training/v1"
    assert len(pred.build_definition.resolved_dependencies) == 3


@pytest.mark.skipif(not _has_git(), reason="the repository is not a git checkout here")
@pytest.mark.parametrize("target", ["record", "manifest", "config", "model"])
def test_provenance_chain_locates_tampering(tmp_path: Path, keys, target: str) -> None:  # type: ignore[no-untyped-def]
    att, data, config, model = _training_setup(tmp_path, keys)
    if target == "record":
        data.write_text(data.read_text().replace("\n7,1\n", "\n7,0\n"))
        expected = "changed record 7"
    elif target == "manifest":
        m = tmp_path / "train.csv.manifest.json"
        m.write_text(m.read_text().replace('"count": 50', '"count": 51'))
        expected = "differs"
    elif target == "config":
        config.write_text('{"epochs": 300}')
        expected = "differs"
    else:
        model.write_bytes(b"backdoored" * 70)
        expected = "differs"
    report = verify_chain(att, load_public_key(keys[1]))
    assert not report.ok
    assert expected in report.failures[0].detail, _failed(report)


def test_model_signing_bundle_with_an_ec_key(tmp_path: Path, model_dir: Path) -> None:
    pytest.importorskip("model_signing")
    pytest.importorskip("OpenSSL", reason="model-signing 1.1 imports pyOpenSSL")
    k = ec.generate_private_key(ec.SECP256R1())
    priv, pub = tmp_path / "ec.pem", tmp_path / "ec.pub"
    priv.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub.write_bytes(
        k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    sig = sign_artifact(model_dir, priv)
    assert json.loads(sig.read_text())["mediaType"].startswith(
        "application/vnd.dev.sigstore.bundle"
    )
    assert verify_artifact(sig, pub).ok
    (model_dir / "weights.bin").write_bytes(b"tampered")
    report = verify_artifact(sig, pub)
    assert not report.ok and "weights.bin" in report.failures[0].detail


@pytest.mark.skipif(not _has_git(), reason="the repository is not a git checkout here")
def test_unknown_code_commit_fails_the_chain(tmp_path: Path, keys) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model.pt"
    model.write_bytes(b"w")
    st = training_provenance(model, base=tmp_path, data=[], code=REPO)
    (dep,) = st["predicate"]["buildDefinition"]["resolvedDependencies"]
    dep["digest"]["gitCommit"] = "0" * 40  # a commit the repository never had
    att = tmp_path / "att.json"
    att.write_text(json.dumps(sign_statement(st, load_private_key(keys[0]))))
    report = verify_chain(att, load_public_key(keys[1]))
    assert [x.name for x in report.failures] == ["code"]
