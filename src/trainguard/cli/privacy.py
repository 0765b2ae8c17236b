"""``trainguard privacy``: empirical privacy audits and the DP-SGD accountants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer

from trainguard.cli.common import emit_json, finish_run, say, state
from trainguard.core.datasets import DatasetSpec, load_dataset
from trainguard.core.errors import EXIT_OK, ConfigError
from trainguard.core.run import RunDir

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Differential privacy: audits and accounting."
)


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Option(help="Attack population: a built-in name, mnist:DIR, adult:DIR or a file."),
    ] = "synthetic-credit",
    label: Annotated[str | None, typer.Option(help="Label column (tables).")] = None,
    limit: Annotated[
        int, typer.Option(min=20, help="Use this many rows (half become members).")
    ] = 1000,
    target: Annotated[
        Literal["both", "plain", "dp"],
        typer.Option(help="Audit the non-private model, its DP twin, or both."),
    ] = "both",
    epsilon: Annotated[float, typer.Option(help="Target epsilon of the DP twin.")] = 1.0,
    delta: Annotated[float | None, typer.Option(help="Delta (default: below 1/n).")] = None,
    model: Annotated[str | None, typer.Option(help="Zoo model (default mlp, 256x256).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of the non-private target.")] = 60,
    shadows: Annotated[
        int, typer.Option(min=0, help="Shadow models for LiRA (0: loss attack only).")
    ] = 0,
    seed: int = 0,
    runs: Annotated[Path, typer.Option(help="Folder that receives the run directory.")] = Path(
        "runs"
    ),
) -> int:
    """Train targets on half of a population and attack them with membership inference.

    Reports AUC, TPR at 0.1% and 1% FPR, and an empirical epsilon lower bound beside
    the DP accountant's epsilon; exits 1 when membership leaks or a bound breaks a claim.
    """
    from trainguard.privacy.audit import TrainingRecipe, privacy_audit_stage

    if epsilon <= 0:
        raise ConfigError(f"--epsilon must be > 0; got {epsilon}")
    population = load_dataset(DatasetSpec(source=data, label=label, limit=limit, seed=seed))
    base = TrainingRecipe(epochs=epochs, delta=delta)
    if model is not None:
        base = replace(base, model_name=model, model_options={})
    plans = {"plain": [base], "dp": [base.private_twin(epsilon)]}
    recipes = plans.get(target, [base, base.private_twin(epsilon)])
    run = RunDir.create(
        "privacy-audit", runs, config={"data": data, "rows": len(population), "target": target}
    )
    say(ctx, f"auditing on {population.name}: {len(population)} rows, half of them members")
    privacy_audit_stage(run, population, recipes=recipes, n_shadow=shadows, seed=seed)
    return finish_run(ctx, run)


@app.command("accountant")
def accountant_command(
    ctx: typer.Context,
    sample_rate: Annotated[float, typer.Option(help="Poisson sampling rate q (batch / n).")],
    steps: Annotated[int, typer.Option(min=1, help="Number of DP-SGD steps.")],
    delta: Annotated[float, typer.Option(help="Delta.")],
    noise: Annotated[float | None, typer.Option(help="Noise multiplier sigma.")] = None,
    target_epsilon: Annotated[
        float | None, typer.Option(help="Instead of --noise: calibrate sigma to this epsilon.")
    ] = None,
) -> int:
    """Epsilon spent by DP-SGD under the RDP and PRV accountants (or the noise for a target)."""
    from trainguard.privacy.accounting import calibrate_noise, epsilon_spent

    if target_epsilon is not None and noise is None:
        sigma = calibrate_noise(
            target_epsilon=target_epsilon, delta=delta, sample_rate=sample_rate, steps=steps
        )
    elif noise is not None and target_epsilon is None:
        sigma = noise
    else:
        raise ConfigError("give exactly one of --noise and --target-epsilon")
    eps = {
        acc: epsilon_spent(
            noise_multiplier=sigma,
            sample_rate=sample_rate,
            steps=steps,
            delta=delta,
            accountant=acc,
        )
        for acc in ("rdp", "prv")
    }
    if state(ctx).json:
        emit_json(
            {
                "noise_multiplier": sigma,
                "delta": delta,
                **{f"epsilon_{k}": v for k, v in eps.items()},
            }
        )
    else:
        say(ctx, f"noise multiplier {sigma:.4f}, delta {delta:g}")
        say(ctx, f"epsilon (RDP) {eps['rdp']:.4f}")
        say(ctx, f"epsilon (PRV) {eps['prv']:.4f}")
    return EXIT_OK
