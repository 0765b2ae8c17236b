"""SARIF 2.1.0 output: one result per failed finding, for code-scanning tools.

Reference: OASIS Static Analysis Results Interchange Format (SARIF) 2.1.0.
"""

from __future__ import annotations

from typing import Any

from trainguard import __version__
from trainguard.core.findings import Finding, RunResult, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule_id(f: Finding) -> str:
    return f"{f.stage}/{f.check_id}"


def _message(f: Finding) -> str:
    parts = [f.title]
    if f.message:
        parts.append(f.message)
    if f.metrics:
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in f.metrics.items()
        )
        parts.append(f"[{shown}]")
    if f.threshold is not None:
        parts.append(f"(threshold {f.threshold:g})")
    return " ".join(parts)


def to_sarif(result: RunResult, *, default_location: str = "trainguard.yaml") -> dict[str, Any]:
    """Return a SARIF 2.1.0 log (as a dict) with one result per failed finding."""
    failed = result.failed_findings
    rules: dict[str, dict[str, Any]] = {}
    for f in failed:
        rid = _rule_id(f)
        rules.setdefault(
            rid,
            {
                "id": rid,
                "name": f.check_id,
                "shortDescription": {"text": f.title},
                "defaultConfiguration": {"level": _LEVEL[f.severity]},
                "properties": {
                    "security-severity": _SCORE[f.severity],
                    "tags": ["security", f.stage],
                },
            },
        )
    rule_index = {rid: i for i, rid in enumerate(rules)}
    results = [
        {
            "ruleId": _rule_id(f),
            "ruleIndex": rule_index[_rule_id(f)],
            "level": _LEVEL[f.severity],
            "message": {"text": _message(f)},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": f.location or default_location}}}
            ],
            "properties": {"severity": f.severity.value, "metrics": f.metrics},
        }
        for f in failed
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "trainguard",
                        "version": __version__,
                        "informationUri": "https://github.com/trainguard/trainguard",
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"id": f"trainguard/{result.name}"},
                "results": results,
            }
        ],
    }
