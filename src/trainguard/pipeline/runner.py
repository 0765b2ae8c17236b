"""Run a ``pipeline.yaml``: its stages in lifecycle order, stage reuse, gates, one run directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainguard.core.datasets import load_dataset
from trainguard.core.datasets.spec import BUILTIN, FOLDER_FORMATS
from trainguard.core.errors import ConfigError
from trainguard.core.findings import StageResult
from trainguard.core.run import RunDir
from trainguard.pipeline.cache import (
    StageCache,
    data_fingerprint,
    files_fingerprint,
    snapshot,
    stage_key,
)
from trainguard.pipeline.config import (
    LIFECYCLE,
    DataConfig,
    PipelineConfig,
    load_config,
    validate_stage_options,
)
from trainguard.pipeline.context import FEDERATED, POISONED, SIMULATION, PipelineContext
from trainguard.pipeline.gates import evaluate_gate
from trainguard.pipeline.simulation import plant_backdoor, simulation_stage
from trainguard.pipeline.stages import STAGES
from trainguard.pipeline.stages.train import federated_config


def _resolve_source(data: DataConfig, base: Path) -> DataConfig:
    src = data.source
    fmt, sep, rest = src.partition(":")
    if sep and fmt in FOLDER_FORMATS:
        p = Path(rest).expanduser()
        src = f"{fmt}:{p if p.is_absolute() else base / p}"
    elif src not in BUILTIN:
        p = Path(src).expanduser()
        src = str(p if p.is_absolute() else base / p)
    return data.model_copy(update={"source": src})


def _parse_stages(cfg: PipelineConfig, source: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for name in LIFECYCLE:
        if name not in cfg.stages:
            continue
        if name not in STAGES:
            raise ConfigError(
                f"{source}: stages.{name}: this stage is not available in this version"
            )
        parsed[name] = validate_stage_options(
            STAGES[name].options, cfg.stage_options(name), name, source
        )
    if not parsed:
        raise ConfigError(f"{source}: stages: name at least one of {', '.join(LIFECYCLE)}")
    return parsed


def _run_stage(
    ctx: PipelineContext, name: str, options: Any
) -> tuple[list[StageResult], list[str]]:
    before = snapshot(ctx.run.artifacts)
    t0 = time.perf_counter()
    results = STAGES[name].run(ctx, options)
    elapsed = time.perf_counter() - t0
    for r in results:
        if not r.duration_s:
            r.duration_s = elapsed / len(results)
        ctx.run.add_stage(r)
    written = [k for k, v in snapshot(ctx.run.artifacts).items() if before.get(k) != v]
    return results, written


def run_pipeline(
    path: str | Path,
    *,
    runs_root: str | Path | None = None,
    use_cache: bool = True,
    before_gates: Callable[[RunDir], None] | None = None,
) -> RunDir:
    """Run every stage the config names, then its gates; return the run directory.

    The whole config is validated before anything is written. A stage whose inputs
    (data, files its options name, options, everything upstream) are unchanged since
    a cached run is restored from the cache instead of recomputed. ``before_gates``
    may add stages of its own to the run (the demo's showcase) before the gates.
    """
    cfg_path = Path(path)
    cfg = load_config(cfg_path)
    base = cfg_path.resolve().parent
    parsed = _parse_stages(cfg, str(cfg_path))
    data_cfg = _resolve_source(cfg.data, base)
    dataset = load_dataset(data_cfg.model_dump(exclude={"test_fraction", "simulate_poisoning"}))
    train, test = dataset.split(data_cfg.test_fraction, seed=data_cfg.seed)
    extras: dict[str, Any] = {}
    if "train" in parsed and parsed["train"].mode == "federated":
        extras[FEDERATED] = federated_config(parsed["train"], data_cfg, str(cfg_path))
    sim = data_cfg.simulate_poisoning
    if sim is not None:
        train, planted = plant_backdoor(train, sim, str(cfg_path))
        extras |= {POISONED: planted.poisoned, SIMULATION: planted}
    root = Path(runs_root) if runs_root is not None else base / cfg.runs
    run = RunDir.create(cfg.name, root, config=cfg.model_dump(mode="json"))
    ctx = PipelineContext(run=run, train=train, test=test, base_dir=base, extras=extras)
    if sim is not None:
        run.add_stage(simulation_stage(extras[SIMULATION], sim))
    cache = StageCache(base / cfg.cache) if use_cache and cfg.cache else None
    fingerprint = data_fingerprint(train, test)
    previous = ""
    for name, options in parsed.items():
        inputs = STAGES[name].inputs
        files = files_fingerprint(inputs(ctx, options) if inputs else [])
        key = stage_key(previous, name, options.model_dump(mode="json"), fingerprint + files)
        restored = cache.restore(run, name, key) if cache else None
        if restored is not None:
            for r in restored:
                r.summary = f"{r.summary} (reused from cache)".strip()
                run.add_stage(r)
        else:
            results, written = _run_stage(ctx, name, options)
            if cache:
                cache.store(run, name, results, key, written)
        after = STAGES[name].after
        if after is not None:
            after(ctx)
        previous = key
    if before_gates is not None:
        before_gates(run)
    if cfg.gates:
        gates = StageResult(name="gates", title="Gates")
        gates.findings = [evaluate_gate(g, run.result, index=i) for i, g in enumerate(cfg.gates)]
        failed = [f for f in gates.findings if f.failed]
        gates.summary = f"{len(gates.findings) - len(failed)}/{len(gates.findings)} gates passed"
        run.add_stage(gates)
    return run


def pipeline_passed(run: RunDir) -> bool:
    """The run's verdict: its gates when the config has any, else every check."""
    for stage in run.result.stages:
        if stage.name == "gates":
            return stage.passed
    return run.result.passed
