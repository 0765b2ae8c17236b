"""Gates: thresholds from the config checked against the run's findings, reported last."""

from __future__ import annotations

import fnmatch

from trainguard.core.findings import Finding, RunResult, Severity
from trainguard.pipeline.config import Gate


def _describe(g: Gate) -> str:
    parts = []
    if g.metric is not None:
        if g.min is not None:
            parts.append(f"{g.metric} >= {g.min:g}")
        if g.max is not None:
            parts.append(f"{g.metric} <= {g.max:g}")
    if g.max_severity is not None:
        parts.append(f"severity <= {g.max_severity.value}")
    return f"{g.finding}: " + " and ".join(parts)


def evaluate_gate(g: Gate, result: RunResult, *, index: int) -> Finding:
    """Check one gate against every finding that matches its ``stage/check_id`` pattern."""
    matched = [
        f for f in result.findings if fnmatch.fnmatchcase(f"{f.stage}/{f.check_id}", g.finding)
    ]
    title = _describe(g)
    problems: list[str] = []
    metrics: dict[str, float | None] = {}
    if not matched:
        problems.append("no finding matches (did the stage run?)")
    for f in matched:
        name = f"{f.stage}/{f.check_id}"
        if g.metric is not None:
            value = f.metrics.get(g.metric)
            metrics[f"{name}:{g.metric}"] = value
            if value is None:
                problems.append(f"{name} has no metric {g.metric!r}")
            elif g.min is not None and value < g.min:
                problems.append(f"{name} {g.metric}={value:.4g} is below {g.min:g}")
            elif g.max is not None and value > g.max:
                problems.append(f"{name} {g.metric}={value:.4g} is above {g.max:g}")
        if g.max_severity is not None and f.failed and f.severity > g.max_severity:
            problems.append(f"{name} failed at severity {f.severity.value}")
    threshold = g.min if g.min is not None else g.max
    return Finding(
        stage="gates",
        check_id=f"gate-{index + 1}",
        title=title,
        severity=Severity.HIGH,
        passed=not problems,
        threshold=threshold,
        metrics=metrics,
        message="; ".join(problems) if problems else "ok",
    )
