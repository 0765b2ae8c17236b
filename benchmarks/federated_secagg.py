"""Cost of secure aggregation: seconds per round with and without Flower's SecAgg+.

Same clients, data and model; the only difference is SecAgg+ (four message
exchanges per round: key setup, key shares, masked vectors, unmasking) against
plain FedAvg (one). Round 1 pays the Ray workers' start-up and is left out; the
rest are averaged. Flower's simulation engine on this machine.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.federated_secagg
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.common import print_table
from benchmarks.federated_common import merged, simulate
from trainguard.federated import FederatedResult

BASE: dict[str, Any] = {
    "name": "secagg",
    "data": {"source": "synthetic-credit", "options": {"n_samples": 6000}},
    "partition": {"scheme": "iid"},
    "train": {"rounds": 5, "lr": 0.05},
    "engine": {"num_cpus": 2},
    "anomaly": {"enabled": False},
}
MODELS = {"logreg (18 params)": {"name": "logreg"}, "mlp 64x64 (4.9k params)": {"name": "mlp"}}


def per_round(res: FederatedResult) -> float:
    later = [r.seconds for r in res.rounds[2:]]
    return sum(later) / len(later)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="ignore cached runs")
    args = parser.parse_args()
    rows = []
    for clients in (5, 10):
        for label, model in MODELS.items():
            raw = merged(BASE, partition={"num_clients": clients}, model=model)
            plain = simulate(merged(raw, name=f"plain-{clients}-{model['name']}"), fresh=args.fresh)
            secure = simulate(
                merged(raw, name=f"secagg-{clients}-{model['name']}", secagg={"enabled": True}),
                fresh=args.fresh,
            )
            a, b = per_round(plain), per_round(secure)
            auc_p, auc_s = plain.final.auc or 0.0, secure.final.auc or 0.0
            rows.append(
                [
                    clients,
                    label,
                    f"{a:.2f}",
                    f"{b:.2f}",
                    f"{b / a:.1f}x",
                    f"{abs(auc_p - auc_s):.1e}",
                ]
            )
    print_table(
        "Seconds per round, Flower FedAvg with and without SecAgg+ (simulation engine)",
        [
            "clients",
            "model",
            "FedAvg s/round",
            "FedAvg + SecAgg+ s/round",
            "ratio",
            "|AUC difference|",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
