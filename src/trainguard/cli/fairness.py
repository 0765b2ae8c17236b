"""``trainguard fairness``: audit predictions or a model for bias, optionally mitigate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer

from trainguard.cli.common import finish_run, say
from trainguard.core.datasets import Dataset, DatasetSpec, load_dataset
from trainguard.core.errors import ConfigError, DataError, ModelError
from trainguard.core.run import RunDir

app = typer.Typer(add_completion=False)

Method = Literal["reweighing", "expgrad", "thresholds"]
Constraint = Literal["demographic_parity", "equalized_odds", "equal_opportunity"]


def _split_list(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise ConfigError("--sensitive: name at least one column, for example --sensitive sex,race")
    return cols


def _privileged(items: list[str], sensitive: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not value:
            raise ConfigError(f"--privileged {item!r}: expected COLUMN=VALUE, for example sex=Male")
        if col not in sensitive:
            raise ConfigError(
                f"--privileged {item!r}: {col!r} is not one of --sensitive {sensitive}"
            )
        out[col] = value
    return out


def _positive_index(ds: Dataset, positive: str | None) -> int:
    if ds.n_classes != 2:
        raise DataError(
            f"{ds.name}: label '{ds.label_name}' has {ds.n_classes} classes "
            f"({', '.join(ds.class_names[:6])}); fairness metrics need a binary label"
        )
    if positive is None:
        return 1
    if positive not in ds.class_names:
        raise ConfigError(
            f"--positive {positive!r}: not a value of label '{ds.label_name}' "
            f"(values: {', '.join(ds.class_names)})"
        )
    return ds.class_names.index(positive)


def _read_column(path: str, column: str) -> np.ndarray:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataError(f"--pred needs a CSV or Parquet file; {path} is not a file")
    with p.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    frame = pd.read_parquet(p, columns=[column]) if parquet else pd.read_csv(p, usecols=[column])
    return frame[column].to_numpy()


def _predictions(
    values: np.ndarray, ds: Dataset, positive: int, column: str, cutoff: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Hard predictions (and scores when the column holds probabilities)."""
    as_text = np.array([str(v).strip() for v in values])
    if np.isin(as_text, ds.class_names).all():
        return as_text == ds.class_names[positive], None
    try:
        scores = values.astype(np.float64)
    except (TypeError, ValueError):
        scores = np.array([np.nan])
    if np.isnan(scores).any() or (scores < 0).any() or (scores > 1).any():
        raise DataError(
            f"--pred column {column!r}: expected label values ({', '.join(ds.class_names)}) "
            "or scores in [0, 1] for the positive class"
        )
    return scores >= cutoff, scores


def _model_scores(tm: Any, ds: Dataset, positive: int, path: Path) -> np.ndarray:
    """Probability of the positive class for every row of ``ds``."""
    from trainguard.core.training import predict_proba

    x, _ = tm.tensors(ds)
    try:
        proba = predict_proba(tm.model, x)
    except RuntimeError as exc:
        raise ModelError(
            f"{path}: the model does not fit the {ds.X.shape[1]} features of {ds.name} "
            f"({str(exc).splitlines()[0]})"
        ) from None
    if proba.shape[1] != 2:
        raise ModelError(f"{path}: the model has {proba.shape[1]} classes; expected 2")
    return np.asarray(proba[:, positive])


def _split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y
    )
    return np.sort(train), np.sort(test)


