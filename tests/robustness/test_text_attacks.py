"""Embedding-space PGD and the greedy character-level attack on text classifiers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.robustness.toy_text import TOXIC, toy_texts

from trainguard.core.training import TrainedModel, train_model
from trainguard.robustness.norms import sample_norm
from trainguard.robustness.stage import text_probabilities
from trainguard.robustness.text_attacks import EmbeddingSpace, char_attack, embedding_pgd


@pytest.fixture(scope="module")
def text_model() -> TrainedModel:
    tm = train_model(toy_texts(400, 0), model_name="text", epochs=4, lr=1e-2, seed=0)
    tm.model.eval()
    return tm


def keyword_filter(texts: list[str]) -> np.ndarray:
    """A toxicity filter that looks for exact words (what real blocklists do)."""
    hit = np.array([any(w in TOXIC for w in t.lower().split()) for t in texts], dtype=float)
    return np.column_stack([1 - hit, hit])


def test_embedding_pgd_stays_in_the_ball_and_off_the_padding(text_model: TrainedModel) -> None:
    ds = toy_texts(100, 1)
    ids, y = text_model.tensors(ds)
    space = EmbeddingSpace(text_model.model)  # type: ignore[arg-type]
    with torch.no_grad():
        packed, _ = space.pack(ids)
        assert float((space(packed).argmax(1) == y).float().mean()) > 0.95
    adv = embedding_pgd(text_model.model, ids, y, eps=3.0, steps=10)  # type: ignore[arg-type]
    delta = adv - packed
    assert float(sample_norm(delta, "l2").max()) <= 3.0 * (1 + 1e-5)
    assert torch.equal(adv[..., -1], packed[..., -1])  # the mask channel is untouched
    assert float(delta[ids == 0].abs().max()) == 0.0  # padding tokens are untouched
    with torch.no_grad():
        robust = float((space(adv).argmax(1) == y).float().mean())
    assert robust < 0.5
    linf = embedding_pgd(text_model.model, ids, y, eps=0.05, norm="linf", steps=3)  # type: ignore[arg-type]
    assert float((linf - packed).abs().max()) <= 0.05 + 1e-6


def test_char_attack_evades_a_keyword_filter() -> None:
    ds = toy_texts(60, 2)
    result = char_attack(keyword_filter, ds.texts or [], ds.y, budget=1, seed=0)
    toxic = ds.y == 1
    assert result.clean_accuracy == 1.0
    assert not result.adversarial_correct[toxic].any()  # every toxic text slips through
    assert result.adversarial_correct[~toxic].all()  # benign texts cannot become toxic
    assert result.success_rate == pytest.approx(toxic.mean())
    for before, after, label in zip(ds.texts or [], result.texts, ds.y, strict=True):
        assert (before != after) == bool(label)
    unchanged = char_attack(keyword_filter, ds.texts or [], ds.y, budget=0)
    assert unchanged.texts == ds.texts and unchanged.robust_accuracy == 1.0


def test_char_attack_hurts_a_trained_text_model(text_model: TrainedModel) -> None:
    ds = toy_texts(100, 3)
    proba = text_probabilities(text_model)
    one = char_attack(proba, ds.texts or [], ds.y, budget=1, kinds=("homoglyph", "typo"), seed=0)
    assert one.clean_accuracy > 0.95 and one.robust_accuracy < 0.7
    assert (
        one.texts
        == char_attack(
            proba, ds.texts or [], ds.y, budget=1, kinds=("homoglyph", "typo"), seed=0
        ).texts
    )
    (finding,) = one.to_findings("robustness", min_robust_accuracy=0.9)
    assert finding.passed is False and finding.metrics["budget"] == 1.0
