"""``trainguard keygen|sign|verify`` and ``trainguard data manifest|verify|prove|watermark|...``.

Exit codes: 0 the check passed (for ``prove-ownership``: the watermark was found),
1 it did not (a tampered item, a bad signature, no watermark), 2 bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from trainguard.cli.common import console, emit_json, say, state
from trainguard.core.errors import EXIT_FAILED, EXIT_OK, ConfigError, DataError

app = typer.Typer()
data_app = typer.Typer(
    help="Data provenance: manifests, record proofs, watermarks, ownership tests.",
    no_args_is_help=True,
)

PasswordEnv = Annotated[
    str, typer.Option(help="Environment variable holding the private key's password, if any.")
]


def _password(env: str) -> str | None:
    return os.environ.get(env) or None


def _report_links(ctx: typer.Context, report: Any) -> int:
    """Print a ChainReport (or emit it as JSON) and return the exit code."""
    if state(ctx).json:
        emit_json(
            {
                "source": report.source,
                "predicate_type": report.predicate_type,
                "ok": report.ok,
                "links": [vars(x) for x in report.links],
            }
        )
    else:
        for x in report.links:
            mark = {
                True: "[green]ok[/green]  ",
                False: "[red]FAIL[/red]",
                None: "[yellow]skip[/yellow]",
            }
            say(ctx, f"  {mark[x.passed]}  {x.name}: {x.detail}")
        say(ctx, "verified end to end" if report.ok else f"{len(report.failures)} check(s) failed")
    return EXIT_OK if report.ok else EXIT_FAILED


@app.command("keygen")
def keygen_command(
    ctx: typer.Context,
    private: Annotated[Path, typer.Argument(help="Private key file to create (mode 0600).")],
    public: Annotated[
        Path | None, typer.Option(help="Public key file (default: PRIVATE.pub).")
    ] = None,
    password_env: PasswordEnv = "TRAINGUARD_KEY_PASSWORD",
) -> int:
    """Create an Ed25519 key pair for signing."""
    from trainguard.provenance.signing import generate_keypair

    priv, pub = generate_keypair(private, public, password=_password(password_env))
    say(ctx, f"private key: {priv} (keep it secret)\npublic key:  {pub}")
    return EXIT_OK


def _manifest_data(manifest_path: Path) -> tuple[Path, Path | None]:
    from trainguard.provenance.manifest import Manifest

    m = Manifest.load(manifest_path)
    data = m.data_beside(manifest_path)
    return manifest_path, data if data.exists() else None


def _parameters(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


@app.command("sign")
def sign_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Model file or folder (or any artifact) to sign.")],
    key: Annotated[
        Path, typer.Option("--key", help="Private key (Ed25519, or ECDSA for model-signing).")
    ],
    out: Annotated[Path | None, typer.Option(help="Signature or attestation file.")] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Data manifest the model was trained on (repeatable); makes a provenance attestation.",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Training config file to attest.")] = None,
    code: Annotated[Path | None, typer.Option(help="Folder in the code's git repository.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Training parameter NAME=VALUE (repeatable)."),
    ] = None,
    password_env: PasswordEnv = "TRAINGUARD_KEY_PASSWORD",
) -> int:
    """Sign an artifact, or with --data/--config/--code attest how a model was trained."""
    from trainguard.core.atomic import atomic_write_json
    from trainguard.provenance.artifacts import sign_artifact
    from trainguard.provenance.attestation import sign_statement, training_provenance
    from trainguard.provenance.signing import load_private_key

    if not (data or config or code):
        target = sign_artifact(path, key, out=out, password=_password(password_env))
        say(ctx, f"signed {path} -> {target}")
        if state(ctx).json:
            emit_json({"signature": str(target)})
        return EXIT_OK
    private = load_private_key(key, password=_password(password_env))
    target = out or path.with_name(path.name + ".provenance.json")
    statement = training_provenance(
        path,
        base=target.parent,
        data=[_manifest_data(m) for m in data or []],
        config=config,
        code=code,
        parameters=_parameters(param or []),
    )
    atomic_write_json(target, sign_statement(statement, private))
    say(ctx, f"attested the training of {path} -> {target}")
    if state(ctx).json:
        emit_json({"attestation": str(target)})
    return EXIT_OK


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    signature: Annotated[Path, typer.Argument(help="Signature or provenance attestation file.")],
    key: Annotated[Path, typer.Option("--key", help="The signer's public key (PEM).")],
    base: Annotated[
        Path | None,
        typer.Option(
            help="Folder the signed paths are relative to (default: the file's folder); "
            "for a model-signing bundle, the signed file or folder (default: SIGNATURE without .sig)."
        ),
    ] = None,
) -> int:
    """Verify a signature or walk a provenance attestation end to end."""
    from trainguard.provenance.artifacts import verify_artifact

    return _report_links(ctx, verify_artifact(signature, key, artifact=base))


@data_app.command("manifest")
def manifest_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Data folder, or a CSV/JSONL/Parquet/NPZ file.")],
    out: Annotated[
        Path | None, typer.Option(help="Manifest file (default: PATH.manifest.json).")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Column naming each record.")] = None,
    whole_file: Annotated[
        bool, typer.Option("--whole-file", help="Hash a data file as one item, not per record.")
    ] = False,
    sign: Annotated[
        Path | None, typer.Option("--sign", help="Private key: also sign the manifest.")
    ] = None,
    password_env: PasswordEnv = "TRAINGUARD_KEY_PASSWORD",
) -> int:
    """Hash every file or record of a data set and write its manifest with the Merkle root."""
    from trainguard.provenance.artifacts import sign_artifact
    from trainguard.provenance.manifest import build_manifest

    manifest = build_manifest(path, records=False if whole_file else None, id_column=id_column)
    target = manifest.save(out or path.with_name(path.name + ".manifest.json"))
    sig = sign_artifact(target, sign, password=_password(password_env)) if sign else None
    if state(ctx).json:
        emit_json(
            {
                "manifest": str(target),
                "root": manifest.root,
                "items": len(manifest),
                "signature": sig and str(sig),
            }
        )
    else:
        say(ctx, f"{len(manifest)} {manifest.kind} of {manifest.name}, Merkle root {manifest.root}")
        say(ctx, f"manifest: {target}" + (f"\nsignature: {sig}" if sig else ""))
    return EXIT_OK


@data_app.command("verify")
def data_verify_command(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(help="The manifest file.")],
    data: Annotated[
        Path | None, typer.Option(help="The data (default: beside the manifest).")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="Public key: check the manifest's signature first.")
    ] = None,
) -> int:
    """Re-hash the data and name every added, removed or changed item."""
    from trainguard.provenance.artifacts import verify_artifact
    from trainguard.provenance.manifest import Manifest, verify_manifest

    if key is not None:
        report = verify_artifact(manifest.with_name(manifest.name + ".sig"), key)
        if not report.ok:
            return _report_links(ctx, report)
        say(ctx, "manifest signature: ok")
    m = Manifest.load(manifest)
    diff = verify_manifest(m, data if data is not None else m.data_beside(manifest))
    if state(ctx).json:
        emit_json(
            {
                "ok": diff.ok,
                "root": m.root,
                "bytes_changed": diff.bytes_changed,
                "changes": [vars(c) for c in diff.changes],
            }
        )
    else:
        (finding,) = diff.to_findings("data")
        say(ctx, finding.message)
        for c in diff.changes[:50]:
            say(ctx, f"  {c.describe(diff.item)}")
    return EXIT_OK if diff.ok else EXIT_FAILED


@data_app.command("prove")
def prove_command(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(help="The (signed) manifest of the data set.")],
    out: Annotated[Path, typer.Option(help="Where to write the proof (JSON).")],
    record: Annotated[
        str | None, typer.Option(help="The record as JSON (CSV values as strings).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="A file, for a folder or NPZ-row manifest.")
    ] = None,
    sha256: Annotated[str | None, typer.Option(help="The item's SHA-256 (hex).")] = None,
) -> int:
    """Write a proof that one record is in the data set, or that it is not."""
    from trainguard.provenance.hashing import hash_file, sha256_bytes
    from trainguard.provenance.manifest import Manifest
    from trainguard.provenance.proofs import prove_record
    from trainguard.provenance.records import canonical_record

    given = [x for x in (record, file, sha256) if x is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of --record, --file, --sha256")
    if record is not None:
        try:
            obj = json.loads(record)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--record: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ConfigError("--record: expected a JSON object")
        digest = sha256_bytes(canonical_record(obj))
    elif file is not None:
        digest = hash_file(file)
    else:
        digest = str(sha256).lower()
    proof = prove_record(Manifest.load(manifest), digest)
    proof.save(out)
    say(ctx, f"record {digest[:16]}... is {proof.claim} in {proof.dataset}; proof: {out}")
    if state(ctx).json:
        emit_json(proof.to_dict())
    return EXIT_OK


@data_app.command("verify-proof")
def verify_proof_command(
    ctx: typer.Context,
    proof: Annotated[Path, typer.Argument(help="A proof written by 'trainguard data prove'.")],
    manifest: Annotated[
        Path | None, typer.Option(help="The trusted (signed) manifest: gives root and size.")
    ] = None,
    root: Annotated[str | None, typer.Option(help="Or: the trusted Merkle root (hex).")] = None,
    size: Annotated[int | None, typer.Option(help="... and the number of items.")] = None,
) -> int:
    """Check a record proof against a trusted root and size; exit 0 when it holds."""
    from trainguard.core.errors import IntegrityError
    from trainguard.provenance.manifest import Manifest
    from trainguard.provenance.proofs import RecordProof, verify_record_proof

    if manifest is not None:
        m = Manifest.load(manifest)
        m.check_root()
        root, size = m.root, len(m)
    if root is None or size is None:
        raise ConfigError("give --manifest, or both --root and --size")
    p = RecordProof.load(proof)
    try:
        claim = verify_record_proof(p, root.lower(), size)
    except IntegrityError as exc:
        say(ctx, f"[red]proof does not hold[/red]: {exc}")
        return EXIT_FAILED
    say(
        ctx,
        f"proof holds: the record {p.sha256[:16]}... is {claim} in {p.dataset or 'the data set'}",
    )
    return EXIT_OK


def _key_for_marking(path: Path, ctx: typer.Context) -> bytes:
    from trainguard.provenance.watermark import load_key, new_key, save_key

    if path.exists():
        return load_key(path)
    key = new_key()
    save_key(key, path)
    say(ctx, f"new watermark key: {path} (keep it secret)")
    return key


@data_app.command("watermark")
def watermark_command(
    ctx: typer.Context,
    data: Annotated[
        str, typer.Option(help="Data set: digits, mnist:DIR, a .npz, or a text .jsonl/.csv.")
    ],
    key: Annotated[Path, typer.Option("--key", help="Watermark key file (created if missing).")],
    out: Annotated[Path, typer.Option(help="The marked copy (.npz for images, .jsonl for text).")],
    record: Annotated[
        Path | None, typer.Option(help="Secret verification record (default: OUT.watermark.json).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Text column (text tables).")] = None,
    label: Annotated[str | None, typer.Option(help="Label column (tables).")] = None,
    rate: Annotated[float, typer.Option(help="Images: fraction of samples marked.")] = 0.01,
    alpha: Annotated[float, typer.Option(help="Images: blend weight of the pattern.")] = 0.1,
    queries: Annotated[
        int, typer.Option(help="Images: clean query images kept in the record.")
    ] = 100,
    contrast: Annotated[
        float, typer.Option(help="Images: fraction given decoy patterns, for key-specific marks.")
    ] = 0.0,
    canaries: Annotated[int, typer.Option(help="Text: number of canary records.")] = 10,
    repeats: Annotated[int, typer.Option(help="Text: insertions of each canary.")] = 5,
) -> int:
    """Write a watermarked copy of a data set and its secret verification record."""
    from trainguard.core.datasets import DatasetSpec, load_dataset
    from trainguard.provenance.watermark import (
        WatermarkRecord,
        save_record,
        watermark_images,
        watermark_texts,
    )
    from trainguard.provenance.watermark.record import save_marked

    ds = load_dataset(DatasetSpec(source=data, text=text, label=label))
    if ds.kind == "tabular":
        raise DataError(f"{data}: watermarks are for image or text data, not tables")
    secret = _key_for_marking(key, ctx)
    rec: WatermarkRecord
    if ds.kind == "image":
        marked, rec = watermark_images(
            ds, secret, rate=rate, alpha=alpha, n_queries=queries, contrast=contrast
        )
        what = f"{len(rec.marked)} of {len(ds)} images marked (alpha {alpha}, target class {rec.target})"
    else:
        marked, text_rec = watermark_texts(ds, secret, n_canaries=canaries, repeats=repeats)
        rec = text_rec
        what = f"{canaries} canaries x {repeats} added to {len(ds)} texts (label {text_rec.label})"
    save_marked(marked, out)
    rec_path = save_record(rec, record or out.with_name(out.name + ".watermark.json"))
    say(ctx, f"{what}\nmarked copy: {out}\nverification record (secret): {rec_path}")
    if state(ctx).json:
        emit_json({"marked": str(out), "record": str(rec_path), "key_id": rec.key_id})
    return EXIT_OK


@data_app.command("prove-ownership")
def prove_ownership_command(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="The suspect model (a trainguard checkpoint).")],
    key: Annotated[Path, typer.Option("--key", help="The watermark key file.")],
    record: Annotated[Path, typer.Option(help="The verification record from 'data watermark'.")],
    significance: Annotated[float, typer.Option(help="Level for the verdict.")] = 0.01,
) -> int:
    """Test a suspect model for the watermark; print the p-value and the verdict."""
    from trainguard.core.training import load_trained
    from trainguard.provenance.watermark import load_key, load_record, prove_ownership

    result = prove_ownership(
        load_trained(model), load_record(record), load_key(key), significance=significance
    )
    if state(ctx).json:
        emit_json(
            {
                "p_value": result.p_value,
                "identified": result.identified,
                "method": result.method,
                "effect": result.effect,
                **result.details,
            }
        )
    elif not state(ctx).quiet:
        console().print(
            f"p-value: {result.p_value:.4g}  ({result.method}, {result.n_queries} queries)"
        )
        console().print(result.verdict)
    return EXIT_OK if result.identified else EXIT_FAILED
