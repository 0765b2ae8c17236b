"""in-toto Statements: signatures of artifacts and SLSA provenance of training runs.

Every statement is an in-toto Statement v1 (``_type``, ``subject``, ``predicateType``,
``predicate``) carried in a DSSE envelope of type ``application/vnd.in-toto+json``.

* An *artifact signature* (predicate ``https://trainguard.dev/signature/v1``) names
  every file of a model file or folder as a subject with its SHA-256, and the Merkle
  root of them all, so a changed, added or removed file is found and named.
* A *training provenance* statement (predicate ``https://slsa.dev/provenance/v1``)
  names the trained model as its subject; its ``buildDefinition`` lists, as
  ``resolvedDependencies``, the data manifests (digest of the manifest file and its
  Merkle root), the training config and the code version (git commit), so a verifier
  can walk from the model back to every record it was trained on
  (:mod:`trainguard.provenance.chain`).

References: in-toto Attestation Framework, Statement v1
(in-toto/attestation ``spec/v1/statement.md``, ``resource_descriptor.md``);
SLSA v1.0 Build Provenance (slsa.dev/spec/v1.0/provenance).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainguard import __version__
from trainguard.core.errors import DataError, IntegrityError
from trainguard.provenance.hashing import hash_file
from trainguard.provenance.manifest import Entry, Manifest, build_manifest
from trainguard.provenance.signing import PrivateKey, PublicKey, sign_envelope, verify_envelope

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
SIGNATURE_PREDICATE = "https://trainguard.dev/signature/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://trainguard.dev/training/v1"
BUILDER_ID = "https://trainguard.dev/builder/local"


def make_statement(
    subjects: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 as a dict."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_statement(statement: dict[str, Any], private_key: PrivateKey) -> dict[str, Any]:
    """The statement as canonical JSON in a signed DSSE envelope."""
    body = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sign_envelope(body.encode("utf-8"), PAYLOAD_TYPE, private_key)


def open_statement(envelope: dict[str, Any], public_key: PublicKey) -> dict[str, Any]:
    """Verify the envelope's signature, then parse and check the statement's shape.

    Raises
    ------
    IntegrityError
        On a bad signature, a payload type other than in-toto, or a statement that is
        not an in-toto Statement v1 with digested subjects.
    """
    payload = verify_envelope(envelope, public_key)
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise IntegrityError(
            f"envelope payload type is {envelope.get('payloadType')!r}, not in-toto"
        )
    try:
        st = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"signed payload is not JSON ({exc.msg})") from None
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise IntegrityError("signed payload is not an in-toto Statement v1")
    subjects = st.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise IntegrityError("statement has no subjects")
    for s in subjects:
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict) or not s["digest"]:
            raise IntegrityError("every statement subject needs a digest")
    if not isinstance(st.get("predicateType"), str) or not isinstance(st.get("predicate"), dict):
        raise IntegrityError("statement has no predicateType or predicate")
    return st


def _subjects(manifest: Manifest, artifact: str) -> list[dict[str, Any]]:
    folder = manifest.format == "folder"
    return [
        {"name": f"{artifact}/{e.key}" if folder else artifact, "digest": {"sha256": e.sha256}}
        for e in manifest.entries
    ]


def artifact_statement(path: str | Path, *, workers: int | None = None) -> dict[str, Any]:
    """A signature statement naming every file of ``path`` (a file or folder)."""
    p = Path(path)
    manifest = build_manifest(p, records=False, workers=workers)
    predicate = {
        "artifact": p.name,
        "kind": manifest.format,
        "files": len(manifest),
        "merkle_root": manifest.root,
        "signedOn": datetime.now(timezone.utc).isoformat(),
        "tool": f"trainguard {__version__}",
    }
    return make_statement(_subjects(manifest, p.name), SIGNATURE_PREDICATE, predicate)


def manifest_from_statement(st: dict[str, Any]) -> Manifest:
    """The file manifest that a signature statement commits to."""
    pred = st["predicate"]
    try:
        artifact, kind, root = str(pred["artifact"]), str(pred["kind"]), str(pred["merkle_root"])
    except KeyError as exc:
        raise IntegrityError(f"signature statement lacks predicate field {exc}") from None
    prefix = f"{artifact}/"
    entries = []
    for s in st["subject"]:
        name = str(s.get("name", ""))
        key = name[len(prefix) :] if kind == "folder" and name.startswith(prefix) else name
        entries.append(Entry(key, str(s["digest"].get("sha256", "")), 0))
    return Manifest(kind="files", name=artifact, entries=entries, root=root, format=kind)


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def git_commit(path: str | Path) -> tuple[str, bool] | None:
    """``(HEAD commit, working tree dirty)`` of the git repository holding ``path``, or None."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head, bool(status.strip())


