"""Scan results: issues per file, the report over many files, and their findings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trainguard.core.findings import Finding, Severity

UNSCANNABLE = "unscannable"
"""Check id of 'could not be fully scanned' issues (limits, truncation, bad streams)."""

TITLES: dict[str, str] = {
    "unsafe-global": "Known-dangerous callable referenced by a pickle",
    "unknown-global": "Pickle global not on the allow-list",
    "extension-global": "Pickle global allowed by an opt-in extension",
    "computed-callable": "Pickle calls a value computed at load time (gadget chain)",
    "dynamic-import": "Pickle imports a name computed at load time",
    "global-mutation": "Pickle modifies an imported object",
    "opaque-value": "Pickle depends on loader state (extension registry, buffers)",
    UNSCANNABLE: "File could not be fully scanned",
    "trailing-data": "Data after the end of the pickle",
    "archive-mismatch": "Zip local and central headers disagree",
    "unknown-format": "Not a recognised model format (skipped)",
    "safetensors-header": "Invalid safetensors header",
    "numpy-header": "Invalid NumPy array header",
    "keras-lambda": "Keras Lambda layer with serialised Python code",
    "keras-custom-object": "Keras config loads an object from outside Keras",
    "onnx-external-data": "ONNX external data path escapes the model folder",
}


@dataclass(frozen=True)
class ScanIssue:
    """One problem in one file (or archive member): what, where and how bad."""

    check_id: str
    severity: Severity
    message: str
    location: str
    module: str | None = None
    name: str | None = None
    offset: int | None = None
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


class IssueCollector:
    """Collects issues, merging repeats of the same check on the same global."""

    def __init__(self) -> None:
        self._issues: dict[tuple[object, ...], ScanIssue] = {}

    def add(
        self,
        check_id: str,
        severity: Severity,
        message: str,
        *,
        location: str,
        module: str | None = None,
        name: str | None = None,
        offset: int | None = None,
    ) -> None:
        """Record an issue; a repeat (same check, place and global) only bumps its count."""
        key = (check_id, location, module, name, None if module else message)
        old = self._issues.get(key)
        if old is None:
            self._issues[key] = ScanIssue(
                check_id, severity, message, location, module, name, offset
            )
        else:
            self._issues[key] = ScanIssue(
                old.check_id,
                old.severity,
                old.message,
                old.location,
                old.module,
                old.name,
                old.offset,
                old.count + 1,
            )

    def absorb(self, issues: list[ScanIssue]) -> None:
        """Merge a second look at the same stream: repeats keep the larger count."""
        for i in issues:
            key = (i.check_id, i.location, i.module, i.name, None if i.module else i.message)
            old = self._issues.get(key)
            if old is None or old.count < i.count:
                self._issues[key] = i

    def extend(self, issues: list[ScanIssue]) -> None:
        """Add issues collected elsewhere (counts are kept)."""
        for i in issues:
            for _ in range(i.count):
                self.add(
                    i.check_id,
                    i.severity,
                    i.message,
                    location=i.location,
                    module=i.module,
                    name=i.name,
                    offset=i.offset,
                )

    @property
    def issues(self) -> list[ScanIssue]:
        """Issues in the order first seen."""
        return list(self._issues.values())


def max_severity(issues: list[ScanIssue]) -> Severity:
    """The worst severity among ``issues`` (``info`` when there are none)."""
    return max((i.severity for i in issues), key=lambda s: s.rank, default=Severity.INFO)


@dataclass
class FileReport:
    """The scan of one file: detected formats, issues, the globals it references."""

    path: str
    size: int
    formats: list[str]
    issues: list[ScanIssue]
    globals: list[str] = field(default_factory=list)
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def max_severity(self) -> Severity:
        """Worst issue severity (``info`` when clean)."""
        return max_severity(self.issues)

    @property
    def complete(self) -> bool:
        """False when some part could not be scanned."""
        return not any(i.check_id == UNSCANNABLE for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "path": self.path,
            "size": self.size,
            "formats": self.formats,
            "max_severity": self.max_severity.value,
            "complete": self.complete,
            "globals": self.globals,
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 6),
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass
class ScanReport:
    """The scan of one or more paths; gate on :attr:`max_severity` or :attr:`passed`.

    ``fail_on`` is the severity at which the report fails (default *high*).
    """

    files: list[FileReport]
    fail_on: Severity = Severity.HIGH

    @property
    def issues(self) -> list[ScanIssue]:
        """All issues of all files."""
        return [i for f in self.files for i in f.issues]

    @property
    def max_severity(self) -> Severity:
        """Worst issue severity over all files (``info`` when clean)."""
        return max_severity(self.issues)

    @property
    def passed(self) -> bool:
        """True when no issue reaches ``fail_on``."""
        return self.max_severity < self.fail_on

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "passed": self.passed,
            "fail_on": self.fail_on.value,
            "max_severity": self.max_severity.value,
            "files": [f.to_dict() for f in self.files],
        }

    def to_findings(self, stage: str) -> list[Finding]:
        """A summary finding (the gate) plus one finding per issue."""
        total = sum(f.size for f in self.files)
        seconds = sum(f.seconds for f in self.files)
        counts = {s.value: sum(i.severity == s for i in self.issues) for s in Severity}
        summary = Finding(
            stage=stage,
            check_id="model-file-scan",
            title="Model files scanned without unpickling",
            severity=self.max_severity,
            passed=self.passed,
            metrics={
                "files": float(len(self.files)),
                "megabytes": total / 1e6,
                "seconds": seconds,
                **{f"issues_{k}": float(v) for k, v in counts.items()},
            },
            message=(
                f"{len(self.files)} file(s), worst severity {self.max_severity.value}; "
                f"gate fails at {self.fail_on.value}"
            ),
            table=[
                {
                    "file": f.path,
                    "formats": "+".join(f.formats),
                    "worst": f.max_severity.value,
                    "issues": len(f.issues),
                    "complete": f.complete,
                }
                for f in self.files
            ],
        )
        return [summary] + [
            Finding(
                stage=stage,
                check_id=i.check_id,
                title=TITLES.get(i.check_id, i.check_id),
                severity=i.severity,
                passed=False if i.severity >= self.fail_on else None,
                message=i.message if i.count == 1 else f"{i.message} ({i.count} times)",
                location=i.location,
            )
            for i in self.issues
        ]
