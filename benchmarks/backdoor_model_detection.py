"""Model side: is each zoo model trojaned, and on which label?

Runs Neural Cleanse and the neuron-stimulation (ABS-style) scan on every model of the
zoo (benchmarks/backdoor_zoo.py; half clean, half trojaned with BadNets, blended or SIG
triggers) with 500 of the defender's clean MNIST images, and reports per detector the
detection accuracy, the AUC of its model-level score, the target-label accuracy on the
trojaned models and the seconds per model. No peer runs here: ART's Neural Cleanse
needs a Keras classifier and ART has no ABS.

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/backdoor_model_detection.py --models 40``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_zoo import ZOO, load_zoo, mnist_splits, tensors
from benchmarks.common import print_table
from trainguard.backdoor import neural_cleanse, neuron_stimulation_scan

N_CLEAN_IMAGES = 500


def run_detectors(models: int) -> list[dict[str, Any]]:
    """Scan the zoo (results cached in ``scan_results.json`` beside the zoo)."""
    cache = ZOO / "scan_results.json"
    done = {r["index"]: r for r in json.loads(cache.read_text())} if cache.exists() else {}
    x = tensors(mnist_splits().defender)[0][:N_CLEAN_IMAGES]
    for entry, model in load_zoo(models):
        if entry.index in done:
            continue
        rec: dict[str, Any] = {
            "index": entry.index,
            "trojaned": entry.trojaned,
            "attack": entry.attack,
            "target": entry.target,
        }
        t0 = time.perf_counter()
        nc = neural_cleanse(model, x, seed=entry.index)
        rec["nc"] = [nc.trojaned, nc.score, nc.target, time.perf_counter() - t0]
        rec["nc_l1"] = nc.mask_l1.round(3).tolist()
        t0 = time.perf_counter()
        st = neuron_stimulation_scan(model, x, seed=entry.index)
        rec["abs"] = [st.trojaned, st.score, st.target, time.perf_counter() - t0]
        rec["abs_candidates"] = [
            [
                c.layer,
                c.neuron,
                c.label,
                round(c.elevation, 3),
                c.reasr,
                c.trigger.name if c.trigger else "",
            ]
            for c in st.candidates
        ]
        done[entry.index] = rec
        print(json.dumps(rec), file=sys.stderr, flush=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(done.values())))
        tmp.replace(cache)
    return [done[i] for i in range(models)]


def main() -> None:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(2)
    recs = run_detectors(args.models)
    truth = np.array([bool(r["trojaned"]) for r in recs])
    for r in recs:  # either detector flags; the target of the one that flagged (NC first)
        nc, ab = r["nc"], r["abs"]
        flagged = bool(nc[0] or ab[0])
        target = nc[2] if nc[0] else ab[2]
        r["either"] = [flagged, max(float(nc[1]) / 2.0, float(ab[1]) / 0.9), target, nc[3] + ab[3]]
    rows = []
    for key, name in (
        ("nc", "Neural Cleanse"),
        ("abs", "neuron stimulation (ABS)"),
        ("either", "NC or ABS"),
    ):
        flag = np.array([bool(r[key][0]) for r in recs])
        score = np.array([float(r[key][1]) for r in recs])
        secs = np.array([float(r[key][3]) for r in recs])
        hits = [r[key][2] == r["target"] for r in recs if r["trojaned"]]
        per_attack = {
            a: float(np.mean([r[key][0] for r in recs if r["attack"] == a]))
            for a in ("badnets", "blended", "sig")
        }
        rows.append(
            [
                name,
                float((flag == truth).mean()),
                float(roc_auc_score(truth, score)),
                float(np.mean(hits)),
                float(flag[~truth].mean()),
                per_attack["badnets"],
                per_attack["blended"],
                per_attack["sig"],
                float(secs.mean()),
            ]
        )
    print_table(
        f"Backdoor model side: {len(recs)} MNIST CNNs ({int(truth.sum())} trojaned)",
        [
            "detector",
            "detection accuracy",
            "AUC",
            "target accuracy",
            "false-positive rate",
            "TPR badnets",
            "TPR blended",
            "TPR sig",
            "s/model",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
