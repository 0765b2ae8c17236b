"""Repair: attack success and clean accuracy before and after, on every trojaned zoo model.

For each trojaned model of the zoo (benchmarks/backdoor_zoo.py) the defender holds the
1,000 clean MNIST rows of the zoo's defender split: Neural Cleanse reverses the trigger
of its suspected target on 500 of them (the trigger saved by
``backdoor_model_detection.py`` when it has scanned the model, else run here) and
unlearning fine-tunes on all 1,000 with ``--stamp-fraction`` (20 %) stamped
(Wang et al. 2019); Fine-Pruning prunes the last convolution's dormant channels
(stopping at a 4 % accuracy drop) and fine-tunes on the same rows (Liu et al. 2018).
Attack success uses the real trigger on the 1,000 evaluation rows. Aim: attack success
at most 5 % with clean accuracy down at most 2 points. No peer: ART's Neural Cleanse
mitigation needs a Keras classifier and ART has no Fine-Pruning.

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/backdoor_repair.py --models 40``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_model_detection import N_CLEAN_IMAGES, TRIGGERS
from benchmarks.backdoor_zoo import load_zoo, mnist_splits, tensors, trigger_of
from benchmarks.common import print_table
from trainguard.backdoor import (
    ImageTrigger,
    backdoor_test_set,
    fine_prune,
    neural_cleanse,
    unlearn,
)


def reversed_trigger(model: torch.nn.Module, x: torch.Tensor, index: int) -> ImageTrigger:
    """NC's trigger for its suspected target: saved by the model-detection scan, or run now."""
    saved = TRIGGERS / f"model_{index:03d}.npz"
    if saved.exists():
        with np.load(saved) as z:
            mask, pattern = z["mask"], z["pattern"]
        return ImageTrigger("reversed", mask, pattern, np.zeros_like(pattern))
    nc = neural_cleanse(model, x[:N_CLEAN_IMAGES], seed=index)
    return nc.triggers[nc.target]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stamp-fraction", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    splits = mnist_splits()
    xd, yd = tensors(splits.defender)
    test = tensors(splits.evaluation)
    results: dict[str, list[tuple[float, float, float, float, float]]] = {
        "unlearning": [],
        "fine-pruning": [],
    }
    for entry, model in load_zoo(args.models):
        if not entry.trojaned:
            continue
        bt = backdoor_test_set(splits.evaluation, trigger_of(entry), target=entry.target)
        triggered = tensors(bt)
        t0 = time.perf_counter()
        rep = unlearn(
            model,
            xd,
            yd,
            reversed_trigger(model, xd, entry.index),
            stamp_fraction=args.stamp_fraction,
            lr=args.lr,
            epochs=args.epochs,
            seed=entry.index,
            test=test,
            triggered=triggered,
        )
        secs = time.perf_counter() - t0
        t0 = time.perf_counter()
        fp = fine_prune(
            model, xd, yd, epochs=args.epochs, seed=entry.index, test=test, triggered=triggered
        )
        fp_secs = time.perf_counter() - t0
        for name, r, s in (("unlearning", rep, secs), ("fine-pruning", fp, fp_secs)):
            assert r.before.attack_success is not None and r.after.attack_success is not None
            results[name].append(
                (
                    r.before.attack_success,
                    r.after.attack_success,
                    r.before.clean_accuracy,
                    r.after.clean_accuracy,
                    s,
                )
            )
        print(
            f"model {entry.index} {entry.attack}: unlearning asr {rep.after.attack_success:.3f} "
            f"acc {rep.after.clean_accuracy:.3f}; fine-pruning asr {fp.after.attack_success:.3f} "
            f"acc {fp.after.clean_accuracy:.3f}",
            file=sys.stderr,
            flush=True,
        )
    rows = []
    for name, res in results.items():
        a = np.array(res)
        drop = (a[:, 2] - a[:, 3]) * 100
        ok = (a[:, 1] <= 0.05) & (drop <= 2.0)
        rows.append(
            [
                name,
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
        "Backdoor repair on the trojaned zoo models",
        [
            "method",
            "models",
            "ASR before",
            "ASR after (mean)",
            "ASR after (max)",
            "acc drop pts (mean)",
            "acc drop pts (max)",
            "meet aim",
            "s/model",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
