"""``trainguard guard``: check a text with a policy, train a guard classifier.

The group is a Typer app; further commands (``serve``, ``log``) register on ``app``
from their own modules.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal

import typer

from trainguard.cli.common import console, emit_json, state
from trainguard.core.errors import EXIT_FAILED, EXIT_OK, DataError
from trainguard.core.progress import progress_bar

app = typer.Typer(
    name="guard", help="Runtime text guards: toxicity, PII, injection, fact-checking."
)


@app.command("check")
def check_command(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="Text to check (or use --file).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from a file.")
    ] = None,
    direction: Annotated[str, typer.Option(help="input or output.")] = "input",
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML (default policy otherwise).")
    ] = None,
) -> int:
    """Check one text; exit 0 when allowed, 1 when flagged, masked or blocked."""
    from trainguard.guard import Guard, Policy

    if (text is None) == (file is None):
        raise DataError("give the text as an argument or with --file, not both")
    if direction not in ("input", "output"):
        raise DataError(f"--direction must be 'input' or 'output'; got {direction!r}")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{file}: cannot read ({exc.__class__.__name__})") from None
    assert text is not None
    pol = Policy.from_yaml(policy) if policy else Policy()
    d: Literal["input", "output"] = "input" if direction == "input" else "output"
    result = Guard(pol).check(text, d)
    st = state(ctx)
    if st.json:
        emit_json(result.model_dump(mode="json"))
    elif not st.quiet:
        con = console()
        con.print(f"decision: [bold]{result.decision.value}[/bold]")
        for r in result.reasons:
            con.print(f"  - {r}", markup=False)
        if result.redacted != text:
            con.print("redacted: " + result.redacted, markup=False)
        times = ", ".join(f"{k} {v:.2f} ms" for k, v in result.latency_ms.items())
        con.print(f"latency: {times}")
    return EXIT_OK if result.decision.value == "allow" else EXIT_FAILED


def _read_labelled(path: Path, text_col: str, label_col: str) -> tuple[list[str], list[int]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    if not rows or text_col not in rows[0] or label_col not in rows[0]:
        raise DataError(f"{path}: needs columns '{text_col}' and '{label_col}'")
    labels = []
    for n, r in enumerate(rows, 2):
        v = (r[label_col] or "").strip().lower()
        if v not in ("0", "1", "true", "false"):
            raise DataError(f"{path}:{n}: label must be 0/1 or true/false; got {v!r}")
        labels.append(int(v in ("1", "true")))
    return [r[text_col] or "" for r in rows], labels


@app.command("train")
def train_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="CSV with a text and a 0/1 label column.")],
    task: Annotated[str, typer.Option(help="toxicity or injection.")] = "toxicity",
    out: Annotated[
        Path | None, typer.Option(help="Model folder (default guard-<task>-model).")
    ] = None,
    text_column: Annotated[str, typer.Option(help="Text column.")] = "text",
    label_column: Annotated[str, typer.Option(help="Label column (1 = harmful).")] = "label",
    max_fpr: Annotated[
        float | None,
        typer.Option(
            help="Hold out benign rows and set the threshold so the false-positive rate is at "
            "most this (with --confidence); default threshold 0.5."
        ),
    ] = None,
    confidence: Annotated[float, typer.Option(help="Confidence of the --max-fpr bound.")] = 0.95,
    calibration_share: Annotated[
        float, typer.Option(help="Share of benign rows held out for --max-fpr.")
    ] = 0.4,
    seed: int = 0,
) -> int:
    """Train a classifier for the toxicity or injection check (use it as trained:DIR)."""
    from trainguard.guard.textclf import TextClassifier, fit_calibrated

    if task not in ("toxicity", "injection"):
        raise DataError(f"--task must be 'toxicity' or 'injection'; got {task!r}")
    texts, labels = _read_labelled(data, text_column, label_column)
    with progress_bar(f"training the {task} classifier", total=2) as bar:
        if max_fpr is None:
            model = TextClassifier(seed=seed).fit(texts, labels)
        else:
            model = fit_calibrated(
                texts, labels, max_fpr=max_fpr, confidence=confidence,
                calibration_share=calibration_share, seed=seed,
            )  # fmt: skip
        model.task = task
        bar.advance()
        folder = model.save(out or Path(f"guard-{task}-model"))
        bar.advance()
    if state(ctx).json:
        emit_json(
            {"model": str(folder), "task": task, "rows": len(texts), "threshold": model.threshold}
        )
    elif not state(ctx).quiet:
        console().print(
            f"trained {task} classifier on {len(texts)} rows -> {folder} (use trained:{folder}); "
            f"threshold {model.threshold:.4g}"
        )
    return EXIT_OK
