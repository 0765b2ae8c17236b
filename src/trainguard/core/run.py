"""Run directories: ``runs/<timestamp>-<name>/`` with findings, artifacts and reports.

Layout::

    runs/20261125T101500-demo/
      findings.json      the RunResult (stages and findings), rewritten atomically
      artifacts/         plots, models, manifests, recovered triggers
      report.html        written by trainguard.report
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from trainguard.core.atomic import atomic_write_bytes, atomic_write_text
from trainguard.core.errors import DataError
from trainguard.core.findings import RunResult, StageResult

FINDINGS_FILE = "findings.json"
ARTIFACTS_DIR = "artifacts"


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    return slug or "run"


class RunDir:
    """A run folder and the :class:`RunResult` it stores.

    Create one with :meth:`create` or reopen one with :meth:`open`. Every write goes
    through a temporary file and a rename, so an interrupted run never leaves a
    half-written file.
    """

    def __init__(self, path: Path, result: RunResult) -> None:
        self.path = path
        self.result = result

    @classmethod
    def create(
        cls, name: str, root: str | Path = "runs", *, config: dict[str, object] | None = None
    ) -> RunDir:
        """Make a new, empty run folder ``root/<UTC timestamp>-<name>``."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        base = Path(root) / f"{stamp}-{_slug(name)}"
        path = base
        n = 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        (path / ARTIFACTS_DIR).mkdir(parents=True)
        run = cls(path, RunResult(name=name, config=dict(config or {})))
        run.save()
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Load an existing run folder; raise :class:`DataError` if it is not one."""
        p = Path(path)
        f = p / FINDINGS_FILE
        if not f.is_file():
            raise DataError(f"{p}: not a trainguard run directory (no {FINDINGS_FILE})")
        try:
            result = RunResult.model_validate_json(f.read_text(encoding="utf-8"))
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise DataError(f"{f}: malformed findings file ({first})") from None
        return cls(p, result)

    @property
    def artifacts(self) -> Path:
        """The ``artifacts/`` folder of this run."""
        return self.path / ARTIFACTS_DIR

    def artifact_path(self, name: str) -> Path:
        """Absolute path for an artifact called ``name`` (sub-folders allowed)."""
        p = self.artifacts / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def relative(self, path: str | Path) -> str:
        """Path of ``path`` relative to the run folder, as stored in findings."""
        return Path(path).resolve().relative_to(self.path.resolve()).as_posix()

    def write_artifact(self, name: str, data: bytes | str) -> str:
        """Write an artifact atomically and return its run-relative path."""
        target = self.artifact_path(name)
        if isinstance(data, str):
            atomic_write_text(target, data)
        else:
            atomic_write_bytes(target, data)
        return self.relative(target)

    def add_stage(self, stage: StageResult) -> None:
        """Add (or replace, by name) a stage and save the findings file."""
        self.result.stages = [s for s in self.result.stages if s.name != stage.name] + [stage]
        self.save()

    def save(self) -> Path:
        """Write ``findings.json`` atomically."""
        return atomic_write_text(self.path / FINDINGS_FILE, self.result.model_dump_json(indent=2))
