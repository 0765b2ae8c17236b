"""Data side: precision and recall of flagged poisoned rows at poison rates 1 %, 5 %, 10 %.

For each rate and attack (BadNets, blended, SIG; all-to-one, dirty-label) the zoo's
8,000 MNIST training rows are poisoned, the zoo's CNN is trained on them (8 epochs, cached), and
the penultimate activations of the training rows go to our Activation Clustering and
Spectral Signatures and, side by side, to adversarial-robustness-toolbox's
``ActivationDefence`` and ``SpectralSignatureDefense`` (same activations, same
parameters: 10 FastICA dimensions and 2-means; epsilon and the 1.5 factor).
Spectral Signatures gets the true poisoned share of the target class as its epsilon
(the bound the paper assumes the defender knows).

Run: ``flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/backdoor_data_detection.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.backdoor_zoo import MODEL_CONFIG, ZOO, mnist_splits, tensors
from benchmarks.common import print_table
from trainguard.backdoor import (
    ActivationClustering,
    SpectralSignatures,
    badnets_trigger,
    blended_trigger,
    poison_dataset,
    sig_trigger,
)
from trainguard.backdoor._nn import penultimate
from trainguard.core.training import fit, make_loader, seed_everything
from trainguard.core.zoo import build_model, load_model, save_model

RATES = (0.01, 0.05, 0.10)
SHAPE = (1, 28, 28)
TRIGGERS = {
    "badnets": lambda: badnets_trigger(SHAPE, size=4, seed=7),
    "blended": lambda: blended_trigger(SHAPE, alpha=0.15, seed=7),
    "sig": lambda: sig_trigger(SHAPE, delta=0.1, frequency=6),
}
TARGET = 0
EPOCHS = 8  # longer than the zoo: activation-based defences assume a well-trained model


def trained(attack: str, rate: float, x: torch.Tensor, y: torch.Tensor, seed: int) -> nn.Module:
    """The zoo CNN trained on the poisoned rows (cached beside the zoo)."""
    path = ZOO / f"data_{attack}_{int(rate * 100):02d}.pt"
    if path.exists():
        return load_model(path)[0]
    seed_everything(seed)
    model = build_model("cnn", **MODEL_CONFIG)
    fit(model, make_loader(x, y, batch_size=64, shuffle=True, seed=seed), epochs=EPOCHS, lr=2e-3)
    ZOO.mkdir(parents=True, exist_ok=True)
    save_model(model, path, name="cnn", config=MODEL_CONFIG)
    return model


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = float((flagged & truth).sum())
    return hit / max(float(flagged.sum()), 1.0), hit / max(float(truth.sum()), 1.0)


class _Features(nn.Module):
    """What ART sees: a network whose last layer is our model's penultimate layer."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(model.conv, model.fc)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def art_flags(
    model: nn.Module, x: np.ndarray, y: np.ndarray, eps: float
) -> dict[str, tuple[np.ndarray, float]]:
    """ART's two defences on the same penultimate activations; flags and seconds."""
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.estimators.classification import PyTorchClassifier

    feats = _Features(model).eval()
    clf = PyTorchClassifier(
        feats, loss=nn.CrossEntropyLoss(), input_shape=SHAPE, nb_classes=10, clip_values=(0, 1)
    )
    onehot = np.eye(10)[y]
    out = {}
    t0 = time.perf_counter()
    ac = ActivationDefence(clf, x, onehot)
    _, clean = ac.detect_poison(
        nb_clusters=2, nb_dims=10, reduce="FastICA", cluster_analysis="smaller"
    )
    out["activation-clustering"] = (np.asarray(clean) == 0, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ss = SpectralSignatureDefense(
        clf, x, onehot, expected_pp_poison=eps, eps_multiplier=1.5, batch_size=512
    )
    _, clean = ss.detect_poison()
    out["spectral-signatures"] = (np.asarray(clean) == 0, time.perf_counter() - t0)
    return out


def main() -> None:
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(2)
    splits = mnist_splits()
    rows = []
    for r_i, rate in enumerate(RATES):
        for a_i, (attack, make) in enumerate(TRIGGERS.items()):
            pd = poison_dataset(splits.train, make(), rate=rate, target=TARGET, seed=100 + a_i)
            x, y = tensors(pd.dataset)
            model = trained(attack, rate, x, y, seed=200 + 10 * r_i + a_i)
            acts = penultimate(model, x)
            truth = pd.poisoned
            n_target = int((pd.dataset.y == TARGET).sum())
            eps = float(truth.sum()) / n_target
            ours = {
                "activation-clustering": ActivationClustering(seed=0),
                "spectral-signatures": SpectralSignatures(expected_fraction=eps),
            }
            peer = art_flags(model, x.numpy(), pd.dataset.y, eps)
            for name, det in ours.items():
                t0 = time.perf_counter()
                scan = det.fit(acts, pd.dataset.y).scan()
                secs = time.perf_counter() - t0
                p, r = precision_recall(scan.flagged, truth)
                pp, pr = precision_recall(peer[name][0], truth)
                auc = roc_auc_score(truth, scan.scores)
                rows.append([f"{rate:.0%}", attack, name, p, r, auc, pp, pr, secs, peer[name][1]])
            print(f"done {rate:.0%} {attack}", file=sys.stderr, flush=True)
    print_table(
        "Backdoor data side: poisoned rows flagged (ours vs ART 1.20.1)",
        [
            "rate",
            "attack",
            "detector",
            "precision",
            "recall",
            "AUC",
            "ART precision",
            "ART recall",
            "s",
            "ART s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
