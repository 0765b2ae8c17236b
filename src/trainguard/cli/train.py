"""``trainguard train``: plain, differentially private (``--dp``) or adversarial training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from trainguard.cli.common import finish_run, say
from trainguard.core.datasets import DatasetSpec, load_dataset
from trainguard.core.errors import ConfigError
from trainguard.core.run import RunDir
from trainguard.core.validation import check_int, check_positive, check_real
from trainguard.core.zoo import check_model_name


def train_command(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="Data set: digits, breast_cancer, synthetic-credit, mnist:DIR, adult:DIR or a file.",
        ),
    ],
    label: Annotated[str | None, typer.Option(help="Label column (tables).")] = None,
    text: Annotated[str | None, typer.Option(help="Text column (text tables).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Zoo model: logreg, mlp, cnn, text (default: by data kind).")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    seed: int = 0,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.2,
    limit: Annotated[int | None, typer.Option(min=1, help="Use at most this many rows.")] = None,
    min_accuracy: Annotated[
        float | None, typer.Option(help="Gate: fail below this test accuracy.")
    ] = None,
    dp: Annotated[bool, typer.Option("--dp", help="Train with DP-SGD (Opacus).")] = False,
    target_epsilon: Annotated[float, typer.Option(help="DP: privacy budget epsilon.")] = 8.0,
    delta: Annotated[
        float | None, typer.Option(help="DP: delta (default: the power of ten below 1/n).")
    ] = None,
    max_grad_norm: Annotated[float, typer.Option(help="DP: per-sample clipping bound.")] = 1.0,
    adversarial: Annotated[
        str | None, typer.Option(help="Adversarial training: fgsm, fast, pgd, trades, freelb.")
    ] = None,
    eps: Annotated[float, typer.Option(help="Adversarial: L-inf radius in input scale.")] = 0.3,
    eps_ramp: Annotated[
        int, typer.Option(min=0, help="Adversarial: epochs over which the radius grows from 0.")
    ] = 0,
    runs: Annotated[Path, typer.Option(help="Folder that receives the run directory.")] = Path(
        "runs"
    ),
) -> int:
    """Train a zoo model on a data set and write the run (findings, curve, model)."""
    if dp and adversarial:
        raise ConfigError("--dp and --adversarial cannot be combined in one run; choose one")
    if model is not None:
        check_model_name(model)
    if adversarial:
        from trainguard.robustness.training import AdversarialConfig

        AdversarialConfig(adversarial, eps)  # type: ignore[arg-type]  # validates before a run exists
        check_int(eps_ramp, "eps_ramp", "train --adversarial", high=epochs)
    if dp:  # validate before a run exists
        check_positive(target_epsilon, "target_epsilon", "train --dp")
        check_positive(max_grad_norm, "max_grad_norm", "train --dp")
        if delta is not None:
            check_real(
                delta, "delta", "train --dp", low=0.0, high=1.0, low_open=True, high_open=True
            )
    spec = DatasetSpec(source=data, label=label, text=text, limit=limit, seed=seed)
    train, test = load_dataset(spec).split(test_fraction, seed=seed)
    mode = "dp" if dp else (f"adversarial-{adversarial}" if adversarial else "plain")
    run = RunDir.create(
        f"train-{mode}", runs, config={"data": data, "mode": mode, "model": model, "epochs": epochs}
    )
    say(ctx, f"training on {train.name}: {len(train)} train / {len(test)} test rows ({mode})")
    common: dict[str, Any] = {
        "model_name": model,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
    }
    if dp:
        from trainguard.privacy import train_private_stage

        train_private_stage(
            run,
            train,
            test,
            **common,
            target_epsilon=target_epsilon,
            delta=delta,
            max_grad_norm=max_grad_norm,
            min_accuracy=min_accuracy,
        )
    elif adversarial:
        from trainguard.robustness import adversarial_train_stage

        adversarial_train_stage(
            run, train, test, **common, method=adversarial, eps=eps, eps_ramp=eps_ramp,
            min_accuracy=min_accuracy,
        )  # fmt: skip
    else:
        from trainguard.pipeline.train import plain_train_stage

        plain_train_stage(run, train, test, **common, min_accuracy=min_accuracy)
    return finish_run(ctx, run)
