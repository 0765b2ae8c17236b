"""A CycloneDX SBOM of the training environment and its model artifacts.

Built with the ``cyclonedx-python-lib`` object model and serialised by its JSON writer
(CycloneDX 1.6), never by hand: every installed distribution is a ``library``
component with its ``pkg:pypi`` package URL; each model artifact is a
``machine-learning-model`` component (other files: ``file``) with its SHA-256 and the
formats the scanner detects in its bytes. Reference: OWASP CycloneDX 1.6 specification.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

from trainguard import __version__
from trainguard.core.atomic import atomic_write_text
from trainguard.core.errors import DataError, require
from trainguard.supplychain.crypto import sha256_file
from trainguard.supplychain.formats import HEAD_BYTES, detect
from trainguard.supplychain.vulns import Package

_MODEL_FORMATS = frozenset(
    [
        "pickle",
        "pickle0",
        "torch-legacy",
        "zip",
        "tar",
        "numpy",
        "safetensors",
        "hdf5",
        "onnx",
        "gzip",
        "bzip2",
        "xz",
        "zlib",
        "lz4",
    ]
)


def _artifact_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.is_symlink()))
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: no such artifact file or folder")
    return files


def _formats(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return detect(head, head)


def build_sbom(
    packages: Sequence[Package],
    artifacts: Iterable[str | Path] = (),
    *,
    name: str = "training-environment",
) -> str:
    """CycloneDX 1.6 JSON for ``packages`` plus the model ``artifacts`` (files or folders)."""
    require("cyclonedx", "supplychain")
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    root = Component(
        name=name,
        type=ComponentType.APPLICATION,
        bom_ref=name,
        properties=[Property(name="python", value=platform.python_version())],
    )
    bom = Bom()
    bom.metadata.component = root
    bom.metadata.properties.add(Property(name="generator", value=f"trainguard {__version__}"))
    deps = []
    for pkg in packages:
        purl = PackageURL(type="pypi", name=pkg.name, version=pkg.version)
        comp = Component(
            name=pkg.name,
            version=pkg.version,
            type=ComponentType.LIBRARY,
            purl=purl,
            bom_ref=purl.to_string(),
        )
        bom.components.add(comp)
        deps.append(comp)
    for f in _artifact_files(artifacts):
        kinds = _formats(f)
        model = bool(set(kinds) & _MODEL_FORMATS)
        comp = Component(
            name=f.name,
            type=ComponentType.MACHINE_LEARNING_MODEL if model else ComponentType.FILE,
            bom_ref=f"file:{f.resolve()}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256_file(f))],
            properties=[
                Property(name="path", value=str(f)),
                Property(name="size", value=str(f.stat().st_size)),
                Property(name="formats", value="+".join(kinds) or "unknown"),
            ],
        )
        bom.components.add(comp)
        deps.append(comp)
    bom.register_dependency(root, deps)
    return JsonV1Dot6(bom).output_as_string(indent=2)


def sbom_errors(text: str) -> list[str]:
    """Schema violations of a CycloneDX 1.6 JSON document (empty when valid)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return [] if error is None else [str(error)]


def write_sbom(
    path: str | Path,
    packages: Sequence[Package],
    artifacts: Iterable[str | Path] = (),
    *,
    name: str = "training-environment",
) -> Path:
    """Build, validate against the CycloneDX 1.6 schema, and write the SBOM atomically."""
    text = build_sbom(packages, artifacts, name=name)
    problems = sbom_errors(text)
    if problems:
        raise DataError(f"SBOM failed CycloneDX validation: {problems[0][:200]}")
    return atomic_write_text(path, text + "\n")
