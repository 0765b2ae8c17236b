"""Input side: STRIP's detection rate of triggered inputs and false rejections of clean ones.

For each trojaned model of the zoo (benchmarks/backdoor_zoo.py) STRIP is fitted on the
zoo's 1,000 defender rows (its superimposition pool and the clean entropies that set
the boundary at a 1 % false-rejection rate), then screens ``--rows`` clean evaluation
rows (false-rejection rate) and ``--rows`` of their triggered copies stamped with the
model's real trigger (detection rate), with ``--perturbations`` superimposed copies
each. Beside it, adversarial-robustness-toolbox's STRIP on the same model, pool and
inputs with the same number of copies and the same 1 % quantile (its
``false_acceptance_rate``): ART averages the two images (alpha 0.5) and takes the
entropy of each class across the copies, where ours follows the paper (saturated sum,
entropy of each copy's prediction).

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/backdoor_strip.py --models 40``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_zoo import SHAPE, load_zoo, mnist_splits, tensors, trigger_of
from benchmarks.common import print_table
from trainguard.backdoor import Strip, backdoor_test_set

FRR = 0.01


def art_strip_flags(
    model: nn.Module, pool: np.ndarray, clean: np.ndarray, triggered: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """ART's STRIP (abstains on suspected inputs): flags on clean and on triggered inputs."""
    from art.defences.transformer.poisoning import STRIP
    from art.estimators.classification import PyTorchClassifier

    probs = nn.Sequential(model, nn.Softmax(dim=1)).eval()  # ART takes entropies of outputs
    clf = PyTorchClassifier(
        probs, loss=nn.CrossEntropyLoss(), input_shape=SHAPE, nb_classes=10, clip_values=(0, 1)
    )
    np.random.seed(seed)  # ART draws its superimposed images from the global generator
    defended = STRIP(clf)(num_samples=n, false_acceptance_rate=FRR)
    defended.mitigate(pool)  # type: ignore[attr-defined]

    def abstained(x: np.ndarray) -> np.ndarray:
        return np.asarray(~defended.predict(x).any(axis=1))

    return abstained(clean), abstained(triggered)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--perturbations", type=int, default=100)
    ap.add_argument("--no-art", action="store_true", help="skip the ART peer")
    ap.add_argument(
        "--boundary",
        default="normal",
        choices=("normal", "umbrella"),
        help="ours: the paper's normal fit, or the umbrella order statistic (FRR <= 1 %% at 95 %%)",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    splits = mnist_splits()
    pool = tensors(splits.defender)[0]
    per_model: list[tuple[str, float, float, float, float, float, float]] = []
    for entry, model in load_zoo(args.models):
        if not entry.trojaned:
            continue
        bt = backdoor_test_set(splits.evaluation, trigger_of(entry), target=entry.target)
        clean = tensors(splits.evaluation)[0][: args.rows]
        trig = tensors(bt)[0][: args.rows]
        t0 = time.perf_counter()
        strip = Strip(
            model,
            n_perturbations=args.perturbations,
            frr=FRR,
            boundary=args.boundary,
            seed=entry.index,
        )
        strip.fit(pool)
        ours = (float(strip.predict(clean).mean()), float(strip.predict(trig).mean()))
        secs = time.perf_counter() - t0
        peer = (float("nan"), float("nan"))
        peer_secs = float("nan")
        if not args.no_art:
            t0 = time.perf_counter()
            fc, ft = art_strip_flags(
                model, pool.numpy(), clean.numpy(), trig.numpy(), args.perturbations, entry.index
            )
            peer, peer_secs = (float(fc.mean()), float(ft.mean())), time.perf_counter() - t0
        per_model.append((entry.attack, *ours, secs, *peer, peer_secs))
        print(
            f"model {entry.index} {entry.attack}: ours FRR {ours[0]:.3f} TPR {ours[1]:.3f}; "
            f"ART FRR {peer[0]:.3f} TPR {peer[1]:.3f}",
            file=sys.stderr,
            flush=True,
        )
    rows = []
    for attack in ("badnets", "blended", "sig", "all"):
        sel = [r for r in per_model if attack in ("all", r[0])]
        if not sel:
            continue
        a = np.array([r[1:] for r in sel], dtype=np.float64)
        rows.append(
            [
                attack,
                len(sel),
                float(a[:, 1].mean()),
                float(a[:, 0].mean()),
                float(a[:, 4].mean()),
                float(a[:, 3].mean()),
                float(a[:, 1].mean() / a[:, 4].mean()) if a[:, 4].mean() > 0 else float("nan"),
                float(a[:, 2].mean()),
                float(a[:, 5].mean()),
            ]
        )
    print_table(
        f"Backdoor input side: STRIP on the trojaned zoo models "
        f"({args.rows} clean + {args.rows} triggered inputs each, N={args.perturbations}, "
        f"boundary at {FRR:.0%} FRR, ours by {args.boundary}; ours vs ART 1.20.1)",
        [
            "attack",
            "models",
            "detection rate",
            "false rejections",
            "ART detection rate",
            "ART false rejections",
            "ratio (detection)",
            "s/model",
            "ART s/model",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
