"""Adversarial training: every method trains, robust accuracy measurably rises, bad configs fail."""

from __future__ import annotations

import pytest
import torch
from tests.robustness.toy_text import toy_texts

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ParameterError
from trainguard.core.training import TrainedModel
from trainguard.robustness.evaluation import adversarial_correct, clean_correct
from trainguard.robustness.training import METHODS, AdversarialConfig, train_adversarial

Split = tuple[Dataset, Dataset]


def robust_accuracy(tm: TrainedModel, test: Dataset, eps: float) -> float:
    x, y = tm.tensors(test)
    return float(adversarial_correct(tm.model, x, y, attack="pgd", eps=eps, steps=10).mean())


def test_pgd_training_raises_robust_accuracy(digits_split: Split, digits_mlp: TrainedModel) -> None:
    train, test = digits_split
    cfg = AdversarialConfig("pgd", 0.1, steps=3)
    robust = train_adversarial(train, cfg, model_name="mlp", epochs=2, lr=1e-2, seed=0)
    before, after = robust_accuracy(digits_mlp, test, 0.1), robust_accuracy(robust, test, 0.1)
    assert after >= before + 0.2, (before, after)
    x, y = robust.tensors(test)
    assert clean_correct(robust.model, x, y).mean() > 0.85


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_records_clean_and_robust_accuracy(
    digits_split: Split, method: str
) -> None:
    train, test = digits_split
    cfg = AdversarialConfig(method, 0.1, steps=2)  # type: ignore[arg-type]
    tm = train_adversarial(
        train.head(256),
        cfg,
        model_name="mlp",
        epochs=2,
        lr=1e-2,
        val=test,
        eval_limit=64,
        eval_steps=2,
    )
    assert len(tm.history.epochs) == 2
    last = tm.history.epochs[-1]
    assert {
        "loss",
        "train_accuracy",
        "train_robust_accuracy",
        "val_accuracy",
        "robust_accuracy",
    } <= set(last)
    assert 0.0 <= last["robust_accuracy"] <= last["val_accuracy"] <= 1.0
    assert last["val_accuracy"] > 0.3  # it learned something
    assert not tm.model.training


@pytest.mark.parametrize("method", ["freelb", "pgd"])
def test_text_models_train_in_embedding_space(method: str) -> None:
    cfg = AdversarialConfig(method, 0.5, steps=2)  # type: ignore[arg-type]
    assert cfg.resolved(text=True)[0] == "l2"
    tm = train_adversarial(
        toy_texts(200, 0),
        cfg,
        model_name="text",
        epochs=3,
        batch_size=16,
        lr=1e-2,
        val=toy_texts(64, 1),
        eval_limit=64,
        eval_steps=3,
    )
    last = tm.history.epochs[-1]
    assert last["val_accuracy"] > 0.85 and last["robust_accuracy"] > 0.6


def test_adversarial_training_is_reproducible(digits_split: Split) -> None:
    train = digits_split[0].head(128)
    cfg = AdversarialConfig("fast", 0.1)
    a = train_adversarial(train, cfg, model_name="mlp", epochs=1, seed=5)
    b = train_adversarial(train, cfg, model_name="mlp", epochs=1, seed=5)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "mart", "eps": 0.1}, "method"),
        ({"method": "pgd", "eps": 0.0}, "eps"),
        ({"method": "pgd", "eps": 0.1, "steps": 0}, "steps"),
        ({"method": "trades", "eps": 0.1, "beta": -1.0}, "beta"),
        ({"method": "pgd", "eps": 0.1, "norm": "l1"}, "norm"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError, match=f"The '{field}' parameter of adversarial training"):
        AdversarialConfig(**kwargs)  # type: ignore[arg-type]


def test_keep_best_restores_the_most_robust_epoch(digits_split: Split) -> None:
    train, test = digits_split
    val = test.head(64, seed=0)
    cfg = AdversarialConfig("fast", 0.1)
    tm = train_adversarial(
        train.head(256, seed=0), cfg, model_name="mlp", epochs=4, lr=2e-2, lr_schedule="cyclic",
        val=val, eval_limit=64, eval_steps=3, keep_best=True,
    )  # fmt: skip
    robust = [e["robust_accuracy"] for e in tm.history.epochs]
    (chosen,) = [i for i, e in enumerate(tm.history.epochs) if e.get("selected") == 1.0]
    assert chosen == robust.index(max(robust))
    x, y = tm.tensors(val.head(64, seed=0))
    again = adversarial_correct(tm.model, x, y, attack="pgd", eps=0.1, steps=3, seed=0).mean()
    assert again == pytest.approx(robust[chosen])


def test_keep_best_needs_validation_data(digits_split: Split) -> None:
    with pytest.raises(ParameterError, match="keep_best=True in adversarial_fit needs eval_data"):
        train_adversarial(
            digits_split[0].head(64), AdversarialConfig("fast", 0.1), epochs=1, keep_best=True
        )


def test_eps_ramp_trains_on_weaker_examples_first(digits_split: Split) -> None:
    train = digits_split[0].head(256, seed=0)
    cfg = AdversarialConfig("pgd", 0.3, steps=2)
    runs = [
        train_adversarial(train, cfg, model_name="mlp", epochs=2, lr=1e-2, eps_ramp=ramp, seed=0)
        for ramp in (0, 2)
    ]
    full, ramped = (tm.history.epochs[0]["train_robust_accuracy"] for tm in runs)
    assert ramped > full + 0.1, (full, ramped)


def test_eps_ramp_longer_than_training_is_refused(digits_split: Split) -> None:
    with pytest.raises(ParameterError, match="The 'eps_ramp' parameter of adversarial_fit"):
        train_adversarial(
            digits_split[0].head(64), AdversarialConfig("pgd", 0.1), epochs=2, eps_ramp=3
        )
