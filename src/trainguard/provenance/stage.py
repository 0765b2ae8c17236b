"""The provenance stage of a run: sign the data, attest the training, verify, watermark.

Designed for the demo on built-in data (digits): it takes well under 20 s on two cores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trainguard.core.atomic import atomic_open, atomic_write_json
from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.core.training import train_model
from trainguard.provenance.attestation import (
    artifact_statement,
    sign_statement,
    training_provenance,
)
from trainguard.provenance.chain import verify_chain
from trainguard.provenance.manifest import build_manifest, verify_manifest
from trainguard.provenance.signing import public_pem
from trainguard.provenance.watermark import prove_ownership, watermark_images


def _save_npz(ds: Dataset, path: Path) -> Path:
    with atomic_open(path, "wb") as fh:
        np.savez(fh, X=ds.X, y=ds.y)
    return path


def _tamper_check(run: RunDir, data: Path, manifest_path: Path) -> Finding:
    """Change one training record in a copy and check that verification names it."""
    from trainguard.provenance.manifest import Manifest

    copy = run.artifact_path("provenance/tampered/" + data.name)
    shutil.copyfile(data, copy)
    with np.load(copy) as z:
        X, y = z["X"].copy(), z["y"].copy()
    X[7, 0, 3, 3] += 0.0625
    with atomic_open(copy, "wb") as fh:
        np.savez(fh, X=X, y=y)
    diff = verify_manifest(Manifest.load(manifest_path), copy)
    located = [c.key for c in diff.changes] == ["7"]
    shutil.rmtree(copy.parent)
    return Finding(
        stage="provenance",
        check_id="tamper-detection",
        title="A one-pixel change to one training record is caught and located",
        severity=Severity.HIGH,
        passed=located,
        metrics={"changes_reported": float(len(diff.changes))},
        message="; ".join(c.describe(diff.item) for c in diff.changes) or "nothing reported",
        location=diff.changes[0].key if diff.changes else None,
    )


def provenance_stage(
    run: RunDir,
    train: Dataset,
    *,
    model_path: str | Path | None = None,
    code: str | Path | None = None,
    watermark: bool = True,
    seed: int = 0,
) -> StageResult:
    """Add stage ``provenance`` to ``run``.

    Writes the training data (``provenance/train.npz``), its record manifest and a
    signature, a signed SLSA provenance attestation of the model (``model_path``,
    default the run's ``artifacts/model.pt`` when present), walks the chain end to
    end, shows that changing one pixel of one record is caught and located, and (for
    image data, with ``watermark``) marks the data, trains a small MLP on the marked
    and on the clean copy and runs the ownership test on both. The signing key is an
    ephemeral Ed25519 key; only its public half is stored.
    """
    with recorded_stage(
        run, "provenance", "Provenance: signed data, attestation, watermark"
    ) as stage:
        key = Ed25519PrivateKey.generate()
        pub = run.write_artifact("provenance/signer.pub", public_pem(key.public_key()).decode())
        data = _save_npz(train, run.artifact_path("provenance/train.npz"))
        manifest = build_manifest(data)
        mpath = manifest.save(run.artifact_path("provenance/train.npz.manifest.json"))
        atomic_write_json(
            mpath.with_name(mpath.name + ".sig"), sign_statement(artifact_statement(mpath), key)
        )
        stage.findings.append(
            Finding(
                stage="provenance",
                check_id="data-manifest",
                title="Training data manifest with Merkle root, signed",
                metrics={"records": float(len(manifest))},
                message=f"{len(manifest)} records, Merkle root {manifest.root}",
                evidence=[run.relative(mpath), pub],
            )
        )
        model = Path(model_path) if model_path is not None else run.artifacts / "model.pt"
        if not model.is_file():
            model = data  # no model yet: attest the data set itself
        config = run.artifact_path("provenance/config.json")
        atomic_write_json(config, run.result.config)
        statement = training_provenance(
            model, base=run.artifacts, data=[(mpath, data)], config=config, code=code
        )
        att = run.artifact_path("provenance/model.provenance.json")
        atomic_write_json(att, sign_statement(statement, key))
        chain = verify_chain(att, key.public_key(), base=run.artifacts)
        stage.findings.extend(chain.to_findings("provenance"))
        stage.findings.append(_tamper_check(run, data, mpath))
        summary = f"{len(manifest)} records signed; chain {'verified' if chain.ok else 'FAILED'}"
        if watermark and train.kind == "image":
            secret = np.random.default_rng(seed).bytes(32)  # a reproducible demo key
            marked, record = watermark_images(train, secret, rate=0.05, alpha=0.2)
            results = {
                name: prove_ownership(
                    train_model(ds, model_name="mlp", epochs=30, lr=3e-3, seed=seed), record, secret
                )
                for name, ds in (("marked", marked), ("clean", train))
            }
            ok = results["marked"].identified and not results["clean"].identified
            stage.findings.append(
                Finding(
                    stage="provenance",
                    check_id="watermark-ownership",
                    title="Dataset watermark: a model trained on the marked copy is identified, a clean one is not",
                    severity=Severity.MEDIUM,
                    passed=ok,
                    threshold=0.01,
                    metrics={
                        "p_value_marked_model": results["marked"].p_value,
                        "p_value_clean_model": results["clean"].p_value,
                        "marked_samples": float(len(record.marked)),
                    },
                    message=f"marked model: {results['marked'].verdict}; clean model: {results['clean'].verdict}",
                )
            )
            summary += f"; watermark p = {results['marked'].p_value:.2g} (marked) vs {results['clean'].p_value:.2g} (clean)"
        stage.summary = summary
    return stage
