"""Repair: attack success and clean accuracy before and after, on every trojaned zoo model.

For each trojaned model of the zoo (benchmarks/backdoor_zoo.py) the defender holds the
1,000 clean MNIST rows of the zoo's defender split. The detectors reverse triggers on
the first 500 (the triggers saved by ``backdoor_model_detection.py`` when it has scanned
the model, else run here): Neural Cleanse's mask and pattern of its target and the
neuron-stimulation scan's patch and perturbation on its target. Methods:

- ``unlearning (NC)``: Neural Cleanse's unlearning with its own trigger (Wang et al.
  2019): fine-tune on all 1,000 rows with ``--stamp-fraction`` stamped, true labels.
- ``unlearning (best reversed)``: the same with the reversed trigger of highest attack
  success on the other 500 rows (``--select all``: every trigger within 0.1 of it);
  with ``--rounds 2`` Neural Cleanse then reverses the target's trigger again on the
  repaired model and that one is unlearned on ``--residual-stamp-fraction`` of the rows
  (``unlearn_residual``; same epochs and learning rate).
- ``fine-pruning``: prune the last convolution's dormant channels (stopping at a 4 %
  accuracy drop) and fine-tune on the same rows (Liu et al. 2018).

Attack success uses the real trigger on the 1,000 evaluation rows; s/model excludes
the detectors (their reversal) and includes ranking the triggers. Aim: attack success
at most 5 % with clean accuracy down at most 2 points. Rows per attack and in all. No
peer: ART's Neural Cleanse mitigation needs a Keras classifier and ART has no
Fine-Pruning.

Run (the documented settings): ``flock /tmp/trainguard-heavy.lock .venv/bin/python
benchmarks/backdoor_repair.py --models 40 --epochs 5 --lr 2e-3 --stamp-fraction 0.5
--select all --rounds 2``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_model_detection import (
    ABS_TRIGGERS,
    N_CLEAN_IMAGES,
    SCAN_CACHE,
    TRIGGERS,
    load_reversed,
    save_reversed,
)
from benchmarks.backdoor_zoo import load_zoo, mnist_splits, tensors, trigger_of
from benchmarks.common import print_table
from trainguard.backdoor import (
    RepairResult,
    ReversedTrigger,
    backdoor_test_set,
    choose_reversed_triggers,
    fine_prune,
    neural_cleanse,
    neuron_stimulation_scan,
    rank_reversed_triggers,
    reversed_patch,
    reversed_triggers,
    unlearn,
    unlearn_residual,
)

METHODS = ("unlearning (NC)", "unlearning (best reversed)", "fine-pruning")
ATTACKS = ("badnets", "blended", "sig")


def nc_trigger(model: torch.nn.Module, x: torch.Tensor, index: int) -> ReversedTrigger:
    """NC's trigger for its suspected target: saved by the model-detection scan, or run now."""
    saved = TRIGGERS / f"model_{index:03d}.npz"
    scanned = {r["index"]: r for r in json.loads(SCAN_CACHE.read_text())} if saved.exists() else {}
    if index in scanned and "nc" in scanned[index]:
        with np.load(saved) as z:
            mask, pattern = z["mask"], z["pattern"]
        trig = reversed_patch(mask, pattern)
        return ReversedTrigger("neural-cleanse", int(scanned[index]["nc"][2]), trig)
    return reversed_triggers(nc=neural_cleanse(model, x, seed=index))[0]


