"""Privacy-utility trade-off of DP-SGD: test accuracy at epsilon 1, 3, 8 and without privacy.

MNIST: the zoo CNN on 8,000 of the 10,000 MNIST test-set images, 2,000 held out.
Adult: the zoo MLP on UCI Adult (48,842 rows, two thirds train, one third test).
Noise is calibrated (PRV accountant) to each epsilon for the planned epochs; delta is
the power of ten below 1/n. The aim from the issue: at epsilon 8 the accuracy drop
on Adult stays under 2 points. Writes docs/privacy-utility.png.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.dp_utility [--datasets mnist,adult]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, SHARED_DATA, print_table
from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.training import evaluate, fit, make_loader, new_zoo_model
from trainguard.privacy import default_delta, train_private

CACHE = Path.home() / ".cache" / "trainguard" / "privacy"
EPSILONS = (1.0, 3.0, 8.0, math.inf)

SETTINGS: dict[str, dict[str, Any]] = {
    "mnist": {
        "model": "cnn",
        "plain": {"epochs": 10, "batch_size": 64, "lr": 1e-3},
        "dp": {"epochs": 15, "batch_size": 256, "lr": 2e-3, "max_grad_norm": 1.0},
    },
    "adult": {
        "model": "mlp",
        "plain": {"epochs": 10, "batch_size": 256, "lr": 1e-3},
        "dp": {"epochs": 15, "batch_size": 1024, "lr": 3e-3, "max_grad_norm": 1.0},
    },
}


def data(name: str) -> tuple[Dataset, Dataset]:
    if name == "mnist":
        ds = load_dataset(f"mnist:{SHARED_DATA / 'mnist'}")
        return ds.split(0.2, seed=0)
    ds = load_dataset(f"adult:{SHARED_DATA / 'adult'}")
    return ds.split(1 / 3, seed=0)


def run_one(name: str, eps: float, train: Dataset, test: Dataset) -> dict[str, Any]:
    cfg = SETTINGS[name]
    key = f"utility-{name}-{eps}-{json.dumps(cfg, sort_keys=True)}"
    path = CACHE / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    tm = new_zoo_model(train, model_name=cfg["model"], seed=0)
    x, y = tm.tensors(train)
    vx, vy = tm.tensors(test)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"dataset": name, "epsilon": eps}
    if math.isinf(eps):
        p = cfg["plain"]
        fit(
            tm.model,
            make_loader(x, y, batch_size=p["batch_size"], shuffle=True),
            epochs=p["epochs"],
            lr=p["lr"],
        )
    else:
        p = cfg["dp"]
        result = train_private(
            tm.model,
            make_loader(x, y, batch_size=p["batch_size"], shuffle=True),
            epochs=p["epochs"],
            target_epsilon=eps,
            delta=default_delta(len(train)),
            max_grad_norm=p["max_grad_norm"],
            lr=p["lr"],
            accountant="prv",
            seed=0,
        )
        tm.model = result.model
        row.update(
            noise=result.noise_multiplier,
            eps_rdp=result.epsilon_rdp,
            eps_prv=result.epsilon_prv,
            delta=result.delta,
            mode=result.grad_sample_mode,
        )
    row["seconds"] = time.perf_counter() - t0
    row["accuracy"] = evaluate(tm.model, make_loader(vx, vy, batch_size=1024))["accuracy"]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return row


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
    for name in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == name]
        private = [r for r in mine if not math.isinf(r["epsilon"])]
        line = ax.plot(
            [r["epsilon"] for r in private],
            [r["accuracy"] for r in private],
            marker="o",
            label=f"{name}, DP-SGD",
        )
        plain = [r["accuracy"] for r in mine if math.isinf(r["epsilon"])]
        if plain:
            ax.axhline(
                plain[0], linestyle="--", color=line[0].get_color(), label=f"{name}, non-private"
            )
    ax.set_xscale("log")
    ax.set_xticks(list(EPSILONS[:-1]), [f"{e:g}" for e in EPSILONS[:-1]])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("epsilon (PRV accountant)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Privacy-utility trade-off of DP-SGD")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,adult")
    args = parser.parse_args()
    rows = []
    for name in args.datasets.split(","):
        train, test = data(name)
        rows += [run_one(name, eps, train, test) for eps in EPSILONS]
    table = []
    for r in rows:
        base = next(
            b["accuracy"] for b in rows if b["dataset"] == r["dataset"] and math.isinf(b["epsilon"])
        )
        table.append([
            r["dataset"], "non-private" if math.isinf(r["epsilon"]) else f"{r['epsilon']:g}",
            r["accuracy"], 100 * (base - r["accuracy"]), r.get("noise", "-"), r.get("eps_rdp", "-"),
            r.get("eps_prv", "-"), r.get("delta", "-"), r.get("mode", "-"), r["seconds"],
        ])  # fmt: skip
    print_table(
        "DP-SGD accuracy vs epsilon (ours on Opacus)",
        [
            "data",
            "epsilon",
            "test acc",
            "drop (points)",
            "noise",
            "eps RDP",
            "eps PRV",
            "delta",
            "mode",
            "train s",
        ],
        table,
    )
    out = REPO / "docs" / "privacy-utility.png"
    plot(rows, out)
    print(f"\nplot: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
