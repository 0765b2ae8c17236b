"""What the federated benchmarks share: one cached simulation run per config, and a progress line."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trainguard.federated import FederatedResult, parse_config, run_simulation

CACHE = Path.home() / ".cache" / "trainguard" / "federated"


def simulate(raw: dict[str, Any], *, fresh: bool = False) -> FederatedResult:
    """Run ``raw`` (a federated config dict) on Flower's simulation engine, cached by its content."""
    cfg = parse_config(raw)
    key = hashlib.sha1(cfg.model_dump_json().encode()).hexdigest()[:16]
    path = CACHE / f"{key}.json"
    if path.exists() and not fresh:
        return FederatedResult.model_validate_json(path.read_text())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_simulation(cfg, tmp)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json())
    sys.stderr.write(f"  {cfg.name}: {time.perf_counter() - t0:.0f} s\n")
    return result


def merged(base: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """``base`` with some sections updated (one level deep)."""
    out = json.loads(json.dumps(base))
    for key, value in sections.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def pts(x: float | None) -> str:
    """An AUC or rate in percentage points, or n/a."""
    return "n/a" if x is None else f"{100 * x:.1f}"
