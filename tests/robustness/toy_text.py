"""A tiny synthetic toxicity data set for the text tests."""

from __future__ import annotations

import random

import numpy as np

from trainguard.core.datasets import Dataset

TOXIC = ["idiot", "stupid", "loser", "moron", "dumb"]
FILLER = ["you", "are", "the", "game", "today", "was", "really", "so", "what", "team", "this"]


def toy_texts(n: int, seed: int) -> Dataset:
    """Short texts; label 1 exactly when one of the TOXIC words occurs."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        words = rng.choices(FILLER, k=rng.randint(3, 8))
        if i % 2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(TOXIC))
        texts.append(" ".join(words))
        labels.append(i % 2)
    return Dataset(
        name="toy-text",
        kind="text",
        X=np.zeros((n, 0), dtype=np.float32),
        y=np.array(labels, dtype=np.int64),
        class_names=["ok", "toxic"],
        texts=texts,
    )
