"""Self-contained HTML report: inline CSS, plots embedded as data URIs."""

from __future__ import annotations

import base64
import math
import mimetypes
from pathlib import Path

import jinja2

from trainguard.core.findings import RunResult

_IMAGE_TYPES = {".png", ".svg", ".jpg", ".jpeg", ".gif"}


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if math.isnan(v):
            return "undefined"
        return f"{v:.4g}"
    return str(v)


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def render_html(result: RunResult, run_path: Path) -> str:
    """Render ``result`` as one HTML page; images in the evidence are embedded inline."""
    images: dict[str, list[tuple[str, str]]] = {}
    other: dict[str, list[str]] = {}
    for f in result.findings:
        key = f"{f.stage}/{f.check_id}"
        for ev in f.evidence:
            p = run_path / ev
            if p.suffix.lower() in _IMAGE_TYPES and p.is_file():
                images.setdefault(key, []).append((ev, _data_uri(p)))
            else:
                other.setdefault(key, []).append(ev)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trainguard.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template("report.html.j2")
    return template.render(
        run=result,
        stages=result.stages,
        failed=result.failed_findings,
        n_findings=len(result.findings),
        images=images,
        other_evidence=other,
        fmt=_fmt,
    )
