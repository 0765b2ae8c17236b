"""Walk a signed statement end to end and report every link of the chain.

For an artifact signature: the envelope's signature, then every file of the
artifact against its subject digest (added, removed and changed files are named).
For a training provenance statement: the signature, the model's digest, then every
resolved dependency: each data manifest (file digest, internal Merkle root, the
manifest's own signature when present, and the data re-hashed against it, item by
item), the config's digest and the code commit.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainguard.core.errors import DataError, IntegrityError
from trainguard.core.findings import Finding, Severity
from trainguard.provenance.attestation import (
    SIGNATURE_PREDICATE,
    SLSA_PROVENANCE,
    manifest_from_statement,
    open_statement,
)
from trainguard.provenance.hashing import hash_file
from trainguard.provenance.manifest import Manifest, verify_manifest
from trainguard.provenance.signing import PublicKey, load_envelope


@dataclass(frozen=True)
class Link:
    """One checked link: what, whether it held (None: could not be checked), details."""

    name: str
    passed: bool | None
    detail: str
    location: str | None = None


@dataclass
class ChainReport:
    """The result of walking a signed statement: its links in order."""

    source: str
    predicate_type: str = ""
    links: list[Link] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every link that could be checked held (and at least one did)."""
        return any(x.passed for x in self.links) and not any(x.passed is False for x in self.links)

    @property
    def failures(self) -> list[Link]:
        """The links that did not hold."""
        return [x for x in self.links if x.passed is False]

    def add(self, name: str, passed: bool | None, detail: str, location: str | None = None) -> None:
        """Record one link."""
        self.links.append(Link(name, passed, detail, location))

    def to_findings(self, stage: str) -> list[Finding]:
        """One finding for the chain, with a row per link."""
        first = self.failures[0] if self.failures else None
        return [
            Finding(
                stage=stage,
                check_id="attestation-chain",
                title=f"Signed chain of {Path(self.source).name} verifies end to end",
                severity=Severity.HIGH,
                passed=self.ok,
                metrics={
                    "links": float(len(self.links)),
                    "failed": float(len(self.failures)),
                },
                message=(f"{first.name}: {first.detail}" if first else "every link holds"),
                location=first.location if first else None,
                table=[
                    {"link": x.name, "passed": x.passed, "detail": x.detail} for x in self.links
                ],
            )
        ]


def _check_digest(report: ChainReport, name: str, path: Path, expected: str) -> None:
    if not path.is_file():
        report.add(name, False, f"{path} is missing", str(path))
        return
    actual = hash_file(path)
    if actual == expected:
        report.add(name, True, f"sha256 {actual[:16]}... matches")
    else:
        report.add(
            name, False, f"sha256 {actual[:16]}... differs from {expected[:16]}...", str(path)
        )


def _check_files(report: ChainReport, manifest: Manifest, path: Path, name: str) -> None:
    try:
        diff = verify_manifest(manifest, path)
    except (DataError, IntegrityError) as exc:
        report.add(name, False, str(exc), str(path))
        return
    if diff.ok:
        report.add(name, True, f"{len(manifest)} items match (root {manifest.root[:16]}...)")
    else:
        (finding,) = diff.to_findings("chain")
        report.add(name, False, finding.message, finding.location and f"{path}:{finding.location}")


def _manifest_link(report: ChainReport, dep: dict[str, Any], base: Path, key: PublicKey) -> None:
    ann = dep.get("annotations", {})
    mpath = base / str(dep.get("uri", ""))
    label = f"data {ann.get('dataset', dep.get('name'))}"
    _check_digest(report, f"{label}: manifest file", mpath, str(dep["digest"].get("sha256")))
    if report.links[-1].passed is not True:
        return
    manifest = Manifest.load(mpath)
    try:
        manifest.check_root()
        report.add(
            f"{label}: manifest root", manifest.root == ann.get("merkle_root"), manifest.root
        )
    except IntegrityError as exc:
        report.add(f"{label}: manifest root", False, str(exc), str(mpath))
        return
    if "signature" in ann:
        _signature_link(report, base / str(ann["signature"]), key, f"{label}: manifest signature")
    if "data" in ann:
        dpath = base / str(ann["data"])
        if dpath.exists():
            _check_files(report, manifest, dpath, f"{label}: items")
        else:
            report.add(f"{label}: items", None, f"{dpath} is not here; data not re-hashed")


def _code_link(report: ChainReport, dep: dict[str, Any]) -> None:
    uri = str(dep.get("uri", ""))
    commit = str(dep.get("digest", {}).get("gitCommit", ""))
    repo = uri.removeprefix("git+file://")
    try:
        found = (
            subprocess.run(
                ["git", "-C", repo, "cat-file", "-e", f"{commit}^{{commit}}"],
                capture_output=True,
                timeout=30,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        report.add("code", None, f"no git repository at {repo}; commit {commit[:12]} not checked")
        return
    dirty = (
        " (the working tree had uncommitted changes)"
        if dep.get("annotations", {}).get("dirty")
        else ""
    )
    report.add(
        "code", found, f"commit {commit[:12]} {'is' if found else 'is not'} in {repo}{dirty}"
    )


def _signature_link(
    report: ChainReport, sig: Path, key: PublicKey, name: str, base: Path | None = None
) -> dict[str, Any] | None:
    try:
        st = open_statement(load_envelope(sig), key)
    except (DataError, IntegrityError) as exc:
        report.add(name, False, str(exc), str(sig))
        return None
    report.add(name, True, f"signed statement of type {st['predicateType']}")
    if st["predicateType"] == SIGNATURE_PREDICATE:
        manifest = manifest_from_statement(st)
        folder = base if base is not None else sig.parent
        _check_files(report, manifest, folder / manifest.name, f"{name}: files")
    return st


def verify_chain(
    path: str | Path, public_key: PublicKey, *, base: str | Path | None = None
) -> ChainReport:
    """Verify a signed statement (signature or provenance) and everything it names.

    Parameters
    ----------
    path
        The signature or attestation file (a DSSE envelope).
    public_key
        The signer's Ed25519 public key.
    base
        Folder the statement's paths are relative to (default: the file's folder).
    """
    p = Path(path)
    root = Path(base) if base is not None else p.parent
    report = ChainReport(source=str(p))
    st = _signature_link(report, p, public_key, "signature", root)
    if st is None:
        return report
    report.predicate_type = st["predicateType"]
    if st["predicateType"] != SLSA_PROVENANCE:
        return report
    for s in st["subject"]:
        _check_digest(
            report, f"model {s['name']}", root / s["name"], str(s["digest"].get("sha256"))
        )
    deps = st["predicate"].get("buildDefinition", {}).get("resolvedDependencies", [])
    for dep in deps:
        kind = dep.get("annotations", {}).get("trainguard.kind")
        if kind == "data-manifest":
            _manifest_link(report, dep, root, public_key)
        elif kind == "config":
            _check_digest(
                report,
                f"config {dep.get('name')}",
                root / str(dep["uri"]),
                str(dep["digest"].get("sha256")),
            )
        elif kind == "code":
            _code_link(report, dep)
    return report
