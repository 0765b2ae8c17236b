"""Helpers to build a :class:`StageResult` with its timing (capability packages and the pipeline)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from trainguard.core.findings import StageResult
from trainguard.core.run import RunDir


@contextlib.contextmanager
def recorded_stage(run: RunDir, name: str, title: str) -> Iterator[StageResult]:
    """Yield an empty stage; on exit, set its duration and add it to ``run`` (saved)."""
    stage = StageResult(name=name, title=title)
    t0 = time.perf_counter()
    yield stage
    stage.duration_s = time.perf_counter() - t0
    run.add_stage(stage)
