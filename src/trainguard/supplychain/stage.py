"""The supply-chain stage of a run: scan, audit, SBOM and encryption of its artifacts."""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

from trainguard.core.errors import IntegrityError
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.supplychain.crypto import decrypt_file, encrypt_file, generate_key, load_key
from trainguard.supplychain.report import ScanReport
from trainguard.supplychain.scanner import scan_path
from trainguard.supplychain.vulns import installed_packages

_MODEL_SUFFIXES = (
    ".pt",
    ".pth",
    ".ckpt",
    ".bin",
    ".pkl",
    ".joblib",
    ".npy",
    ".npz",
    ".safetensors",
)


class _GetPid:
    """Pickles as ``os.getpid()``: the harmless payload of the scanner's self-test."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getpid, ())


def _bundled_models() -> list[Path]:
    """The pickled scikit-learn model shipped in ``alt-profanity-check``, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("profanity_check")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted((Path(next(iter(spec.submodule_search_locations))) / "data").glob("*.joblib"))


def _self_test(stage: str) -> Finding:
    """Scan a freshly crafted malicious checkpoint (never loaded) and check it is caught."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "planted.pt"
        path.write_bytes(pickle.dumps({"w": [0.0] * 8, "x": _GetPid()}, protocol=4))
        report = scan_path([path])
    caught = report.max_severity == Severity.CRITICAL
    return Finding(
        stage=stage,
        check_id="scanner-self-test",
        title="A planted os.getpid() payload is caught by the scanner",
        severity=Severity.INFO if caught else Severity.CRITICAL,
        passed=caught,
        message="; ".join(i.message for i in report.issues) or "nothing found",
    )


def _encryption(run: RunDir, stage: str, models: Sequence[Path]) -> Finding:
    """Encrypt each model, decrypt it back, and check that a flipped bit is rejected."""
    key_path = run.path / "secrets" / "artifact.key"
    if not key_path.exists():
        generate_key(key_path)
    key = load_key(key_path)
    round_trips, rejected = 0, 0
    for model in models:
        enc = model.with_name(model.name + ".tgenc")
        encrypt_file(model, enc, key, meta={"run": run.result.name})
        with tempfile.TemporaryDirectory() as tmp:
            back = Path(tmp) / model.name
            decrypt_file(enc, back, key)
            round_trips += back.read_bytes() == model.read_bytes()
            data = bytearray(enc.read_bytes())
            data[len(data) // 2] ^= 0x01
            (Path(tmp) / "tampered").write_bytes(bytes(data))
            try:
                decrypt_file(Path(tmp) / "tampered", Path(tmp) / "out", key)
            except IntegrityError:
                rejected += 1
    ok = round_trips == rejected == len(models)
    return Finding(
        stage=stage,
        check_id="artifact-encryption",
        title="Model artifacts encrypted (AES-256-GCM), round-tripped, tampering rejected",
        severity=Severity.INFO if ok else Severity.HIGH,
        passed=ok,
        metrics={"artifacts": float(len(models)), "round_trips": float(round_trips)},
        message=f"key in {run.relative(key_path)} (mode 0600); keep it apart from the artifacts",
        evidence=[run.relative(m.with_name(m.name + ".tgenc")) for m in models],
    )


def supply_chain_stage(
    run: RunDir,
    *,
    advisories: str | Path | None = None,
    allow: Sequence[str] = ("sklearn",),
    stage_name: str = "supplychain",
) -> StageResult:
    """Check the supply chain of ``run`` and add stage ``supplychain`` to it (a few seconds).

    * scans the model files in the run's artifacts and the scikit-learn model bundled
      with ``alt-profanity-check`` (with the ``allow`` extensions), never loading them;
    * a self-test: a crafted checkpoint with a harmless ``os.getpid`` payload is caught;
    * audits the installed packages against the OSV advisories in ``advisories``
      (skipped when ``None``);
    * writes ``artifacts/sbom.cdx.json`` (CycloneDX 1.6) listing the packages and the
      models with their SHA-256;
    * encrypts each model artifact, verifies the round trip and that tampering is caught.
    """
    with recorded_stage(
        run, stage_name, "Supply chain: scan, vulnerabilities, SBOM, encryption"
    ) as st:
        models = sorted(p for p in run.artifacts.rglob("*") if p.suffix in _MODEL_SUFFIXES)
        scan: ScanReport = scan_path([*models, *_bundled_models()], allow=allow)
        st.findings.extend(scan.to_findings(stage_name))
        st.findings.append(_self_test(stage_name))
        packages = installed_packages()
        if advisories is not None:
            from trainguard.supplychain.osv import load_advisories
            from trainguard.supplychain.vulns import audit

            st.findings.extend(
                audit(packages, load_advisories([advisories])).to_findings(stage_name)
            )
        from trainguard.supplychain.sbom import write_sbom

        sbom = write_sbom(
            run.artifact_path("sbom.cdx.json"), packages, models, name=run.result.name
        )
        st.findings.append(
            Finding(
                stage=stage_name,
                check_id="sbom",
                title="CycloneDX SBOM of the environment and the models",
                metrics={"packages": float(len(packages)), "models": float(len(models))},
                evidence=[run.relative(sbom)],
            )
        )
        if models:
            st.findings.append(_encryption(run, stage_name, models))
        st.summary = (
            f"{len(scan.files)} model file(s) scanned (worst {scan.max_severity.value}), "
            f"{len(packages)} packages in the SBOM"
        )
    return st
