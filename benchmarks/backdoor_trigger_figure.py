"""The recovered-trigger picture of docs/backdoor.md, from one trojaned zoo model.

Runs Neural Cleanse (same settings as benchmarks/backdoor_model_detection.py: 500 of
the defender's clean MNIST images, seed = model index) on zoo model ``--index``
(default 7: BadNets, 4x4 patch, target 0) and saves the real trigger beside the ten
reversed ones (``mask * pattern``, titled with their mask L1 norm and anomaly index)
as ``docs/backdoor_triggers.png``.

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/backdoor_trigger_figure.py``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_zoo import load_zoo, mnist_splits, tensors, trigger_of
from benchmarks.common import REPO
from trainguard.backdoor import neural_cleanse
from trainguard.backdoor.stages import trigger_picture
from trainguard.core.run import RunDir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=int, default=7)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "backdoor_triggers.png")
    args = ap.parse_args()
    torch.set_num_threads(2)
    entry, model = load_zoo(args.index + 1)[args.index]
    x = tensors(mnist_splits().defender)[0][:500]
    nc = neural_cleanse(model, x, seed=entry.index)
    titles = [f"real ({entry.attack}, {entry.target})"] + [
        f"{k}: L1 {nc.mask_l1[k]:.0f}, AI {nc.anomaly[k]:.1f}" for k in range(len(nc.triggers))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create("trigger-figure", tmp)
        rel = trigger_picture(run, "triggers", [trigger_of(entry), *nc.triggers], titles)
        shutil.copyfile(run.path / rel, args.out)
    print(
        f"model {entry.index}: flagged {nc.flagged_labels}, target {nc.target}, "
        f"anomaly index {nc.score:.2f}; picture in {args.out}"
    )


if __name__ == "__main__":
    main()
