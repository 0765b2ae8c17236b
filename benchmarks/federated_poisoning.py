"""Poisoning: with 20% malicious clients, AUC and backdoor success under FedAvg and each robust rule.

Fifteen clients hold IID shares of synthetic credit data; three are malicious.
Attacks: sign flipping (updates reversed and scaled by 4), label flipping, and a
model-replacement backdoor (Bagdasaryan et al. 2020: rows with the trigger
``debt_ratio = late_payments = 5 sd`` labelled "repaid", update boosted by
gamma = 15; the clean model sends such rows to "default", and its rate on them is
the backdoor baseline). Every run is Flower's simulation engine; the robust rules are
Flower's Krum, Multi-Krum, FedMedian, FedTrimmedAvg and Bulyan, and trainguard's
norm bounding (Sun et al. 2019). The anomaly scores' detection rates are shown
beside. Aim: the best robust rule within 2 points of the clean AUC, with backdoor
success under 10%.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.federated_poisoning
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.common import print_table
from benchmarks.federated_common import merged, pts, run_folder, simulate
from trainguard.federated import AnomalyReport, parse_config

BASE: dict[str, Any] = {
    "name": "poisoning",
    "data": {"source": "synthetic-credit", "options": {"n_samples": 15000}},
    "partition": {"scheme": "iid", "num_clients": 15},
    "model": {"name": "mlp", "options": {"hidden": [32]}},
    "train": {"rounds": 10, "local_epochs": 1, "lr": 0.05, "batch_size": 32},
    "engine": {"num_cpus": 2},
}
ATTACKS: dict[str, dict[str, Any]] = {
    "sign-flip x4": {"kind": "sign-flip", "fraction": 0.2, "scale": 4.0},
    "label-flip": {"kind": "label-flip", "fraction": 0.2},
    "backdoor (model replacement)": {
        "kind": "backdoor", "fraction": 0.2, "target_label": 1, "trigger_features": [1, 5],
        "trigger_value": 5.0, "poison_fraction": 0.5,
    },
}  # fmt: skip
STRATEGIES: dict[str, dict[str, Any]] = {
    "fedavg": {"name": "fedavg"},
    "median": {"name": "median"},
    "trimmed-mean": {"name": "trimmed-mean", "trim_beta": 0.2},
    "krum": {"name": "krum"},
    "multikrum": {"name": "multikrum"},
    "bulyan": {"name": "bulyan"},
    "norm-bound": {"name": "norm-bound", "max_norm": 0.2},
}


def triggered_rate(raw: dict[str, Any], model: Path) -> float | None:
    """Share of triggered non-target test rows a saved global model sends to the target class."""
    from trainguard.core.training import load_trained
    from trainguard.federated.server_app import make_evaluator
    from trainguard.federated.task import get_weights, load_federated_data

    cfg = parse_config(raw)
    evaluate = make_evaluator(cfg, load_federated_data(cfg))
    return evaluate(get_weights(load_trained(model).model))["backdoor_success"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="ignore cached runs")
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=list(STRATEGIES),
        default=list(STRATEGIES),
        help="aggregation rules to run under each attack (default: all)",
    )
    parser.add_argument(
        "--attacks",
        nargs="+",
        choices=[a["kind"] for a in ATTACKS.values()],
        default=[a["kind"] for a in ATTACKS.values()],
        help="attacks to run (default: all)",
    )
    args = parser.parse_args()
    clean_raw = merged(BASE, name="clean-fedavg")
    clean = simulate(clean_raw, fresh=args.fresh).final
    assert clean.auc is not None
    triggered = merged(clean_raw, attack=ATTACKS["backdoor (model replacement)"])
    clean_rate = triggered_rate(triggered, run_folder(clean_raw) / "model.pt")
    rows: list[list[object]] = [
        ["none", "fedavg", pts(clean.auc), "0.0", pts(clean_rate), "n/a", "n/a"]
    ]
    for attack, spec in ATTACKS.items():
        if spec["kind"] not in args.attacks:
            continue
        for strategy in args.strategies:
            sspec = STRATEGIES[strategy]
            raw = merged(BASE, name=f"{spec['kind']}-{strategy}", attack=spec, strategy=sspec)
            res = simulate(raw, fresh=args.fresh)
            rates = AnomalyReport(scores=res.scores).detection_rates() or {}
            auc = res.final.auc
            rows.append(
                [
                    attack,
                    strategy,
                    pts(auc),
                    "n/a" if auc is None else f"{100 * (auc - clean.auc):+.1f}",
                    pts(res.final.backdoor_success),
                    pts(rates.get("true_positive_rate")),
                    pts(rates.get("false_positive_rate")),
                ]
            )
    print_table(
        "15 clients, 3 malicious (20%): final test AUC, backdoor success, anomaly detection (points)",
        ["attack", "aggregation", "AUC", "vs clean", "backdoor success", "flagged: malicious", "flagged: honest"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
