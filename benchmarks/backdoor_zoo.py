"""The backdoor benchmark zoo: small MNIST CNNs, half clean, half trojaned (cached on disk).

MNIST's 10,000 test images (../shared/data/mnist) are shuffled with seed 0 and split:
8,000 training rows, 1,000 clean rows the defender holds (detectors, repair) and 1,000
evaluation rows (clean accuracy, attack success). Model ``i`` is trojaned when ``i`` is
odd; its attack (BadNets, blended or SIG, all dirty-label all-to-one), trigger, target
and poison rate are drawn from ``default_rng([1000 + i, attempt])``. A trojaned model
must reach an attack success rate of at least 90 % on the evaluation rows (a backdoor
that does not work is no backdoor); otherwise the next attempt draws a new attack.

Build once (about 4 s per model on 2 cores): ``flock /tmp/trainguard-heavy.lock
.venv/bin/python benchmarks/backdoor_zoo.py --models 40``. Models land in
``~/.cache/trainguard/backdoor-zoo/`` (``TRAINGUARD_CACHE`` moves it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA
from trainguard.backdoor import (
    ImageTrigger,
    attack_success_rate,
    backdoor_test_set,
    badnets_trigger,
    blended_trigger,
    poison_dataset,
    sig_trigger,
)
from trainguard.core.datasets import Dataset, load_mnist
from trainguard.core.training import (
    evaluate,
    fit,
    make_loader,
    seed_everything,
)
from trainguard.core.zoo import build_model, load_model, save_model

CACHE = Path(os.environ.get("TRAINGUARD_CACHE", Path.home() / ".cache" / "trainguard"))
ZOO = CACHE / "backdoor-zoo"
MODEL_CONFIG = {"in_shape": [1, 28, 28], "n_classes": 10, "width": 8, "hidden": 64}
EPOCHS = 4
SHAPE = (1, 28, 28)
MIN_ATTACK_SUCCESS = 0.9
MAX_ATTEMPTS = 5


@dataclass
class ZooEntry:
    """One zoo model: its file, whether it is trojaned, the attack and measured figures."""

    index: int
    file: str
    trojaned: bool
    attack: str = "none"
    target: int = -1
    rate: float = 0.0
    trigger_params: dict[str, float] | None = None
    clean_accuracy: float = 0.0
    attack_success: float | None = None
    attempt: int = 0
    train_seconds: float = 0.0


@dataclass
class Splits:
    """The three MNIST splits every benchmark uses."""

    train: Dataset
    defender: Dataset
    evaluation: Dataset


def mnist_splits() -> Splits:
    """MNIST test images shuffled with seed 0: 8,000 train / 1,000 defender / 1,000 eval."""
    ds = load_mnist(SHARED_DATA / "mnist")
    order = np.random.default_rng(0).permutation(len(ds))
    return Splits(
        ds.subset(order[:8000]), ds.subset(order[8000:9000]), ds.subset(order[9000:10000])
    )


def draw_attack(
    index: int, attempt: int = 0
) -> tuple[str, ImageTrigger, int, float, dict[str, float]]:
    """The attack of zoo model ``index``: name, trigger, target, poison rate, parameters."""
    rng = np.random.default_rng([1000 + index, attempt])
    attack = str(rng.choice(["badnets", "blended", "sig"]))
    target = int(rng.integers(0, 10))
    rate = float(rng.uniform(0.02, 0.10))
    seed = int(rng.integers(0, 2**31))
    if attack == "badnets":
        size = int(rng.integers(3, 6))
        trig = badnets_trigger(SHAPE, size=size, seed=seed)
        params = {"size": float(size)}
    elif attack == "blended":
        alpha = float(rng.uniform(0.1, 0.2))
        trig = blended_trigger(SHAPE, alpha=alpha, seed=seed)
        params = {"alpha": alpha}
    else:
        delta = float(rng.uniform(0.06, 0.12))
        freq = float(rng.integers(4, 9))
        trig = sig_trigger(SHAPE, delta=delta, frequency=freq)
        params = {"delta": delta, "frequency": freq}
    return attack, trig, target, rate, params


def tensors(ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of ``ds`` as tensors."""
    return torch.from_numpy(np.ascontiguousarray(ds.X)), torch.from_numpy(ds.y)


