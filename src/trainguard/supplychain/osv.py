"""OSV advisories: parsing, version-range matching and CVSS v3 severity.

The matching is the evaluation algorithm of the OSV schema (``IsVulnerable``,
https://ossf.github.io/osv-schema/#evaluation): a version is affected when it is in
the advisory's enumerated ``versions`` or inside an ``ECOSYSTEM``/``SEMVER`` range,
walking the range's events in version order (``introduced`` opens it, ``fixed`` and
past-``last_affected`` close it, ``limit`` events bound it). Versions compare as PEP
440 versions (``packaging``), so ``2.3.0rc0 < 2.3.0``; package names compare in their
PEP 503 normal form. ``GIT`` ranges (commit hashes) cannot be evaluated for installed
packages and are ignored, as OSV tools do.

Severity comes from a CVSS v3.x vector (base score per the FIRST CVSS v3.1
specification, section 7.1, with its ``Roundup``), else from the database's own
rating (GHSA ``database_specific.severity``), else it is *high* ("not rated").
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trainguard.core.errors import DataError
from trainguard.core.findings import Severity

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: 9x faster
_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR = {"N": (0.85, 0.85), "L": (0.62, 0.68), "H": (0.27, 0.5)}  # (unchanged, changed scope)
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_DB_SEVERITY = {
    "LOW": Severity.LOW,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}


def _roundup(x: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= x, robust to float error."""
    i = round(x * 100_000)
    return i / 100_000 if i % 10_000 == 0 else (math.floor(i / 10_000) + 1) / 10


def cvss3_base_score(vector: str) -> float:
    """Base score of a CVSS v3.0/v3.1 vector such as ``CVSS:3.1/AV:N/AC:L/...``.

    Reference: FIRST, *Common Vulnerability Scoring System v3.1: Specification
    Document*, section 7.1 (base metrics equations).
    """
    parts = vector.strip().split("/")
    if not parts[0].startswith("CVSS:3"):
        raise ValueError(f"not a CVSS v3 vector: {vector!r}")
    m = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        changed = m["S"] == "C"
        iss = 1 - (1 - _CIA[m["C"]]) * (1 - _CIA[m["I"]]) * (1 - _CIA[m["A"]])
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
        pr = _PR[m["PR"]][1 if changed else 0]
        exploitability = 8.22 * _AV[m["AV"]] * _AC[m["AC"]] * pr * _UI[m["UI"]]
    except KeyError as exc:
        raise ValueError(f"CVSS vector {vector!r} lacks or misspells metric {exc}") from None
    if impact <= 0:
        return 0.0
    total = (1.08 if changed else 1.0) * (impact + exploitability)
    return _roundup(min(total, 10.0))


def severity_from_score(score: float) -> Severity:
    """CVSS v3 qualitative rating: 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9+ critical."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


@dataclass(frozen=True)
class Affected:
    """One affected package of an advisory: its ranges (event lists) and versions."""

    package: str
    ecosystem: str
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    versions: tuple[str, ...]
    vectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Advisory:
    """An OSV vulnerability record, reduced to what matching and reporting need."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    details: str
    affected: tuple[Affected, ...]
    vectors: tuple[str, ...]
    database_severity: str | None
    withdrawn: bool
    url: str | None

    def affected_entries(self, package: str) -> list[Affected]:
        """The entries for PyPI ``package`` (any spelling of its name)."""
        name = canonicalize_name(package)
        return [a for a in self.affected if a.package == name and a.ecosystem == "PyPI"]

    def severity(self) -> tuple[Severity, float | None]:
        """(severity, CVSS base score or ``None``) of this advisory."""
        vectors = list(self.vectors) + [v for a in self.affected for v in a.vectors]
        scores = []
        for v in vectors:
            try:
                scores.append(cvss3_base_score(v))
            except ValueError:
                continue
        if scores:
            return severity_from_score(max(scores)), max(scores)
        if self.database_severity in _DB_SEVERITY:
            return _DB_SEVERITY[self.database_severity], None
        return Severity.HIGH, None


def _vectors(items: object) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        str(s.get("score"))
        for s in items
        if isinstance(s, dict) and str(s.get("type", "")).startswith("CVSS_V3")
    )