def _manifest_dependency(manifest_path: Path, data_path: Path | None, base: Path) -> dict[str, Any]:
    manifest = Manifest.load(manifest_path)
    manifest.check_root()
    annotations: dict[str, Any] = {
        "trainguard.kind": "data-manifest",
        "dataset": manifest.name,
        "merkle_root": manifest.root,
        "items": len(manifest),
    }
    if data_path is not None:
        annotations["data"] = _relative(data_path, base)
    sig = manifest_path.with_name(manifest_path.name + ".sig")
    if sig.is_file():
        annotations["signature"] = _relative(sig, base)
    return {
        "name": manifest_path.name,
        "uri": _relative(manifest_path, base),
        "digest": {"sha256": hash_file(manifest_path)},
        "annotations": annotations,
    }


def training_provenance(
    model: str | Path,
    *,
    base: str | Path,
    data: list[tuple[str | Path, str | Path | None]],
    config: str | Path | None = None,
    code: str | Path | None = None,
    parameters: dict[str, Any] | None = None,
    started: datetime | None = None,
    finished: datetime | None = None,
) -> dict[str, Any]:
    """The SLSA v1 provenance statement of one training run.

    Parameters
    ----------
    model
        The trained model file or folder: the statement's subject.
    base
        Folder the recorded paths are relative to (where the attestation is stored).
    data
        ``(manifest file, data path or None)`` for every data set used; the data path
        lets a verifier re-hash the data against the manifest.
    config
        The training config file (its digest is recorded).
    code
        A folder inside the git repository of the training code (commit recorded).
    parameters
        The run's external parameters (epochs, learning rate, ...), recorded as given.
    started, finished
        Start and end of the run (default: now).
    """
    base_p = Path(base)
    model_p = Path(model)
    if not model_p.exists():
        raise DataError(f"{model_p}: no such model file or folder")
    mf = build_manifest(model_p, records=False)
    subjects = _subjects(mf, _relative(model_p, base_p))
    deps = [
        _manifest_dependency(Path(m), Path(d) if d is not None else None, base_p) for m, d in data
    ]
    if config is not None:
        c = Path(config)
        deps.append(
            {
                "name": c.name,
                "uri": _relative(c, base_p),
                "digest": {"sha256": hash_file(c)},
                "annotations": {"trainguard.kind": "config"},
            }
        )
    if code is not None:
        commit = git_commit(code)
        if commit is None:
            raise DataError(f"{code}: not inside a git repository; cannot record the code version")
        deps.append(
            {
                "name": "code",
                "uri": f"git+file://{Path(code).resolve().as_posix()}",
                "digest": {"gitCommit": commit[0]},
                "annotations": {"trainguard.kind": "code", "dirty": commit[1]},
            }
        )
    now = datetime.now(timezone.utc)
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "parameters": dict(parameters or {}),
                "data": [
                    d["name"]
                    for d in deps
                    if d["annotations"]["trainguard.kind"] == "data-manifest"
                ],
            },
            "internalParameters": {
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"trainguard": __version__}},
            "metadata": {
                "invocationId": str(uuid.uuid4()),
                "startedOn": (started or now).isoformat(),
                "finishedOn": (finished or now).isoformat(),
            },
        },
    }
    return make_statement(subjects, SLSA_PROVENANCE, predicate)
