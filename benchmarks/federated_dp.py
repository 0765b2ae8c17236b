"""Client-level differential privacy in federated training: test AUC against epsilon.

Forty clients hold IID shares of synthetic credit data (500 rows each). Each DP
mode is Flower's: the server-side and client-side fixed-clipping wrappers (the
client side clips with ``fixedclipping_mod``) at several noise multipliers, and
both adaptive-clipping wrappers at one. Epsilon is client-level, at delta
1e-2 (the power of ten below 1/40), after all rounds, by trainguard's RDP
accounting; Flower's own ``RdpAccountant`` (Google dp-accounting) is shown beside
it for the same releases.

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.federated_dp
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.common import print_table
from benchmarks.federated_common import merged, pts, simulate
from trainguard.federated.accounting import flower_epsilon

BASE: dict[str, Any] = {
    "name": "dp",
    "data": {"source": "synthetic-credit", "options": {"n_samples": 25000}},
    "partition": {"scheme": "iid", "num_clients": 40},
    "model": {"name": "logreg"},
    "train": {"rounds": 15, "local_epochs": 1, "lr": 0.1, "batch_size": 32},
    "engine": {"num_cpus": 2},
}
FIXED_NOISE = (0.5, 1.0, 2.0, 4.0)
ADAPTIVE_NOISE = 1.0
CLIPPING_NORM = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="ignore cached runs")
    parser.add_argument(
        "--noise",
        nargs="+",
        type=float,
        default=list(FIXED_NOISE),
        help="noise multipliers of the fixed-clipping runs (default: 0.5 1 2 4)",
    )
    args = parser.parse_args()
    runs = [(mode, z) for mode in ("server-fixed", "client-fixed") for z in args.noise]
    runs += [("server-adaptive", ADAPTIVE_NOISE), ("client-adaptive", ADAPTIVE_NOISE)]
    plain = simulate(merged(BASE, name="dp-none"), fresh=args.fresh).final
    assert plain.auc is not None
    rows: list[list[object]] = [["none", "-", pts(plain.auc), "0.0", "inf", "inf"]]
    for mode, z in runs:
        dp = {"mode": mode, "noise_multiplier": z, "clipping_norm": CLIPPING_NORM}
        res = simulate(merged(BASE, name=f"dp-{mode}-{z}", dp=dp), fresh=args.fresh)
        final = res.final
        assert final.auc is not None and final.epsilon is not None and res.delta is not None
        theirs = flower_epsilon(res.config, BASE["train"]["rounds"])
        assert theirs is not None
        rows.append(
            [
                mode,
                z,
                pts(final.auc),
                f"{100 * (final.auc - plain.auc):+.1f}",
                f"{final.epsilon:.2f}",
                f"{theirs:.2f}",
            ]
        )
    print_table(
        "40 clients, 15 rounds: test AUC vs client-level epsilon (delta 1e-2)",
        ["DP mode", "noise multiplier", "AUC", "vs non-private", "epsilon (trainguard RDP)", "epsilon (Flower RdpAccountant)"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
