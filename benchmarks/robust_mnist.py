"""MNIST adversarial training: standard vs FGSM-AT vs fast-AT vs PGD-AT vs TRADES.

Trains the zoo CNN on 8,000 MNIST test-set images (2,000 held out) with each method
(``METHOD+es``: with a cyclic learning rate and early stopping on 500 of the 8,000
held out for validation, the recipe of Wong et al. 2020; ``METHOD+ramp``: the training
radius grown linearly from 0 to 0.3 over the first ``--eps-ramp`` epochs) at L-inf eps
0.3 and reports clean accuracy, accuracy under FGSM, PGD-40 (ours and torchattacks') and
APGD-CE at 0.1/0.2/0.3, the gradient-masking verdict, and the training time. Trained
models are cached in ~/.cache/trainguard/robustness/.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.robust_mnist

``--methods standard,fast,pgd+ramp:5`` gives a row its own number of epochs (``:5``);
``--eval-limit`` attacks fewer test images.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import REPO, SHARED_DATA, print_table
from trainguard.core.datasets import load_dataset
from trainguard.core.training import TrainedModel, load_trained, save_trained, train_model
from trainguard.robustness.evaluation import adversarial_correct, clean_correct
from trainguard.robustness.masking import gradient_masking_checks
from trainguard.robustness.training import AdversarialConfig, train_adversarial

CACHE = Path.home() / ".cache" / "trainguard" / "robustness"
EPS = (0.1, 0.2, 0.3)


def row_epochs(spec: str, default: int) -> tuple[str, int]:
    """``METHOD[+es][+ramp][:EPOCHS]`` -> (``METHOD[+es][+ramp]``, epochs of that row)."""
    name, _, epochs = spec.partition(":")
    return name, int(epochs) if epochs else default


def model_key(spec: str, epochs: int, args: argparse.Namespace) -> str:
    """Cache name of one trained row; recipes add the parameters they depend on."""
    key = f"mnist-{spec}-e{epochs}-s{args.steps}-w{args.width}-h{args.hidden}-b{args.batch_size}"
    recipes = spec.split("+")[1:]
    key += f"-lr{args.es_lr:g}" if "es" in recipes else ""
    return key + (f"-r{args.eps_ramp}" if "ramp" in recipes else "")


def train(spec: str, args: argparse.Namespace, data) -> tuple[TrainedModel, float, float]:  # type: ignore[no-untyped-def]
    """Train (or load from the cache) one row: ``METHOD`` with recipes ``+es``, ``+ramp``.

    ``+ramp`` grows the training radius over the first ``--eps-ramp`` epochs. ``+es`` is
    the recipe of Wong et al. (2020) against catastrophic overfitting: a
    cyclic learning rate peaking at ``--es-lr`` and early stopping on the PGD accuracy
    of 500 validation images held out of the 8k training images.
    """
    train_ds, _ = data
    spec, epochs = row_epochs(spec, args.epochs)
    method, *recipes = spec.split("+")
    opts = {"width": args.width, "hidden": args.hidden}
    key = model_key(spec, epochs, args)
    path, meta = CACHE / f"{key}.pt", CACHE / f"{key}.json"
    if path.exists() and meta.exists():
        times = json.loads(meta.read_text())
        return load_trained(path), times["wall"], times["cpu"]
    t0, c0 = time.perf_counter(), time.process_time()
    common: dict[str, Any] = {
        "model_name": "cnn",
        "epochs": epochs,
        "batch_size": args.batch_size,
        "lr": 1e-3,
        "seed": 0,
    }
    if method == "standard":
        tm = train_model(train_ds, **common, model_options=opts)
    else:
        if "ramp" in recipes:
            common["eps_ramp"] = args.eps_ramp
        if "es" in recipes:
            train_ds, val = train_ds.split(500 / len(train_ds), seed=0)
            common |= {
                "lr": args.es_lr,
                "lr_schedule": "cyclic",
                "val": val,
                "eval_limit": 500,
                "keep_best": True,
            }
        steps = args.steps if method in ("pgd", "trades") else None
        cfg = AdversarialConfig(method, 0.3, steps=steps)  # type: ignore[arg-type]
        tm = train_adversarial(train_ds, cfg, **common, model_options=opts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    CACHE.mkdir(parents=True, exist_ok=True)
    save_trained(tm, path)
    meta.write_text(json.dumps({"wall": wall, "cpu": cpu}))
    return tm, wall, cpu


def robust_accuracy(model, x, y, attack: str, eps: float, steps: int | None = None) -> float:  # type: ignore[no-untyped-def]
    return float(adversarial_correct(model, x, y, attack=attack, eps=eps, steps=steps).mean())


def torchattacks_pgd_correct(model, x, y, eps: float, steps: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    import torchattacks

    atk = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)
    torch.manual_seed(0)
    out = []
    for i in range(0, len(x), 256):
        adv = atk(x[i : i + 256], y[i : i + 256])
        with torch.no_grad():
            out.append(model(adv).argmax(1) == y[i : i + 256])
    return torch.cat(out)


def evaluate(tm: TrainedModel, test, args: argparse.Namespace) -> tuple[list[float], str]:  # type: ignore[no-untyped-def]
    """Clean, FGSM, PGD-40 (ours and torchattacks'), APGD-CE accuracies and the masking verdict."""
    model = tm.model.eval()
    x, y = tm.tensors(test)
    clean = clean_correct(model, x, y)
    acc = partial(robust_accuracy, model, x, y)
    fg = [acc("fgsm", e) for e in (0.1, 0.3)]
    pg = [acc("pgd", e, 40) for e in EPS]
    peer = float(
        (torch.from_numpy(clean) & torchattacks_pgd_correct(model, x, y, 0.3, 40)).float().mean()
    )
    ap = acc("apgd-ce", 0.3, args.apgd_steps)
    n = args.check_limit
    masking = gradient_masking_checks(model, x[:n], y[:n], eps=0.3, steps=20)
    verdict = "flagged: " + ",".join(masking.failed) if masking.suspicious else "passed"
    return [float(clean.mean()), *fg, *pg, peer, ap], verdict


def plot_curves(rows: list[list[object]], path: Path, n_test: int) -> None:
    """Robust accuracy under PGD-40 vs eps, one line per training method."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.6, 3.4), dpi=110)
    for r in rows:
        ax.plot([0.0, *EPS], [r[1], *r[4:7]], marker="o", markersize=3, label=str(r[0]))
    ax.set_xlabel("L-inf epsilon")
    ax.set_ylabel("accuracy under PGD-40")
    ax.set_title(f"MNIST, {n_test} test images: robust accuracy vs epsilon")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--steps", type=int, default=10, help="PGD/TRADES training steps")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--apgd-steps", type=int, default=100)
    p.add_argument("--check-limit", type=int, default=300, help="rows for the masking checks")
    p.add_argument("--eval-limit", type=int, default=None, help="attack only this many test rows")
    p.add_argument(
        "--methods",
        default="standard,fgsm,fast,fast+es,pgd+ramp,trades+ramp",
        help="rows METHOD[+es][+ramp][:EPOCHS]; :EPOCHS overrides --epochs for that row",
    )
    p.add_argument("--es-lr", type=float, default=5e-3, help="peak learning rate of +es rows")
    p.add_argument("--eps-ramp", type=int, default=5, help="ramp epochs of +ramp rows")
    p.add_argument("--time-reference", default="pgd+ramp", help="row whose training CPU time is 1")
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "robustness_mnist_curves.png")
    args = p.parse_args()
    ds = load_dataset(f"mnist:{SHARED_DATA / 'mnist'}")
    data = ds.split(0.2, seed=0)
    test = data[1] if args.eval_limit is None else data[1].head(args.eval_limit, seed=0)
    rows, times = [], {}
    for method in args.methods.split(","):
        tm, wall, cpu = train(method, args, data)
        name, epochs = row_epochs(method, args.epochs)
        evals = f"{args.apgd_steps}-{len(test)}-{args.check_limit}"
        stored = CACHE / f"eval-{model_key(name, epochs, args)}-{evals}.json"
        if stored.exists():  # the evaluation of this very model, from an earlier run
            scores, verdict = json.loads(stored.read_text())
        else:
            scores, verdict = evaluate(tm, test, args)
            stored.write_text(json.dumps([scores, verdict]))
        label = name if epochs == args.epochs else f"{name} ({epochs} epochs)"
        times[label] = cpu
        rows.append([label, *scores, verdict, wall, cpu])
        print(method, rows[-1], flush=True)
    plot_curves(rows, args.plot, len(test))
    pgd_cpu = times.get(args.time_reference)
    for r in rows:
        r.append(r[-1] / pgd_cpu if pgd_cpu else float("nan"))
    header = [
        "training", "clean", "FGSM 0.1", "FGSM 0.3", "PGD-40 0.1", "PGD-40 0.2", "PGD-40 0.3",
        "torchattacks PGD-40 0.3", "APGD-CE 0.3",
        "masking checks @0.3", "train wall s", "train CPU s", f"CPU time / {args.time_reference}",
    ]  # fmt: skip
    print_table(
        f"MNIST 8k/2k, zoo CNN (width {args.width}, hidden {args.hidden}), eps 0.3, "
        f"{args.epochs} epochs, PGD/TRADES {args.steps} steps, APGD {args.apgd_steps} steps",
        header,
        rows,
    )


if __name__ == "__main__":
    main()