@app.command("fairness")
def fairness_command(
    ctx: typer.Context,
    data: Annotated[str, typer.Option(help="Data: a CSV/Parquet file, or adult:DIR.")],
    sensitive: Annotated[
        str, typer.Option(help="Sensitive column(s), comma-separated: sex or sex,race.")
    ],
    label: Annotated[str | None, typer.Option(help="Label column (files).")] = None,
    pred: Annotated[
        str | None, typer.Option(help="Column with predictions (labels or scores in [0, 1]).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="A model saved by trainguard (train / save_trained).")
    ] = None,
    mitigate: Annotated[
        Method | None, typer.Option(help="Mitigate and compare: reweighing, expgrad, thresholds.")
    ] = None,
    constraint: Annotated[
        Constraint | None,
        typer.Option(
            help="expgrad: demographic_parity (default) or equalized_odds; "
            "thresholds: equalized_odds (default) or equal_opportunity."
        ),
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="Favourable label value (default: the second, sorted).")
    ] = None,
    privileged: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN=VALUE; gaps become unprivileged minus privileged (AIF360)."),
    ] = None,
    min_group_size: Annotated[
        int, typer.Option(min=1, help="Smaller groups take no part in the gaps.")
    ] = 30,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples (0: none).")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
    max_difference: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Limit for every difference gap.")
    ] = 0.1,
    min_ratio: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Disparate impact limit (four-fifths rule).")
    ] = 0.8,
    decide_on: Annotated[
        Literal["ci", "point"],
        typer.Option(help="ci: fail only when the whole interval is beyond the limit."),
    ] = "ci",
    cutoff: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Score cutoff for --pred scores.")
    ] = 0.5,
    test_fraction: Annotated[
        float, typer.Option(min=0.05, max=0.95, help="Mitigation: share of rows held out.")
    ] = 0.3,
    epochs: Annotated[int, typer.Option(min=1, help="Mitigation: training epochs.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 128,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-2,
    seed: int = 0,
    runs: Annotated[Path, typer.Option(help="Folder that receives the run directory.")] = Path(
        "runs"
    ),
) -> int:
    """Audit group and individual fairness of predictions or a model; write a run.

    Without --mitigate every row is audited. With it, the rows are split: the
    mitigation is fitted on one part and the gaps before and after are compared on
    the held-out part (which is also the part the verdicts judge).
    """
    from trainguard.fairness import AuditSettings, FairnessThresholds
    from trainguard.fairness.mitigation import mitigate as run_mitigation
    from trainguard.fairness.mitigation import mitigate_scores
    from trainguard.fairness.report import dataset_fairness_stage

    if (pred is None) == (model is None):
        raise ConfigError("give exactly one of --pred COLUMN or --model PATH")
    cols = _split_list(sensitive)
    if mitigate in ("reweighing", "expgrad") and model is None:
        raise ConfigError(f"--mitigate {mitigate} retrains a model: give --model PATH, not --pred")
    settings = AuditSettings(
        min_group_size=min_group_size,
        n_boot=n_boot,
        confidence=confidence,
        privileged=_privileged(privileged or [], cols),
        thresholds=FairnessThresholds(
            max_difference=max_difference, min_ratio=min_ratio, decide_on=decide_on
        ),
        seed=seed,
    )
    ds = load_dataset(
        DatasetSpec(source=data, label=label, sensitive=cols, drop=[pred] if pred else [])
    )
    pos = _positive_index(ds, positive)
    tm = None
    if model is not None:
        from trainguard.core.training import load_trained

        tm = load_trained(model)
        scores: np.ndarray | None = _model_scores(tm, ds, pos, model)
        y_pred = np.asarray(scores) > 0.5
    else:
        assert pred is not None
        y_pred, scores = _predictions(_read_column(data, pred), ds, pos, pred, cutoff)
    y_true = ds.y == pos
    say(
        ctx,
        f"{ds.name}: {len(ds)} rows, positive label {ds.class_names[pos]!r}, sensitive {', '.join(cols)}",
    )
    rows = np.arange(len(ds))
    result = None
    if mitigate is not None:
        train, rows = _split(ds.y, test_fraction, seed)
        say(ctx, f"mitigation {mitigate}: fitted on {len(train)} rows, compared on {len(rows)}")
        if tm is not None:
            result = run_mitigation(
                mitigate,
                tm,
                ds.subset(train),
                ds.subset(rows),
                sensitive=cols,
                constraint=constraint,
                positive=pos,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=seed,
                settings=settings,
            )
        else:
            if scores is None:
                say(ctx, "note: --pred holds labels, not scores; thresholds randomise between them")
            result = mitigate_scores(
                y_true,
                y_pred.astype(np.float64) if scores is None else scores,
                y_pred,
                sensitive={c: ds.sensitive[c] for c in cols},
                fit_rows=train,
                eval_rows=rows,
                constraint=constraint or "equalized_odds",
                settings=settings,
            )
    run = RunDir.create(
        "fairness",
        runs,
        config={
            "data": data,
            "sensitive": cols,
            "pred": pred,
            "model": None if model is None else str(model),
            "mitigate": mitigate,
            "constraint": constraint,
        },
    )
    if result is not None and result.model is not None:
        from trainguard.core.training import save_trained

        save_trained(result.model, run.artifact_path(f"model-{mitigate}.pt"))
    dataset_fairness_stage(
        run,
        ds,
        y_pred[rows],
        sensitive=cols,
        positive=pos,
        rows=rows,
        settings=settings,
        mitigation=result,
    )
    return finish_run(ctx, run)
