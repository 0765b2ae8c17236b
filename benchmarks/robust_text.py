"""Hate-speech classifier (Davidson et al. 2017): standard vs adversarial training.

Trains the zoo's bag-of-embeddings classifier on the 24,783 labelled tweets (80/20
split) with standard training, PGD adversarial training and FreeLB in embedding
space, standard training on texts augmented with character-level perturbations, and
(``normalised``) the same models fed the guard's normalised text (trainguard.guard
normalize: NFKC, confusables, zero-width removed, leetspeak and spaced-out words
folded); then reports accuracy under embedding-space PGD (L2 over each tweet's token
embeddings) and under the greedy black-box character-level attack on the raw text.
PGD-AT rows grow their training radius over the first ``--eps-ramp`` epochs (at the full
radius from the first batch PGD-AT stalls at the majority class).

    flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.robust_text
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from benchmarks.common import SHARED_DATA, print_table
from trainguard.core.datasets import Dataset, DatasetSpec, load_dataset
from trainguard.core.training import TrainedModel, train_model
from trainguard.guard.normalize import normalize
from trainguard.robustness.char_attacks import perturb
from trainguard.robustness.evaluation import adversarial_correct, clean_correct
from trainguard.robustness.stage import text_probabilities
from trainguard.robustness.text_attacks import char_attack
from trainguard.robustness.training import AdversarialConfig, train_adversarial


def char_augmented(train: Dataset, copies: int, seed: int) -> Dataset:
    """``train`` plus ``copies`` perturbed copies of every text (budget 2 words)."""
    texts = list(train.texts or [])
    extra = [
        perturb(t, budget=2, seed=seed + 7919 * c + i)
        for c in range(copies)
        for i, t in enumerate(texts)
    ]
    return replace(
        train,
        X=np.zeros((len(texts) + len(extra), 0), dtype=np.float32),
        y=np.concatenate([train.y] * (copies + 1)),
        texts=texts + extra,
        sensitive={},
        meta={},
    )


def normalised(ds: Dataset) -> Dataset:
    """``ds`` with every text replaced by the guard's matching key (NFKC, confusables,
    zero-width removed, leetspeak and spelled-out words folded)."""
    return replace(ds, texts=[normalize(t).key for t in ds.texts or []])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-eps", type=float, default=4.0)
    p.add_argument("--eps", default="1,2,4,8")
    p.add_argument("--steps", type=int, default=5, help="PGD-AT ascent steps (FreeLB: 3)")
    p.add_argument("--eps-ramp", type=int, default=2, help="PGD-AT radius ramp, in epochs")
    p.add_argument("--eval", type=int, default=2000, help="test tweets attacked")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument(
        "--methods", default="standard,pgd,freelb,char-augmented,normalised,normalised+pgd"
    )
    args = p.parse_args()
    spec = DatasetSpec(
        source=str(SHARED_DATA / "hate_speech_davidson" / "labeled_data.csv"),
        label="class",
        text="tweet",
        limit=args.limit,
    )
    train, test = load_dataset(spec).split(0.2, seed=0)
    test = test.head(args.eval, seed=0)
    epsilons = [float(e) for e in args.eps.split(",")]
    common = {"model_name": "text", "epochs": args.epochs, "batch_size": 64, "lr": 1e-3, "seed": 0}
    rows = []
    for method in args.methods.split(","):
        t0 = time.process_time()
        norm_input = method.startswith("normalised")
        fit_on = normalised(train) if norm_input else train
        eval_on = normalised(test) if norm_input else test
        training = method.removeprefix("normalised").lstrip("+") or "standard"
        tm: TrainedModel
        if training == "standard":
            tm = train_model(fit_on, **common)
        elif training == "char-augmented":
            tm = train_model(char_augmented(fit_on, 1, seed=0), **common)
        else:
            steps = 3 if training == "freelb" else args.steps
            cfg = AdversarialConfig(training, args.train_eps, steps=steps)  # type: ignore[arg-type]
            ramp = args.eps_ramp if training == "pgd" else 0
            tm = train_adversarial(fit_on, cfg, **common, eps_ramp=ramp)
        cpu = time.process_time() - t0
        x, y = tm.tensors(eval_on)
        clean = clean_correct(tm.model, x, y)
        with torch.no_grad():
            majority = float(torch.bincount(tm.model(x).argmax(1)).max()) / len(x)
        emb = [
            float(
                adversarial_correct(tm.model, x, y, attack="pgd", eps=e, norm="l2", steps=20).mean()
            )
            for e in epsilons
        ]
        model_proba = text_probabilities(tm)

        def proba(texts: Sequence[str], norm_input: bool = norm_input, f=model_proba) -> np.ndarray:  # type: ignore[no-untyped-def]
            return f([normalize(t).key for t in texts] if norm_input else list(texts))

        chars = [
            char_attack(proba, test.texts or [], test.y, budget=k, seed=0).robust_accuracy
            for k in (1, 2)
        ]
        rows.append([method, float(clean.mean()), *emb, *chars, majority, cpu])
        print(method, rows[-1], flush=True)
    attacks = [
        *(f"emb-PGD-20 L2 {e:g}" for e in epsilons),
        "char attack 1 word",
        "char attack 2 words",
    ]
    title = (
        f"Hate speech (Davidson), bag-of-embeddings, {len(train)} train / {len(test)} attacked tweets, "
        f"{args.epochs} epochs, train eps {args.train_eps:g} (L2, embedding space), "
        f"PGD-AT radius ramp {args.eps_ramp} epochs"
    )
    header = ["training", "clean", *attacks, "share of the most predicted class", "train CPU s"]
    print_table(title, header, rows)
    base = next((r for r in rows if r[0] == "standard"), None)
    if base is not None:
        gains = [
            [r[0], *(100 * (r[i] - base[i]) for i in range(1, 2 + len(attacks)))] for r in rows
        ]
        print_table(
            "Gain over standard training (accuracy points)", ["training", "clean", *attacks], gains
        )


if __name__ == "__main__":
    main()