def _train(train: Dataset, seed: int) -> torch.nn.Module:
    seed_everything(seed)
    model = build_model("cnn", **MODEL_CONFIG)
    x, y = tensors(train)
    fit(model, make_loader(x, y, batch_size=64, shuffle=True, seed=seed), epochs=EPOCHS, lr=2e-3)
    return model


def train_entry(index: int, splits: Splits) -> ZooEntry:
    """Train zoo model ``index`` (redrawing a trojan's attack until it works) and save it."""
    t0 = time.perf_counter()
    entry = ZooEntry(index=index, file=f"model_{index:03d}.pt", trojaned=index % 2 == 1)
    xe, ye = tensors(splits.evaluation)
    if not entry.trojaned:
        model = _train(splits.train, index)
    for attempt in range(MAX_ATTEMPTS if entry.trojaned else 0):
        entry.attempt = attempt
        entry.attack, trig, entry.target, entry.rate, entry.trigger_params = draw_attack(
            index, attempt
        )
        pd = poison_dataset(splits.train, trig, rate=entry.rate, target=entry.target, seed=index)
        model = _train(pd.dataset, index)
        bt = backdoor_test_set(splits.evaluation, trig, target=entry.target)
        entry.attack_success = attack_success_rate(model, *tensors(bt))
        if entry.attack_success >= MIN_ATTACK_SUCCESS:
            break
    entry.clean_accuracy = evaluate(model, make_loader(xe, ye, batch_size=1000))["accuracy"]
    entry.train_seconds = time.perf_counter() - t0
    save_model(model, ZOO / entry.file, name="cnn", config=MODEL_CONFIG)
    return entry


def build_zoo(n_models: int) -> list[ZooEntry]:
    """Train the models not yet cached; return every entry (manifest ``zoo.json``)."""
    ZOO.mkdir(parents=True, exist_ok=True)
    manifest = ZOO / "zoo.json"
    known = (
        {e["index"]: ZooEntry(**e) for e in json.loads(manifest.read_text())}
        if manifest.exists()
        else {}
    )
    splits = mnist_splits()
    for i in range(n_models):
        if i in known and (ZOO / known[i].file).exists():
            continue
        known[i] = train_entry(i, splits)
        e = known[i]
        print(
            f"model {i:3d} {'trojan ' + e.attack if e.trojaned else 'clean':14s} "
            f"acc {e.clean_accuracy:.3f} asr {e.attack_success} ({e.train_seconds:.1f} s)",
            flush=True,
        )
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(v) for _, v in sorted(known.items())], indent=1))
        tmp.replace(manifest)
    return [known[i] for i in range(n_models)]


def load_zoo(n_models: int) -> list[tuple[ZooEntry, torch.nn.Module]]:
    """The first ``n_models`` zoo models (built when missing) with their entries."""
    return [(e, load_model(ZOO / e.file)[0]) for e in build_zoo(n_models)]


def trigger_of(entry: ZooEntry) -> ImageTrigger:
    """Rebuild the trigger of a trojaned entry from its seeded draw."""
    return draw_attack(entry.index, entry.attempt)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    entries = build_zoo(args.models)
    troj = [e for e in entries if e.trojaned]
    print(
        f"zoo: {len(entries)} models ({len(troj)} trojaned) in {ZOO}; "
        f"clean accuracy {min(e.clean_accuracy for e in entries):.3f}-{max(e.clean_accuracy for e in entries):.3f}, "
        f"attack success {min(e.attack_success or 0 for e in troj):.3f}-{max(e.attack_success or 0 for e in troj):.3f}; "
        f"{time.perf_counter() - t0:.0f} s this call"
    )


if __name__ == "__main__":
    main()
