"""Vulnerability audit: which installed or pinned packages have known advisories.

Packages come from an environment (``importlib.metadata``: the running one, or the
``site-packages`` of another virtual environment) or from a requirements/lock file
(``requirements.txt`` / ``pip freeze`` pins, ``uv.lock``, ``poetry.lock``,
``pylock.toml``, ``Pipfile.lock``). Advisories come from local OSV files
(:func:`~trainguard.supplychain.osv.load_advisories`) or, when asked, from the OSV API
(``https://api.osv.dev``; off by default, no network in tests). Matches of ML
frameworks, and advisories about loading models (pickle, ``torch.load``, Keras
``load_model``, deserialisation), are marked and listed first.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from trainguard.core.errors import DataError
from trainguard.core.findings import Finding, Severity
from trainguard.supplychain.osv import Advisory, describe_ranges, is_affected, parse_advisory

OSV_API = "https://api.osv.dev/v1"
ML_PACKAGES = frozenset(
    canonicalize_name(n)
    for n in str.split(
        "torch torchvision torchaudio tensorflow tensorflow-cpu tensorflow-gpu keras tf-keras "
        "jax jaxlib transformers tokenizers safetensors huggingface-hub diffusers accelerate "
        "onnx onnxruntime scikit-learn joblib numpy scipy pandas pillow opencv-python mlflow "
        "gradio langchain langchain-core langchain-community llama-index ray paddlepaddle "
        "mindspore pytorch-lightning lightning xgboost lightgbm sentence-transformers nltk "
        "opacus flwr"
    )
)
_MODEL_LOADING = re.compile(
    r"torch\.load|pickle|unpickl|joblib\.load|load_model|deserializ|safetensors|"
    r"from_pretrained|checkpoint|model file|\.h5\b|saved_?model|marshal|yaml\.load|full_?load",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Package:
    """A distribution and its version (``None`` for an unpinned requirement)."""

    name: str
    version: str | None
    source: str


def installed_packages(site_dirs: Sequence[str | Path] | None = None) -> list[Package]:
    """Distributions installed in the running environment, or in ``site_dirs``."""
    dists = (
        metadata.distributions(path=[str(p) for p in site_dirs])
        if site_dirs
        else (metadata.distributions())
    )
    found: dict[str, Package] = {}
    for d in dists:
        name = d.metadata["Name"]
        if name:
            found.setdefault(
                canonicalize_name(name), Package(canonicalize_name(name), d.version, "installed")
            )
    return sorted(found.values(), key=lambda p: p.name)


def environment_site_packages(prefix: str | Path) -> list[Path]:
    """The ``site-packages`` folders of a virtual environment or Python prefix."""
    root = Path(prefix)
    dirs = sorted(root.glob("lib/python*/site-packages")) + sorted(root.glob("Lib/site-packages"))
    if not dirs:
        raise DataError(f"{root}: no lib/python*/site-packages inside (not an environment)")
    return dirs


def _requirement_lines(path: Path) -> list[Package]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith(("#", "-", "--")):
            continue
        try:
            req = Requirement(line.split(";", 1)[0] if "@" not in line else line)
        except InvalidRequirement:
            raise DataError(f"{path}: cannot parse requirement {line!r}") from None
        pins = [
            s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version
        ]
        version = pins[0] if len(pins) == 1 and len(req.specifier) == 1 else None
        out.append(Package(canonicalize_name(req.name), version, path.name))
    return out


def _lock_entries(path: Path) -> list[Package]:
    if path.suffix == ".lock" and path.name == "Pipfile.lock":
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [
            Package(canonicalize_name(n), str(v.get("version", "")).lstrip("=") or None, path.name)
            for section in ("default", "develop")
            for n, v in (doc.get(section) or {}).items()
        ]
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = doc.get("package") or doc.get("packages") or []
    return [Package(canonicalize_name(e["name"]), e.get("version"), path.name) for e in entries]


def requirements_packages(path: str | Path) -> list[Package]:
    """Packages pinned by a requirements or lock file (unpinned ones get ``version=None``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such requirements or lock file")
    try:
        if p.suffix in (".lock", ".toml"):
            return _lock_entries(p)
        return _requirement_lines(p)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{p}: unreadable lock file ({exc})") from None


def query_osv(packages: Iterable[Package], *, timeout: float = 30.0) -> list[Advisory]:
    """Fetch the advisories affecting ``packages`` from the OSV API (needs the network)."""
    pinned = [p for p in packages if p.version]
    queries = [
        {"package": {"name": p.name, "ecosystem": "PyPI"}, "version": p.version} for p in pinned
    ]
    ids: set[str] = set()
    for i in range(0, len(queries), 1000):
        body = _post(f"{OSV_API}/querybatch", {"queries": queries[i : i + 1000]}, timeout)
        for result in body.get("results", []):
            ids.update(v["id"] for v in result.get("vulns", []))
    return [parse_advisory(_get(f"{OSV_API}/vulns/{vid}", timeout), vid) for vid in sorted(ids)]


def _post(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return _fetch(req, timeout)


def _get(url: str, timeout: float) -> dict[str, Any]:
    return _fetch(urllib.request.Request(url), timeout)


def _fetch(req: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # a fixed https URL
            out = json.loads(resp.read())
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise DataError(f"OSV API {req.full_url}: {exc}") from None
    return out if isinstance(out, dict) else {}


@dataclass(frozen=True)
class VulnMatch:
    """An installed/pinned package version inside an advisory's affected ranges."""

    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    summary: str
    affected: str
    fixed: tuple[str, ...]
    severity: Severity
    cvss: float | None
    ml_package: bool
    model_loading: bool
    url: str | None


@dataclass
class AuditReport:
    """The audit of a package set against advisories; gate on :attr:`passed`."""

    packages: list[Package]
    matches: list[VulnMatch]
    advisories: int
    unpinned: list[str] = field(default_factory=list)
    fail_on: Severity = Severity.HIGH

    @property
    def max_severity(self) -> Severity:
        """Worst matched severity (``info`` when nothing matched)."""
        return max((m.severity for m in self.matches), key=lambda s: s.rank, default=Severity.INFO)

    @property
    def passed(self) -> bool:
        """True when no match reaches ``fail_on``."""
        return self.max_severity < self.fail_on

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        rows = [{**asdict(m), "severity": m.severity.value} for m in self.matches]
        return {
            "passed": self.passed,
            "packages": len(self.packages),
            "advisories": self.advisories,
            "unpinned": self.unpinned,
            "matches": rows,
        }

    def to_findings(self, stage: str) -> list[Finding]:
        """A summary finding (the gate) and one finding per vulnerable package version."""
        summary = Finding(
            stage=stage,
            check_id="vulnerable-packages",
            title="Installed packages against known advisories",
            severity=self.max_severity,
            passed=self.passed,
            metrics={
                "packages": float(len(self.packages)),
                "advisories": float(self.advisories),
                "matches": float(len(self.matches)),
                "ml_matches": float(sum(m.ml_package for m in self.matches)),
            },
            message=f"{len(self.matches)} advisory match(es) over {len(self.packages)} packages",
            table=[
                {
                    "package": f"{m.package} {m.version}",
                    "advisory": m.advisory,
                    "fixed": ", ".join(m.fixed),
                }
                for m in self.matches
            ],
        )
        return [summary] + [
            Finding(
                stage=stage,
                check_id="known-vulnerability",
                title=f"{m.package} {m.version}: {m.advisory}",
                severity=m.severity,
                passed=False if m.severity >= self.fail_on else None,
                metrics={"cvss": m.cvss},
                message=(
                    f"{', '.join(m.aliases)}; affected {m.affected}; fixed in "
                    f"{', '.join(m.fixed) or 'no release'}"
                    + ("; concerns model loading" if m.model_loading else "")
                ),
                location=m.url,
            )
            for m in self.matches
        ]


def audit(
    packages: Sequence[Package],
    advisories: Sequence[Advisory],
    *,
    fail_on: Severity = Severity.HIGH,
) -> AuditReport:
    """Match every pinned package against every advisory that names it."""
    by_package: dict[str, list[Advisory]] = {}
    for adv in advisories:
        for name in {a.package for a in adv.affected if a.ecosystem == "PyPI"}:
            by_package.setdefault(name, []).append(adv)
    matches = []
    for pkg in packages:
        name = canonicalize_name(pkg.name)
        if pkg.version is None:
            continue
        for adv in by_package.get(name, []):
            if not is_affected(adv, name, pkg.version):
                continue
            entry = adv.affected_entries(name)[0]
            ranges, fixed = describe_ranges(entry)
            severity, score = adv.severity()
            matches.append(
                VulnMatch(
                    package=name,
                    version=pkg.version,
                    advisory=adv.id,
                    aliases=adv.aliases,
                    summary=adv.summary or adv.details.split("\n")[0][:200],
                    affected=ranges,
                    fixed=fixed,
                    severity=severity,
                    cvss=score,
                    ml_package=pkg.name in ML_PACKAGES,
                    model_loading=bool(_MODEL_LOADING.search(f"{adv.summary} {adv.details}")),
                    url=adv.url,
                )
            )
    matches.sort(key=lambda m: (not m.model_loading, not m.ml_package, -m.severity.rank, m.package))
    unpinned = sorted(p.name for p in packages if p.version is None)
    return AuditReport(list(packages), matches, len(advisories), unpinned, fail_on)
