"""Report writers for a run: HTML (with plots), JSON and SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from trainguard.core.atomic import atomic_write_text
from trainguard.core.run import RunDir
from trainguard.report.html import render_html
from trainguard.report.sarif import to_sarif

ReportFormat = Literal["html", "json", "sarif"]

_FILENAMES: dict[str, str] = {"html": "report.html", "json": "report.json", "sarif": "report.sarif"}


def render(run: RunDir, fmt: ReportFormat) -> str:
    """Return the report of ``run`` in format ``fmt`` as text."""
    if fmt == "html":
        return render_html(run.result, run.path)
    if fmt == "json":
        return run.result.model_dump_json(indent=2)
    if fmt == "sarif":
        return json.dumps(to_sarif(run.result), indent=2)
    raise ValueError(f"unknown report format {fmt!r}; expected html, json or sarif")


def write_report(run: RunDir, fmt: ReportFormat = "html", path: str | Path | None = None) -> Path:
    """Write the report of ``run`` atomically (default: inside the run folder)."""
    target = Path(path) if path is not None else run.path / _FILENAMES[fmt]
    return atomic_write_text(target, render(run, fmt))


__all__ = ["ReportFormat", "render", "render_html", "to_sarif", "write_report"]
