"""The data audit's checks that call the capability packages.

Ethics: data-set bias by sensitive attribute (fairness) and toxic text (guard).
Safety: PII in text (guard), poisoned rows (backdoor), unsafe files shipped with the
data (supply-chain scanner). Authenticity: the data re-hashed against a signed
manifest (provenance).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity

STAGE = "data_audit"


def data_bias_findings(ds: Dataset) -> list[Finding]:
    """Representation and base rates per sensitive attribute (binary labels only)."""
    from trainguard.fairness import data_bias

    if ds.n_classes != 2:
        return []
    found: list[Finding] = []
    for attribute in sorted(ds.sensitive):
        bias = data_bias(ds.y, sensitive_features=ds.sensitive[attribute], pos_label=1)
        found += bias.to_findings(STAGE, attribute=attribute)
    return found


def text_safety_findings(
    ds: Dataset, *, max_toxic_fraction: float, max_pii_rows: int
) -> list[Finding]:
    """Toxic rows (keyword automaton + classifier) and rows holding PII, by the guard."""
    from trainguard.guard import Guard, Policy

    texts = ds.texts or []
    results = Guard(Policy(input=["toxicity", "pii"])).check_many(texts)
    flagged: dict[str, list[int]] = {"toxicity": [], "pii": []}
    labels: dict[int, set[str]] = {}
    for i, r in enumerate(results):
        for c in r.checks:
            if c.name in flagged and c.decision != "allow":
                flagged[c.name].append(i)
                labels.setdefault(i, set()).update(s.label for s in c.spans)
    n = max(len(texts), 1)
    toxic, pii = flagged["toxicity"], flagged["pii"]
    kinds = sorted({k for i in pii for k in labels.get(i, set())})
    return [
        Finding(
            stage=STAGE,
            check_id="toxic-text",
            title="Toxic content in the text field",
            severity=Severity.MEDIUM,
            passed=len(toxic) / n <= max_toxic_fraction,
            threshold=max_toxic_fraction,
            metrics={"toxic_rows": float(len(toxic)), "toxic_fraction": len(toxic) / n},
            message=f"{len(toxic)} of {len(texts)} rows flagged by the toxicity check",
            table=[{"row": i, "text": texts[i][:120]} for i in toxic[:20]],
        ),
        Finding(
            stage=STAGE,
            check_id="pii-text",
            title="Personal data (PII) in the text field",
            severity=Severity.HIGH,
            passed=len(pii) <= max_pii_rows,
            threshold=float(max_pii_rows),
            metrics={"pii_rows": float(len(pii)), "pii_fraction": len(pii) / n},
            message=f"{len(pii)} rows hold PII" + (f" ({', '.join(kinds)})" if kinds else ""),
            table=[{"row": i, "redacted": results[i].redacted[:120]} for i in pii[:20]],
        ),
    ]


def file_scan_findings(paths: list[Path]) -> list[Finding]:
    """Pickles and checkpoints shipped with the data, scanned without loading them."""
    from trainguard.supplychain import scan_path

    return scan_path(paths).to_findings(STAGE)


def manifest_findings(manifest: Path, data: Path | None, public_key: Path | None) -> list[Finding]:
    """The manifest's signature (with ``public_key``), then the data re-hashed against it."""
    from trainguard.provenance.artifacts import verify_artifact
    from trainguard.provenance.manifest import Manifest, verify_manifest

    found: list[Finding] = []
    if public_key is not None:
        chain = verify_artifact(manifest.with_name(manifest.name + ".sig"), public_key)
        found += chain.to_findings(STAGE)
        if not chain.ok:
            return found
    m = Manifest.load(manifest)
    found += verify_manifest(m, data if data is not None else m.data_beside(manifest)).to_findings(
        STAGE
    )
    return found


def dropped_rows_finding(dropped: np.ndarray, detectors: Sequence[str], n: int) -> Finding:
    """What the audit removed from the training split before training."""
    return Finding(
        stage=STAGE,
        check_id="poison-dropped",
        title="Flagged rows removed before training",
        severity=Severity.INFO,
        metrics={"dropped_rows": float(dropped.size), "kept_rows": float(n - dropped.size)},
        message=f"{dropped.size} rows flagged by {' and '.join(detectors)} removed",
    )
