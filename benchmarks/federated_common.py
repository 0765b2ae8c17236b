"""What the federated benchmarks share: one cached simulation run per config, and a progress line."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from trainguard.federated import FederatedResult, parse_config, run_simulation

CACHE = Path.home() / ".cache" / "trainguard" / "federated"


def run_folder(raw: dict[str, Any]) -> Path:
    """The cache folder of a config (its ``result.json`` and ``model.pt``)."""
    cfg = parse_config(raw)
    return CACHE / hashlib.sha1(cfg.model_dump_json().encode()).hexdigest()[:16]


def simulate(raw: dict[str, Any], *, fresh: bool = False) -> FederatedResult:
    """Run ``raw`` (a federated config dict) on Flower's simulation engine, cached by its content."""
    out = run_folder(raw)
    if (out / "result.json").exists() and not fresh:
        return FederatedResult.load(out)
    cfg = parse_config(raw)
    t0 = time.perf_counter()
    result = run_simulation(cfg, out)
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