def abs_triggers(model: torch.nn.Module, x: torch.Tensor, index: int) -> list[ReversedTrigger]:
    """The stimulation scan's triggers (patch, perturbation): saved by the scan, or run now."""
    saved = ABS_TRIGGERS / f"model_{index:03d}.npz"
    if not saved.exists():
        found = reversed_triggers(stimulation=neuron_stimulation_scan(model, x, seed=index))
        save_reversed(saved, found)
    return load_reversed(saved)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--only", default="", help="comma-separated zoo indices (a subset)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stamp-fraction", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--select", default="best", choices=("best", "all"))
    ap.add_argument(
        "--tolerance", type=float, default=0.1, help="with --select all: how far below the best"
    )
    ap.add_argument(
        "--rounds", type=int, default=1, help="best reversed: reverse-then-unlearn rounds in all"
    )
    ap.add_argument("--residual-stamp-fraction", type=float, default=0.2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    methods = [m for m in METHODS if m in args.methods.split(",")]
    only = {int(i) for i in args.only.split(",") if i}
    splits = mnist_splits()
    xd, yd = tensors(splits.defender)
    x_rev, x_hold = xd[:N_CLEAN_IMAGES], xd[N_CLEAN_IMAGES:]
    test = tensors(splits.evaluation)
    schedule = {"epochs": args.epochs, "lr": args.lr}
    rows: dict[str, list[tuple[str, float, float, float, float, float]]] = {m: [] for m in methods}
    picked: Counter[str] = Counter()
    for entry, model in load_zoo(args.models):
        if not entry.trojaned or (only and entry.index not in only):
            continue
        bt = backdoor_test_set(splits.evaluation, trigger_of(entry), target=entry.target)
        triggered = tensors(bt)
        common = {"seed": entry.index, "test": test, "triggered": triggered}
        nc = nc_trigger(model, x_rev, entry.index)
        found = [nc, *abs_triggers(model, x_rev, entry.index)] if METHODS[1] in methods else []
        results: dict[str, tuple[RepairResult, float]] = {}
        for method in methods:
            t0 = time.perf_counter()
            if method == "fine-pruning":
                rep = fine_prune(model, xd, yd, **schedule, **common)  # type: ignore[arg-type]
            elif method == "unlearning (NC)":
                rep = unlearn(
                    model,
                    xd,
                    yd,
                    nc.trigger,
                    stamp_fraction=args.stamp_fraction,
                    **schedule,
                    **common,  # type: ignore[arg-type]
                )
            else:
                ranked = rank_reversed_triggers(model, found, x_hold)
                chosen = choose_reversed_triggers(
                    ranked, select=args.select, tolerance=args.tolerance
                )
                picked.update(c.source for c in chosen)
                rep = unlearn(
                    model,
                    xd,
                    yd,
                    [c.trigger for c in chosen],
                    stamp_fraction=args.stamp_fraction,
                    **schedule,
                    **common,  # type: ignore[arg-type]
                )
                rep, _ = unlearn_residual(
                    rep,
                    xd,
                    yd,
                    ranked[0].label,
                    rounds=args.rounds - 1,
                    x_reverse=x_rev,
                    stamp_fraction=args.residual_stamp_fraction,
                    **schedule,
                    **common,  # type: ignore[arg-type]
                )
            results[method] = (rep, time.perf_counter() - t0)
        for method, (rep, secs) in results.items():
            assert rep.before.attack_success is not None and rep.after.attack_success is not None
            rows[method].append(
                (
                    entry.attack,
                    rep.before.attack_success,
                    rep.after.attack_success,
                    rep.before.clean_accuracy,
                    rep.after.clean_accuracy,
                    secs,
                )
            )
        line = "; ".join(
            f"{m} asr {r.after.attack_success:.3f} acc {r.after.clean_accuracy:.3f}"
            for m, (r, _) in results.items()
        )
        print(f"model {entry.index} {entry.attack}: {line}", file=sys.stderr, flush=True)
    table = []
    for method, res in rows.items():
        for attack in (*ATTACKS, "all"):
            sel = [r for r in res if attack in (r[0], "all")]
            if not sel:
                continue
            a = np.array([r[1:] for r in sel], dtype=float)
            drop = (a[:, 2] - a[:, 3]) * 100
            ok = (a[:, 1] <= 0.05) & (drop <= 2.0)
            table.append(
                [
                    method,
                    attack,
                    len(a),
                    float(a[:, 0].mean()),
                    float(a[:, 1].mean()),
                    float(a[:, 1].max()),
                    float(drop.mean()),
                    float(drop.max()),
                    f"{int(ok.sum())}/{len(a)}",
                    float(a[:, 4].mean()),
                ]
            )
    print_table(
        f"Backdoor repair on the trojaned zoo models ({args.epochs} epochs, lr {args.lr:g}, "
        f"{args.stamp_fraction:.0%} stamped, select {args.select}, {args.rounds} round(s))",
        [
            "method",
            "attack",
            "models",
            "ASR before",
            "ASR after (mean)",
            "ASR after (max)",
            "acc drop pts (mean)",
            "acc drop pts (max)",
            "meet aim",
            "s/model",
        ],
        table,
    )
    if picked:
        print("\nreversed triggers unlearned: " + ", ".join(f"{k} {v}" for k, v in picked.items()))


if __name__ == "__main__":
    main()
