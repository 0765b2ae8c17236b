"""Progress bars for long work, shown on an interactive terminal unless switched off.

Library code calls :func:`progress_bar`; the command line's ``--quiet`` calls
:func:`set_progress_enabled` with ``False``. Nothing is printed when stderr is not a
terminal (tests, CI logs) unless progress is switched on explicitly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_enabled: bool | None = None


def set_progress_enabled(enabled: bool | None) -> None:
    """Force progress bars on (True) or off (False); None restores the terminal check."""
    global _enabled
    _enabled = enabled


def progress_enabled() -> bool:
    """Whether progress bars are shown now."""
    return sys.stderr.isatty() if _enabled is None else _enabled


class _Bar:
    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int = 1, **fields: object) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=n, **fields)  # type: ignore[arg-type]

    def describe(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[_Bar]:
    """A rich progress bar (or a silent stand-in) with ``advance`` and ``describe``."""
    if not progress_enabled():
        yield _Bar(None, None)
        return
    from rich.console import Console

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield _Bar(progress, task)
