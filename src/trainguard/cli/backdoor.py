"""``trainguard backdoor``: poison a data set (red team), scan a model or training set, repair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from trainguard.cli.common import finish_run, say
from trainguard.core.datasets import Dataset, DatasetSpec, load_dataset
from trainguard.core.errors import DataError, ModelError
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel, load_trained
from trainguard.core.validation import check_choice

app = typer.Typer(
    name="backdoor",
    help="Backdoors: poison a data set (red team), scan a model or training set, repair a model.",
    no_args_is_help=True,
)

Runs = Annotated[Path, typer.Option(help="Folder that receives the run directory.")]
Seed = Annotated[int, typer.Option(help="Seed of every random choice.")]


def _images(spec: str, limit: int | None, seed: int) -> Dataset:
    ds = load_dataset(DatasetSpec(source=spec, limit=limit, seed=seed))
    if ds.kind != "image":
        raise DataError(f"{spec}: backdoor triggers and model scans need image data, got {ds.kind}")
    return ds


def _x(ds: Dataset) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(ds.X, dtype=np.float32))


def _load(model: Path, ds: Dataset) -> TrainedModel:
    tm = load_trained(model)
    try:
        with torch.no_grad():
            tm.model(_x(ds.head(2)))
    except RuntimeError as exc:
        raise ModelError(
            f"{model}: does not accept inputs of shape {ds.input_shape} ({str(exc).splitlines()[0]})"
        ) from None
    return tm


def _triggered(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Triggered inputs and their attack labels from an .npz (``X``, ``y``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as z:
            x, y = np.asarray(z["X"], np.float32), np.asarray(z["y"], np.int64)
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{p}: expected arrays 'X' and 'y' ({exc})") from None
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or y.shape != (len(x),):
        raise DataError(f"{p}: expected images X (n, c, h, w) and one label per image in y")
    return torch.from_numpy(x), torch.from_numpy(y)


def _ground_truth(spec: str, n: int) -> np.ndarray | None:
    """The ``poisoned`` mask that ``trainguard backdoor poison`` stores beside X and y."""
    p = Path(spec)
    if p.suffix.lower() != ".npz" or not p.is_file():
        return None
    with np.load(p, allow_pickle=False) as z:
        if "poisoned" not in z.files or len(z["poisoned"]) != n:
            return None
        return np.asarray(z["poisoned"], dtype=bool)


@app.command("poison")
def poison_command(
    ctx: typer.Context,
    data: Annotated[str, typer.Option(help="Image data set: digits, mnist:DIR or an .npz.")],
    out: Annotated[Path, typer.Option(help="Poisoned training set (.npz) to write.")],
    attack: Annotated[str, typer.Option(help="badnets, blended or sig.")] = "badnets",
    target: Annotated[int, typer.Option(help="Target label (all-to-one).")] = 0,
    rate: Annotated[float, typer.Option(help="Fraction of rows poisoned.")] = 0.1,
    mode: Annotated[str, typer.Option(help="all-to-one or all-to-all.")] = "all-to-one",
    size: Annotated[int, typer.Option(help="BadNets patch side in pixels.")] = 3,
    random_position: Annotated[
        bool, typer.Option(help="BadNets: patch at a random place, not the bottom-right corner.")
    ] = False,
    alpha: Annotated[float, typer.Option(help="Blended: blend ratio.")] = 0.2,
    delta: Annotated[float, typer.Option(help="SIG: signal amplitude in [0, 1].")] = 20 / 255,
    triggered_out: Annotated[
        Path | None, typer.Option(help="Also write triggered copies with attack labels (.npz).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Use at most this many rows.")] = None,
    seed: Seed = 0,
) -> int:
    """Write a poisoned copy of an image data set (and its triggered test inputs)."""
    from trainguard.backdoor.poison import backdoor_test_set, poison_dataset
    from trainguard.backdoor.triggers import IMAGE_TRIGGERS, image_trigger
    from trainguard.core.atomic import atomic_open

    check_choice(attack, "attack", "backdoor poison", IMAGE_TRIGGERS)
    check_choice(mode, "mode", "backdoor poison", ("all-to-one", "all-to-all"))
    ds = _images(data, limit, seed)
    trig = image_trigger(
        attack,
        ds.input_shape,
        size=size,
        corner=not random_position,
        alpha=alpha,
        delta=delta,
        seed=seed,
    )
    pd = poison_dataset(ds, trig, rate=rate, target=target, mode=mode, seed=seed)  # type: ignore[arg-type]
    names = np.array(ds.class_names)
    with atomic_open(out, "wb") as fh:
        np.savez_compressed(
            fh, X=pd.dataset.X, y=pd.dataset.y, class_names=names, poisoned=pd.poisoned
        )
    say(ctx, f"{out}: {int(pd.poisoned.sum())} of {len(ds)} rows poisoned ({attack}, {mode})")
    if triggered_out is not None:
        bt = backdoor_test_set(ds, trig, target=target, mode=mode)  # type: ignore[arg-type]
        with atomic_open(triggered_out, "wb") as fh:
            np.savez_compressed(fh, X=bt.X, y=bt.y, class_names=names)
        say(ctx, f"{triggered_out}: {len(bt)} triggered inputs with their attack labels")
    return 0


@app.command("scan")
def scan_command(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model checkpoint (from trainguard train).")],
    data: Annotated[str, typer.Option(help="Clean reference images: digits, mnist:DIR, .npz.")],
    detector: Annotated[
        list[str] | None,
        typer.Option(help="neural-cleanse and/or neuron-stimulation (default both)."),
    ] = None,
    train_data: Annotated[
        str | None, typer.Option(help="Training set to screen for poisoned rows.")
    ] = None,
    expected_fraction: Annotated[
        float, typer.Option(help="Spectral signatures: bound on a class's poisoned share.")
    ] = 0.1,
    limit: Annotated[int, typer.Option(min=2, help="Clean reference rows to use.")] = 500,
    steps: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Neural Cleanse steps per label, a cap (default 1500; the stimulation "
            "scan uses two thirds, default 600).",
        ),
    ] = None,
    max_mask_size: Annotated[
        float, typer.Option(help="Neuron stimulation: patch size bound, share of the pixels.")
    ] = 0.03,
    seed: Seed = 0,
    runs: Runs = Path("runs"),
) -> int:
    """Scan a model for a backdoor (target label, trigger) and a training set for poison."""
    from trainguard.backdoor.stages import (
        MODEL_DETECTORS,
        model_scan_findings,
        poison_scan_findings,
    )
    from trainguard.core.stage import recorded_stage

    detectors = tuple(detector or MODEL_DETECTORS)
    for d in detectors:
        check_choice(d, "detectors", "backdoor scan", MODEL_DETECTORS)
    clean = _images(data, limit, seed)
    net = _load(model, clean).model
    train = load_dataset(train_data) if train_data else None
    run = RunDir.create(
        "backdoor-scan", runs, config={"model": str(model), "data": data, "detectors": detectors}
    )
    say(ctx, f"scanning {model} with {len(clean)} clean images ({', '.join(detectors)})")
    with recorded_stage(run, "backdoor-scan", "Backdoor scan") as stage:
        stage.findings += model_scan_findings(
            run,
            "backdoor-scan",
            net,
            _x(clean),
            detectors=detectors,
            steps=steps,
            max_mask_size=max_mask_size,
            seed=seed,
        )
        if train is not None and train_data is not None:
            stage.findings += poison_scan_findings(
                "backdoor-scan",
                net,
                train,
                expected_fraction=expected_fraction,
                seed=seed,
                poisoned=_ground_truth(train_data, len(train)),
            ).findings
        bad = [f.check_id for f in stage.findings if f.failed]
        stage.summary = f"flagged by {', '.join(bad)}" if bad else "no backdoor found"
    return finish_run(ctx, run)


@app.command("repair")
def repair_command(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model checkpoint to repair.")],
    data: Annotated[str, typer.Option(help="Clean labelled images the defender holds.")],
    method: Annotated[str, typer.Option(help="unlearning or fine-pruning.")] = "unlearning",
    triggered: Annotated[
        str | None, typer.Option(help="Triggered inputs with attack labels (.npz) to measure.")
    ] = None,
    test_fraction: Annotated[float, typer.Option(min=0.05, max=0.9)] = 0.3,
    limit: Annotated[int | None, typer.Option(min=10, help="Use at most this many rows.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Fine-tuning epochs.")] = 5,
    lr: Annotated[float, typer.Option(help="Fine-tuning learning rate (Adam).")] = 2e-3,
    stamp_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Unlearning: share of rows stamped.")
    ] = 0.5,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Unlearning: reverse-then-unlearn rounds in all; each after the first "
            "reverses Neural Cleanse's trigger for the target on the repaired model.",
        ),
    ] = 2,
    residual_stamp_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Unlearning: rows stamped in later rounds.")
    ] = 0.2,
    trigger_source: Annotated[
        list[str] | None,
        typer.Option(
            help="Unlearning: detector(s) that reverse the trigger, neural-cleanse and/or "
            "neuron-stimulation (default both; the triggers that reproduce the backdoor "
            "best on held-out rows are unlearned)."
        ),
    ] = None,
    select: Annotated[
        str, typer.Option(help="Unlearning: 'all' triggers within 0.1 of the best, or 'best'.")
    ] = "all",
    steps: Annotated[
        int | None, typer.Option(min=1, help="Neural Cleanse steps per label (default 1500).")
    ] = None,
    max_attack_success: Annotated[float, typer.Option(help="Gate on attack success.")] = 0.05,
    max_accuracy_drop: Annotated[float, typer.Option(help="Gate on lost accuracy.")] = 0.02,
    seed: Seed = 0,
    runs: Runs = Path("runs"),
) -> int:
    """Remove a backdoor: unlearn the reversed triggers, or fine-prune dormant channels."""
    from trainguard.backdoor.repair import fine_prune
    from trainguard.backdoor.reversed import TRIGGER_SOURCES
    from trainguard.backdoor.stages import unlearning_repair
    from trainguard.core.stage import recorded_stage
    from trainguard.core.training import save_trained

    check_choice(method, "method", "backdoor repair", ("unlearning", "fine-pruning"))
    check_choice(select, "select", "backdoor repair", ("best", "all"))
    sources = tuple(trigger_source or TRIGGER_SOURCES)
    for src in sources:
        check_choice(src, "trigger_source", "backdoor repair", TRIGGER_SOURCES)
    clean = _images(data, limit, seed)
    tm = _load(model, clean)
    net = tm.model
    trig_xy = _triggered(triggered) if triggered is not None else None
    fit_part, test_part = clean.split(test_fraction, seed=seed)
    x_fit, y_fit = _x(fit_part), torch.from_numpy(fit_part.y)
    test = (_x(test_part), torch.from_numpy(test_part.y))
    run = RunDir.create("backdoor-repair", runs, config={"model": str(model), "method": method})
    say(ctx, f"repairing {model} by {method} with {len(fit_part)} clean rows")
    with recorded_stage(run, "backdoor-repair", "Backdoor repair") as stage:
        if method == "unlearning":
            result, used = unlearning_repair(
                run,
                "backdoor-repair",
                net,
                (x_fit, y_fit),
                test,
                triggered=trig_xy,
                sources=sources,  # type: ignore[arg-type]
                select=select,  # type: ignore[arg-type]
                steps=steps,
                epochs=epochs,
                lr=lr,
                stamp_fraction=stamp_fraction,
                rounds=rounds,
                residual_stamp_fraction=residual_stamp_fraction,
                seed=seed,
            )
            stage.artifacts += used.evidence
        else:
            used = None
            result = fine_prune(
                net, x_fit, y_fit, epochs=epochs, lr=lr, seed=seed, test=test, triggered=trig_xy
            )
        repaired = TrainedModel(result.model, tm.name, tm.config, tm.vocab, tm.history)
        path = save_trained(repaired, run.artifact_path("repaired.pt"))
        stage.artifacts.append(run.relative(path))
        stage.findings += result.to_findings(
            "backdoor-repair",
            max_attack_success=max_attack_success,
            max_accuracy_drop=max_accuracy_drop,
        )
        stage.summary = stage.findings[0].message
        if used is not None:
            stage.findings.append(used)
    return finish_run(ctx, run)
