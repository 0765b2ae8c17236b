"""Dataset-watermark ownership test on MNIST: marked vs clean models, and after fine-tuning.

MNIST's 10,000 test images (../shared/data/mnist) are split 8,000 / 2,000 (stratified,
seed 0). For each marking rate (1 % and 5 %) 20 SmallCNN models are trained on copies
marked with 20 different keys, and 20 on the clean 8,000; every model is also
fine-tuned on 2,000 clean training images. Reported: the true-positive rate (marked
model identified at p < 0.01), the false-positive rate over every (clean model, key)
pair and over (marked model, another owner's key) pairs, the clean-accuracy cost, and
the verdicts after fine-tuning.

Heavy: run under ``flock /tmp/trainguard-heavy.lock``. Models are cached in
``~/.cache/trainguard/watermark/``.

    flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/watermark_bench.py
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import SHARED_DATA, print_table
from trainguard.core.datasets import Dataset, load_mnist
from trainguard.core.training import (
    TrainedModel,
    evaluate,
    fit,
    load_trained,
    make_loader,
    save_trained,
    train_model,
)
from trainguard.provenance.watermark import ImageWatermark, prove_ownership, watermark_images

CACHE = Path.home() / ".cache" / "trainguard" / "watermark"
SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class Config:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    alpha: float = 0.1
    ft_epochs: int = 3
    ft_rows: int = 2000

    @property
    def tag(self) -> str:
        return f"e{self.epochs}-b{self.batch_size}-lr{self.lr:g}-a{self.alpha:g}"


def key_for(rate: float, seed: int) -> bytes:
    return hashlib.sha256(f"trainguard-watermark-bench/{rate}/{seed}".encode()).digest()


def cached_model(path: Path, train: Dataset, cfg: Config, seed: int) -> TrainedModel:
    if path.is_file():
        return load_trained(path)
    tm = train_model(
        train, model_name="cnn", epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed
    )
    save_trained(tm, path)
    return tm


def fine_tuned(
    path: Path, tm: TrainedModel, clean: Dataset, cfg: Config, seed: int
) -> TrainedModel:
    if path.is_file():
        return load_trained(path)
    part = clean.head(cfg.ft_rows, seed=seed)
    x, y = tm.tensors(part)
    fit(
        tm.model,
        make_loader(x, y, batch_size=cfg.batch_size, shuffle=True, seed=seed),
        epochs=cfg.ft_epochs,
        lr=cfg.lr,
    )
    save_trained(tm, path)
    return tm


def accuracy(tm: TrainedModel, test: Dataset) -> float:
    x, y = tm.tensors(test)
    return evaluate(tm.model, make_loader(x, y, batch_size=1000))["accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--rates", type=float, nargs="+", default=[0.01, 0.05])
    ap.add_argument("--epochs", type=int, default=Config.epochs)
    ap.add_argument(
        "--contrast", type=float, default=0.0, help="fraction of samples given decoy patterns"
    )
    args = ap.parse_args()
    cfg = Config(epochs=args.epochs)
    torch.set_num_threads(1)
    ds = load_mnist(SHARED_DATA / "mnist")
    train, test = ds.split(0.2, seed=0)
    cache = CACHE / cfg.tag
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    clean_acc, clean_acc_ft, clean_models, clean_ft = [], [], [], []
    for s in range(args.models):
        tm = cached_model(cache / f"clean-s{s}.pt", train, cfg, s)
        clean_models.append(tm)
        clean_acc.append(accuracy(tm, test))
        ft = fine_tuned(
            cache / f"clean-s{s}-ft.pt", load_trained(cache / f"clean-s{s}.pt"), train, cfg, s
        )
        clean_ft.append(ft)
        clean_acc_ft.append(accuracy(ft, test))
        print(f"clean model {s}: accuracy {clean_acc[-1]:.4f}", flush=True)

    rows, records, marked_models = [], [], []
    for rate in args.rates:
        acc, p, dp, wsr, p_ft, acc_ft = [], [], [], [], [], []
        for s in range(args.models):
            key = key_for(rate, s)
            marked, rec = watermark_images(
                train, key, rate=rate, alpha=cfg.alpha, contrast=args.contrast
            )
            stem = f"marked-r{rate:g}" + (f"-c{args.contrast:g}" if args.contrast else "")
            tm = cached_model(cache / f"{stem}-s{s}.pt", marked, cfg, s)
            res = prove_ownership(tm, rec, key, significance=SIGNIFICANCE)
            ft = fine_tuned(
                cache / f"{stem}-s{s}-ft.pt",
                load_trained(cache / f"{stem}-s{s}.pt"),
                train,
                cfg,
                s,
            )
            res_ft = prove_ownership(ft, rec, key, significance=SIGNIFICANCE)
            acc.append(accuracy(tm, test))
            acc_ft.append(accuracy(ft, test))
            p.append(res.p_value)
            dp.append(res.effect)
            wsr.append(res.details["watermark_success_rate"])
            p_ft.append(res_ft.p_value)
            records.append((rate, s, rec, key))
            marked_models.append((rate, s, tm))
            print(
                f"rate {rate:g} model {s}: p={res.p_value:.2e} dP={res.effect:.3f} "
                f"acc={acc[-1]:.4f}  after fine-tuning p={res_ft.p_value:.2e}",
                flush=True,
            )
        pa, pfa = np.array(p), np.array(p_ft)
        rows.append(
            [
                f"{rate:.0%}",
                args.models,
                f"{np.mean(pa < SIGNIFICANCE):.0%}",
                f"{np.median(pa):.2e}",
                float(np.mean(dp)),
                float(np.mean(wsr)),
                f"{np.mean(acc):.4f}",
                f"{100 * (np.mean(clean_acc) - np.mean(acc)):+.2f}",
                f"{np.mean(pfa < SIGNIFICANCE):.0%}",
                f"{np.median(pfa):.2e}",
                f"{100 * (np.mean(clean_acc_ft) - np.mean(acc_ft)):+.2f}",
            ]
        )

    # Null trials: every clean model against every key; marked models against other owners' keys.
    def identified(tm: TrainedModel, rec: ImageWatermark, key: bytes) -> bool:
        return prove_ownership(tm, rec, key, significance=SIGNIFICANCE).identified

    clean_trials = [identified(m, rec, key) for m in clean_models for (_, _, rec, key) in records]
    clean_ft_trials = [identified(m, rec, key) for m in clean_ft for (_, _, rec, key) in records]
    cross = [
        identified(tm, rec, key)
        for (r1, s1, tm) in marked_models
        for (r2, s2, rec, key) in records
        if (r1, s1) != (r2, s2)
    ]
    elapsed = time.perf_counter() - t0
    print_table(
        "Watermark ownership test on MNIST (SmallCNN, "
        f"{cfg.epochs} epochs, alpha {cfg.alpha:g}, contrast {args.contrast:g}, DVBW t-test margin 0.2, 100 queries, p < {SIGNIFICANCE})",
        [
            "marking rate",
            "models",
            "TPR",
            "median p",
            "mean dP target",
            "watermark success",
            "clean accuracy",
            "accuracy cost (pts)",
            f"TPR after {cfg.ft_epochs}-epoch clean fine-tune",
            "median p after",
            "cost after (pts)",
        ],
        [
            *rows,
            [
                "clean (0%)",
                args.models,
                "-",
                "-",
                "-",
                "-",
                f"{np.mean(clean_acc):.4f}",
                "0",
                "-",
                "-",
                "0",
            ],
        ],
    )
    print_table(
        "False positives (null trials: models that never saw the key's marks)",
        ["trials", "count", "identified", "FPR"],
        [
            [
                "clean model x key",
                len(clean_trials),
                sum(clean_trials),
                f"{np.mean(clean_trials):.2%}",
            ],
            [
                "clean fine-tuned model x key",
                len(clean_ft_trials),
                sum(clean_ft_trials),
                f"{np.mean(clean_ft_trials):.2%}",
            ],
            ["marked model x another owner's key", len(cross), sum(cross), f"{np.mean(cross):.2%}"],
        ],
    )
    print(f"\ntotal time {elapsed:.0f} s (models cached in {cache})")


if __name__ == "__main__":
    main()
