"""DP-SGD step time per Opacus grad-sample mode, and accountant speed, ours beside Opacus.

Table 1: one optimizer step (batch 256, real MNIST 28x28 images) of the zoo CNN and
the zoo MLP: non-private Adam, each Opacus grad-sample mode (hooks, functorch, ew,
ghost), and ours (the mode ``select_grad_sample_mode`` picks, with the time it
takes to pick). Rounds interleave the variants; the median per variant is reported,
as a ratio to non-private.

Table 2: epsilon of DP-SGD settings by Opacus's RDP and PRV accountants and by ours
(vectorised RDP; PRV with the faster domain bound), values and times side by side.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.dp_step_time
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.common import SHARED_DATA, print_table
from trainguard.core.datasets import load_dataset
from trainguard.core.zoo import MLP, SmallCNN
from trainguard.privacy import GRAD_SAMPLE_MODES, epsilon_spent, select_grad_sample_mode
from trainguard.privacy.engine import make_private, private_step

BATCH = 256


def plain_step(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def private(
    model: nn.Module, mode: str, x: torch.Tensor, y: torch.Tensor
) -> Callable[[torch.Tensor, torch.Tensor], None]:
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH)
    parts = make_private(
        model,
        loader,
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        mode=mode,
        poisson_sampling=False,
        seed=0,
    )  # type: ignore[arg-type]

    def step(bx: torch.Tensor, by: torch.Tensor) -> None:
        private_step(parts, (bx, by))

    return step


def step_times(
    make: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor, rounds: int, steps: int
) -> list[list[object]]:
    variants: dict[str, Callable[[torch.Tensor, torch.Tensor], None]] = {
        "non-private": plain_step(make())
    }
    for mode in GRAD_SAMPLE_MODES:
        variants[mode] = private(make(), mode, x, y)
    t0 = time.perf_counter()
    choice = select_grad_sample_mode(make(), x, y)
    pick_seconds = time.perf_counter() - t0
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():
        fn(x, y)  # warm-up
    for _ in range(rounds):
        for name, fn in variants.items():
            t = time.perf_counter()
            for _ in range(steps):
                fn(x, y)
            times[name].append((time.perf_counter() - t) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    fastest = min(GRAD_SAMPLE_MODES, key=lambda m: med[m])
    rows: list[list[object]] = [[k, 1000 * v, v / med["non-private"], ""] for k, v in med.items()]
    rows.append([f"ours (auto: {choice.mode})", 1000 * med[choice.mode], med[choice.mode] / med["non-private"],
                 f"pick took {pick_seconds:.2f} s; fastest here: {fastest}"])  # fmt: skip
    return rows


def accountant_rows() -> list[list[object]]:
    from opacus.accountants import PRVAccountant, RDPAccountant

    rows: list[list[object]] = []
    for noise, q, steps, delta in [
        (1.1, 256 / 60_000, 14_062, 1e-5),
        (0.8, 0.01, 1_000, 1e-5),
        (1.0, 0.05, 300, 1e-5),
    ]:
        for name, cls in (("rdp", RDPAccountant), ("prv", PRVAccountant)):
            acc = cls()
            acc.history = [(noise, q, steps)]
            t = time.perf_counter()
            theirs = acc.get_epsilon(delta)
            t_theirs = time.perf_counter() - t
            t = time.perf_counter()
            ours = epsilon_spent(
                noise_multiplier=noise, sample_rate=q, steps=steps, delta=delta, accountant=name
            )  # type: ignore[arg-type]
            t_ours = time.perf_counter() - t
            rows.append([f"sigma={noise}, q={q:.4g}, T={steps}", name, theirs, ours, abs(ours - theirs),
                         1000 * t_theirs, 1000 * t_ours, t_theirs / t_ours])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    mnist = load_dataset(f"mnist:{SHARED_DATA / 'mnist'}")
    x = torch.from_numpy(mnist.X[:BATCH])
    y = torch.from_numpy(mnist.y[:BATCH])
    header = ["variant", "ms / step", "x non-private", "note"]
    torch.manual_seed(0)
    cnn = SmallCNN((1, 28, 28), 10)
    mlp = MLP(784, 10, hidden=(256, 256))
    print_table(
        "DP-SGD step time, zoo CNN, batch 256, 28x28",
        header,
        step_times(lambda: copy.deepcopy(cnn), x, y, args.rounds, args.steps),
    )
    print_table(
        "DP-SGD step time, zoo MLP 784-256-256-10, batch 256",
        header,
        step_times(lambda: copy.deepcopy(mlp), x.flatten(1), y, args.rounds, args.steps),
    )
    print_table(
        "Accountants: Opacus vs ours (same epsilon, time)",
        [
            "setting",
            "accountant",
            "eps Opacus",
            "eps ours",
            "|diff|",
            "Opacus ms",
            "ours ms",
            "speed-up",
        ],
        accountant_rows(),
    )


if __name__ == "__main__":
    main()