def parse_advisory(doc: dict[str, Any], origin: str = "") -> Advisory:
    """Build an :class:`Advisory` from an OSV document; :class:`DataError` if malformed."""
    try:
        affected = []
        for a in doc.get("affected") or []:
            pkg = a.get("package") or {}
            ranges = tuple(
                tuple((k, str(v)) for e in r.get("events", []) for k, v in e.items())
                for r in a.get("ranges") or []
                if r.get("type") in ("ECOSYSTEM", "SEMVER")
            )
            affected.append(
                Affected(
                    package=canonicalize_name(str(pkg.get("name", ""))),
                    ecosystem=str(pkg.get("ecosystem", "")),
                    ranges=ranges,
                    versions=tuple(str(v) for v in a.get("versions") or []),
                    vectors=_vectors(a.get("severity")),
                )
            )
        refs = [r.get("url") for r in doc.get("references") or [] if r.get("type") == "ADVISORY"]
        db = doc.get("database_specific") or {}
        return Advisory(
            id=str(doc["id"]),
            aliases=tuple(str(x) for x in doc.get("aliases") or []),
            summary=str(doc.get("summary") or "").strip(),
            details=str(doc.get("details") or "").strip(),
            affected=tuple(affected),
            vectors=_vectors(doc.get("severity")),
            database_severity=str(db.get("severity")).upper() if db.get("severity") else None,
            withdrawn=bool(doc.get("withdrawn")),
            url=refs[0] if refs else None,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{origin or 'advisory'}: not an OSV record ({exc})") from None


def _documents(path: Path) -> Iterator[tuple[str, Any]]:
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.suffix in (".yaml", ".yml", ".json") and f.is_file():
                yield str(f), f.read_text(encoding="utf-8")
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                if name.endswith((".json", ".yaml", ".yml")):
                    yield f"{path}!{name}", zf.read(name).decode("utf-8")
    elif path.is_file():
        yield str(path), path.read_text(encoding="utf-8")
    else:
        raise DataError(f"{path}: no such advisory file or folder")


def load_advisories(paths: Iterable[str | Path]) -> list[Advisory]:
    """Read OSV advisories (YAML or JSON) from folders, files or an OSV ``all.zip``.

    Withdrawn advisories are dropped.
    """
    out = []
    for p in paths:
        for origin, text in _documents(Path(p)):
            try:
                doc = json.loads(text) if origin.endswith(".json") else yaml.load(text, _LOADER)
            except (ValueError, yaml.YAMLError) as exc:
                raise DataError(f"{origin}: unreadable advisory ({exc})") from None
            if not isinstance(doc, dict):
                raise DataError(f"{origin}: not an OSV record (expected a mapping)")
            adv = parse_advisory(doc, origin)
            if not adv.withdrawn:
                out.append(adv)
    return out


@lru_cache(maxsize=1 << 16)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _before_limits(v: Version, events: tuple[tuple[str, str], ...]) -> bool:
    limits = [text for kind, text in events if kind == "limit"]
    if not limits:  # an implicit limit of "*"
        return True
    return any("*" in text or ((b := _version(text)) is not None and v < b) for text in limits)


def _in_range(v: Version, events: tuple[tuple[str, str], ...]) -> bool:
    if not _before_limits(v, events):
        return False
    keyed = []
    for kind, text in events:
        if kind == "limit":
            continue
        bound = Version("0") if (kind == "introduced" and text == "0") else _version(text)
        if bound is None:
            continue
        keyed.append((bound, kind))
    vulnerable = False
    for bound, kind in sorted(keyed, key=lambda e: e[0]):
        if kind == "introduced" and v >= bound:
            vulnerable = True
        elif (kind == "fixed" and v >= bound) or (kind == "last_affected" and v > bound):
            vulnerable = False
    return vulnerable


def is_affected(advisory: Advisory, package: str, version: str) -> bool:
    """OSV ``IsVulnerable`` for PyPI ``package`` at ``version``."""
    v = _version(version)
    for a in advisory.affected_entries(package):
        if v is None:
            if version in a.versions:
                return True
            continue
        if any(_version(x) == v for x in a.versions):
            return True
        if any(_in_range(v, events) for events in a.ranges):
            return True
    return False


def describe_ranges(entry: Affected) -> tuple[str, tuple[str, ...]]:
    """(human-readable affected ranges, fixed versions) of one affected entry."""
    spans, fixed = [], []
    for events in entry.ranges:
        start: str | None = None
        for kind, text in events:
            if kind == "introduced":
                start = text
            elif kind in ("fixed", "last_affected") and start is not None:
                low = "" if start == "0" else f">={start},"
                spans.append(f"{low}{'<' if kind == 'fixed' else '<='}{text}")
                if kind == "fixed":
                    fixed.append(text)
                start = None
        if start is not None:
            spans.append("all versions" if start == "0" else f">={start}")
    return " | ".join(spans) or "listed versions", tuple(dict.fromkeys(fixed))
