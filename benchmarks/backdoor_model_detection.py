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
from trainguard.backdoor import (
    ImageTrigger,
    ReversedTrigger,
    neural_cleanse,
    neuron_stimulation_scan,
    reversed_triggers,
)
from trainguard.backdoor.neuron_stimulation import STIMULATION_STEPS

N_CLEAN_IMAGES = 500


SCAN_CACHE = ZOO / "scan_results_v2.json"
"""Per-model results of the current detectors (v2: NC with the authors' lambda schedule
and early stop, ABS with the logit term; an ABS result scanned with another step count
than ``STIMULATION_STEPS`` is redone); ``nc_triggers/`` holds NC's target triggers."""
TRIGGERS = ZOO / "nc_triggers"
ABS_TRIGGERS = ZOO / "abs_triggers"
"""The stimulation scan's reversed triggers on its suspected target, one per form."""


def save_reversed(path: Path, found: list[ReversedTrigger]) -> None:
    """Save reversed triggers (sources, labels, masks, patterns, signals) as one .npz."""
    path.parent.mkdir(exist_ok=True)
    np.savez(
        path,
        sources=np.array([f.source for f in found]),
        labels=np.array([f.label for f in found]),
        masks=np.stack([f.trigger.mask for f in found]),
        patterns=np.stack([f.trigger.pattern for f in found]),
        signals=np.stack([f.trigger.signal for f in found]),
    )


def load_reversed(path: Path) -> list[ReversedTrigger]:
    """Reversed triggers saved by :func:`save_reversed`."""
    with np.load(path) as z:
        return [
            ReversedTrigger(str(src), int(lab), ImageTrigger("reversed", m, p, s))
            for src, lab, m, p, s in zip(
                z["sources"], z["labels"], z["masks"], z["patterns"], z["signals"], strict=True
            )
        ]


def _scan(model: torch.nn.Module, x: torch.Tensor, detector: str, index: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    if detector == "nc":
        nc = neural_cleanse(model, x, seed=index)
        trig = nc.triggers[nc.target]
        TRIGGERS.mkdir(exist_ok=True)
        np.savez(TRIGGERS / f"model_{index:03d}.npz", mask=trig.mask, pattern=trig.pattern)
        return {
            "nc": [nc.trojaned, nc.score, nc.target, time.perf_counter() - t0],
            "nc_l1": nc.mask_l1.round(3).tolist(),
        }
    st = neuron_stimulation_scan(model, x, seed=index)
    save_reversed(ABS_TRIGGERS / f"model_{index:03d}.npz", reversed_triggers(stimulation=st))
    return {
        "abs": [st.trojaned, st.score, st.target, time.perf_counter() - t0],
        "abs_steps": STIMULATION_STEPS,
        "abs_candidates": [
            [c.layer, c.neuron, c.label, round(c.elevation, 3), c.reasr] for c in st.candidates
        ],
    }


def run_detectors(models: int, detectors: list[str]) -> list[dict[str, Any]]:
    """Scan the zoo (results cached per model and detector in ``SCAN_CACHE``)."""
    done = (
        {r["index"]: r for r in json.loads(SCAN_CACHE.read_text())} if SCAN_CACHE.exists() else {}
    )
    x = tensors(mnist_splits().defender)[0][:N_CLEAN_IMAGES]
    for entry, model in load_zoo(models):
        rec = done.setdefault(
            entry.index,
            {
                "index": entry.index,
                "trojaned": entry.trojaned,
                "attack": entry.attack,
                "target": entry.target,
            },
        )
        if rec.get("abs_steps") != STIMULATION_STEPS:  # scanned with other settings
            rec.pop("abs", None)
        todo = [d for d in detectors if d not in rec]
        for d in todo:
            rec.update(_scan(model, x, d, entry.index))
        if todo:
            print(json.dumps(rec), file=sys.stderr, flush=True)
            tmp = SCAN_CACHE.with_suffix(".tmp")
            tmp.write_text(json.dumps(list(done.values())))
            tmp.replace(SCAN_CACHE)
    return [done[i] for i in range(models)]


def main() -> None:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument(
        "--detectors", default="nc,abs", help="which to run now (cached results are reused)"
    )
    ap.add_argument("--no-table", action="store_true", help="only scan (fill the cache)")
    ap.add_argument(
        "--first",
        type=int,
        default=0,
        help="table over zoo models first..models-1 (e.g. --first 40 --models 60: models "
        "built after every setting was chosen)",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    recs = run_detectors(args.models, args.detectors.split(","))[args.first :]
    if args.no_table:
        return
    truth = np.array([bool(r["trojaned"]) for r in recs])
    names = {"nc": "Neural Cleanse", "abs": "neuron stimulation (ABS)", "either": "NC or ABS"}
    keys = [k for k in ("nc", "abs") if all(k in r for r in recs)]
    if len(keys) == 2:
        keys.append("either")
        for r in recs:  # either detector flags; the target of the one that flagged (NC first)
            nc, ab = r["nc"], r["abs"]
            flagged = bool(nc[0] or ab[0])
            target = nc[2] if nc[0] else ab[2]
            score = max(float(nc[1]) / 2.0, float(ab[1]) / 0.9)
            r["either"] = [flagged, score, target, nc[3] + ab[3]]
    rows = []
    for key, name in ((k, names[k]) for k in keys):
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
        f"Backdoor model side: {len(recs)} MNIST CNNs ({int(truth.sum())} trojaned; zoo models "
        f"{args.first}-{args.models - 1})",
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
