"""``trainguard attack``: evaluate a trained model under adversarial attack."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainguard.cli.common import finish_run, say
from trainguard.core.datasets import Dataset, DatasetSpec, load_dataset
from trainguard.core.errors import ModelError
from trainguard.core.run import RunDir
from trainguard.core.validation import check_positive

if TYPE_CHECKING:
    from trainguard.core.training import TrainedModel

app = typer.Typer(add_completion=False)


def _check_fits(tm: TrainedModel, test: Dataset, path: Path) -> None:
    """Raise :class:`ModelError` unless the model accepts rows of ``test``."""
    wrong = f"{path}: the {tm.name!r} model does not fit {test.kind} data {test.name}"
    if (test.kind == "text") != (tm.vocab is not None):
        raise ModelError(wrong)
    x, _ = tm.tensors(test.head(1))
    try:
        tm.model(x)
    except RuntimeError:
        raise ModelError(f"{wrong} (input shape {tuple(x.shape[1:])})") from None


@app.command("attack")
def attack_command(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="A model saved by trainguard (train, save_trained).")],
    data: Annotated[
        str, typer.Option(help="Data set the model was trained on (its test split is attacked).")
    ],
    label: Annotated[str | None, typer.Option(help="Label column (tables).")] = None,
    text: Annotated[str | None, typer.Option(help="Text column (text tables).")] = None,
    attack: Annotated[
        str, typer.Option(help="Attack: apgd-ce (default, strongest), pgd or fgsm.")
    ] = "apgd-ce",
    eps: Annotated[
        list[float] | None,
        typer.Option(
            help="Radius to evaluate, repeatable (default: by data kind; L-inf for "
            "images/tables, L2 in embedding space for text)."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Attack steps.")] = 50,
    samples: Annotated[int, typer.Option(min=1, help="Test rows to attack.")] = 200,
    checks: Annotated[bool, typer.Option(help="Run the gradient-masking sanity checks.")] = True,
    min_robust_accuracy: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Gate: fail below this accuracy at the largest eps."),
    ] = None,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.2,
    seed: int = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Use at most this many rows.")] = None,
    runs: Annotated[Path, typer.Option(help="Folder that receives the run directory.")] = Path(
        "runs"
    ),
) -> int:
    """Attack a trained model on the test split of its data; write the robustness run."""
    from trainguard.core.training import load_trained
    from trainguard.robustness.attacks import ATTACKS
    from trainguard.robustness.stage import robustness_stage

    ATTACKS.get(attack)
    for e in eps or []:
        check_positive(e, "eps", "trainguard attack")
    tm = load_trained(model)
    spec = DatasetSpec(source=data, label=label, text=text, limit=limit, seed=seed)
    _, test = load_dataset(spec).split(test_fraction, seed=seed)
    _check_fits(tm, test, model)
    run = RunDir.create(
        f"attack-{attack}", runs, config={"model": str(model), "data": data, "attack": attack}
    )
    say(ctx, f"attacking {tm.name} on {min(samples, len(test))} rows of {test.name} with {attack}")
    robustness_stage(
        run, tm, test, epsilons=eps or None, attack=attack, steps=steps, limit=samples,
        checks=checks, min_robust_accuracy=min_robust_accuracy, seed=seed,
    )  # fmt: skip
    return finish_run(ctx, run)
