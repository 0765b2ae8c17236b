"""Reading the guard's text files: packaged data, user lists, comment and blank lines skipped."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from trainguard.core.errors import DataError


def data_text(name: str) -> str:
    """The text of a file shipped in ``trainguard/guard/data/``."""
    return resources.files("trainguard.guard").joinpath("data", name).read_text("utf-8")


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path``; :class:`DataError` names the file and ``what`` it should be."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read {what} ({exc.__class__.__name__})") from None


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each line that is neither blank nor a ``#`` comment."""
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield n, line


def content_lines(text: str) -> list[str]:
    """The stripped lines that are neither blank nor ``#`` comments."""
    return [line.strip() for _, line in numbered_lines(text)]


def tsv_rows(text: str, source: str, fields: int, expected: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of a tab-separated file; a wrong field count is a :class:`DataError`."""
    for n, line in numbered_lines(text):
        parts = line.split("\t")
        if len(parts) != fields:
            raise DataError(f"{source}:{n}: expected {expected}")
        yield n, parts
