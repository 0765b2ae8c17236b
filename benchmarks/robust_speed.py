"""Attack speed: our PGD and APGD-CE vs torchattacks on the same model and batch.

Time per batch of 256 MNIST images on the zoo CNN, same steps and step size,
median of several alternating repeats in one process, and the success rates to
show both did the same work.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.robust_speed
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchattacks

from benchmarks.common import SHARED_DATA, print_table
from trainguard.core.datasets import load_dataset
from trainguard.core.training import train_model
from trainguard.robustness.attacks import apgd, pgd


def timed(fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args()
    ds = load_dataset(f"mnist:{SHARED_DATA / 'mnist'}")
    train, test = ds.split(0.2, seed=0)
    tm = train_model(train.head(2000, seed=0), model_name="cnn", epochs=2, batch_size=128, seed=0)
    model = tm.model.eval()
    x, y = tm.tensors(test.head(args.batch, seed=0))
    eps = 0.3

    cases: list[tuple[str, Callable[[], torch.Tensor], Callable[[], torch.Tensor]]] = []
    for steps in (10, 40):
        alpha = 2.5 * eps / steps
        ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
        cases.append(
            (
                f"PGD-{steps} L-inf",
                lambda s=steps, a=alpha: pgd(model, x, y, eps=eps, alpha=a, steps=s, seed=0),
                lambda ta=ta: ta(x, y),
            )
        )
    ta_apgd = torchattacks.APGD(model, eps=eps, steps=100, n_restarts=1, loss="ce", seed=0)
    cases.append(
        (
            "APGD-CE-100 L-inf",
            lambda: apgd(model, x, y, eps=eps, steps=100, seed=0),
            lambda: ta_apgd(x, y),
        )
    )
    rows = []
    for name, ours, theirs in cases:
        ours(), theirs()  # warm-up
        t_ours, t_theirs = [], []
        for _ in range(args.repeats):
            t, adv_ours = timed(ours)
            t_ours.append(t)
            t, adv_theirs = timed(theirs)
            t_theirs.append(t)
        with torch.no_grad():
            s_ours = float((model(adv_ours).argmax(1) != y).float().mean())
            s_theirs = float((model(adv_theirs).argmax(1) != y).float().mean())
        mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
        rows.append([name, mo, mt, mo / mt, s_ours, s_theirs])
    print_table(
        f"Attack time per batch of {args.batch} (MNIST, zoo CNN, eps 0.3, median of {args.repeats})",
        [
            "attack",
            "ours s",
            "torchattacks s",
            "ours / torchattacks",
            "success ours",
            "success torchattacks",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
