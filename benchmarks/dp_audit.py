"""Membership-inference audit: a deliberately overfit non-private model vs its DP-SGD twin.

Each target trains on a random half of the population (the other half are the
non-members). Attacks: the loss threshold (Yeom et al. 2018) and online LiRA
(Carlini et al. 2022) with 16 shadow models trained by the same recipe. Reported:
AUC, TPR at 0.1 % and 1 % FPR, the empirical epsilon lower bound (95 %,
Clopper-Pearson) and the accountant's epsilon.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.dp_audit
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from benchmarks.common import SHARED_DATA, print_table
from trainguard.core.datasets import Dataset, load_dataset
from trainguard.privacy.audit import TrainingRecipe, audit_training

HEADER = ["data", "target", "member acc", "non-member acc", "attack", "AUC", "TPR@0.1%FPR",
          "TPR@1%FPR", "eps lower bound", "eps claimed", "audit s"]  # fmt: skip


def populations(rows: int) -> dict[str, Dataset]:
    out = {
        "synthetic-credit": load_dataset(
            {"source": "synthetic-credit", "options": {"n_samples": rows}}
        )
    }
    adult = SHARED_DATA / "adult"
    if adult.exists():
        out["adult"] = load_dataset({"source": f"adult:{adult}", "limit": rows, "seed": 0})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--shadows", type=int, default=16)
    parser.add_argument("--epsilon", type=float, default=1.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name, population in populations(args.rows).items():
        table = []
        base = TrainingRecipe()
        for recipe in (base, base.private_twin(args.epsilon)):
            t0 = time.perf_counter()
            result = audit_training(population, recipe, n_shadow=args.shadows, seed=0)
            seconds = time.perf_counter() - t0
            for attack in result.attacks:
                table.append([
                    name, recipe.label, result.train_accuracy, result.test_accuracy, attack.attack,
                    attack.auc, attack.tpr_at_0_1pct_fpr, attack.tpr_at_1pct_fpr,
                    attack.empirical.epsilon, "-" if result.epsilon is None else result.epsilon, seconds,
                ])  # fmt: skip
        print_table(
            f"Membership inference on {name}: non-private vs DP twin ({len(population)} rows, "
            f"half members, {args.shadows} shadows)",
            HEADER,
            table,
        )
        sys.stdout.flush()  # one table per population, each as soon as it is measured


if __name__ == "__main__":
    main()
