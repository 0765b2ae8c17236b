"""Stage reuse: a stage whose inputs hash the same as a cached run is restored, not recomputed.

A stage's key chains the previous stage's key, the data fingerprint, the stage's
options and the trainguard version, so any change upstream recomputes what follows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from trainguard import __version__
from trainguard.core.atomic import atomic_write_bytes
from trainguard.core.datasets import Dataset
from trainguard.core.findings import StageResult
from trainguard.core.run import RunDir

_STAGE_LIST = TypeAdapter(list[StageResult])


def data_fingerprint(*datasets: Dataset) -> str:
    """SHA-256 over the arrays, texts and sensitive columns of the data sets."""
    h = hashlib.sha256()
    for ds in datasets:
        h.update(np.ascontiguousarray(ds.X).tobytes())
        h.update(np.ascontiguousarray(ds.y).tobytes())
        for t in ds.texts or []:
            h.update(t.encode("utf-8") + b"\0")
        for k in sorted(ds.sensitive):
            h.update(k.encode() + b"=" + "\0".join(map(str, ds.sensitive[k])).encode("utf-8"))
    return h.hexdigest()


def files_fingerprint(paths: list[Path]) -> str:
    """SHA-256 over the names and contents of files and folders (recursively) a stage reads."""
    h = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            h.update(str(f).encode("utf-8") + b"\0")
            h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()


def stage_key(previous: str, stage: str, options: dict[str, Any], data: str) -> str:
    """The cache key of a stage given everything it depends on."""
    blob = json.dumps(
        {"prev": previous, "stage": stage, "options": options, "data": data, "v": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def snapshot(folder: Path) -> dict[str, float]:
    """Modification times of every file under ``folder`` (to see what a stage wrote)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}


class StageCache:
    """A folder of finished stages keyed by :func:`stage_key`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _dir(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key[:24]}"

    def restore(self, run: RunDir, stage: str, key: str) -> list[StageResult] | None:
        """Copy a cached stage's artifacts into ``run`` and return its results, if cached."""
        d = self._dir(stage, key)
        meta = d / "stages.json"
        if not meta.is_file():
            return None
        results = _STAGE_LIST.validate_json(meta.read_text(encoding="utf-8"))
        files = d / "artifacts"
        if files.is_dir():
            shutil.copytree(files, run.artifacts, dirs_exist_ok=True)
        return results

    def store(
        self, run: RunDir, stage: str, results: list[StageResult], key: str, written: list[str]
    ) -> None:
        """Save a finished stage and the artifacts it wrote (complete or not at all)."""
        d = self._dir(stage, key)
        tmp = d.with_name(d.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "artifacts").mkdir(parents=True)
        for rel in written:
            target = tmp / "artifacts" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run.artifacts / rel, target)
        atomic_write_bytes(tmp / "stages.json", _STAGE_LIST.dump_json(results, indent=2))
        shutil.rmtree(d, ignore_errors=True)
        tmp.rename(d)
