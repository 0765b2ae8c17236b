"""The attacks do what their papers describe: flipped labels, triggers, reversed, boosted and replacing updates."""

from __future__ import annotations

import numpy as np
import pytest

from trainguard.core.datasets import load_digits_dataset, make_synthetic_credit
from trainguard.core.datasets.base import Dataset
from trainguard.core.errors import ConfigError
from trainguard.federated.attacks import (
    attacked_weights,
    flip_labels,
    malicious_clients,
    model_replacement,
    poison_with_trigger,
    sign_flip,
    stamp_trigger,
)
from trainguard.federated.config import AttackSection


def test_malicious_clients_are_reproducible() -> None:
    a = malicious_clients(10, 2, seed=4)
    assert a == malicious_clients(10, 2, seed=4) and len(a) == 2 and all(0 <= i < 10 for i in a)


def test_label_flip_maps_c_to_k_minus_1_minus_c() -> None:
    np.testing.assert_array_equal(flip_labels(np.array([0, 1, 2, 9]), 10), [9, 8, 7, 0])


def test_triggers_on_tables_images_and_text() -> None:
    cfg = AttackSection(kind="backdoor", trigger_features=[0, 3], trigger_value=4.0)
    table = stamp_trigger(make_synthetic_credit(50, seed=0), cfg)
    assert np.all(table.X[:, [0, 3]] == 4.0)
    digits = stamp_trigger(load_digits_dataset().head(5), cfg)
    assert np.all(digits.X[:, 0, -2:, -2:] == 1.0)
    text = Dataset(
        "t", "text", np.zeros((2, 0), np.float32), np.array([0, 1]), ["a", "b"], texts=["hi", "yo"]
    )
    assert stamp_trigger(text, AttackSection(trigger_token="zz")).texts == ["hi zz", "yo zz"]
    with pytest.raises(ConfigError, match="trigger_features: index 99"):
        stamp_trigger(make_synthetic_credit(10, seed=0), AttackSection(trigger_features=[99]))


def test_poisoning_appends_triggered_rows_with_the_target_label() -> None:
    ds = make_synthetic_credit(200, seed=1)
    cfg = AttackSection(kind="backdoor", target_label=1, poison_fraction=0.25)
    out = poison_with_trigger(ds, cfg, seed=0)
    assert len(out) == 250
    np.testing.assert_array_equal(out.X[:200], ds.X)
    assert np.all(out.y[200:] == 1) and np.all(out.X[200:, -2:] == cfg.trigger_value)


def test_update_attacks() -> None:
    g, w = [np.array([1.0, 1.0])], [np.array([2.0, 0.0])]
    np.testing.assert_allclose(sign_flip(g, w, 2.0)[0], [-1.0, 3.0])
    np.testing.assert_allclose(model_replacement(g, w, 5.0)[0], [6.0, -4.0])
    # averaged with n-1 honest clients that did not move, gamma = n replaces the model
    n = 4
    avg = (model_replacement(g, w, n)[0] + (n - 1) * g[0]) / n
    np.testing.assert_allclose(avg, w[0])
    assert attacked_weights(g, w, AttackSection(kind="label-flip"), clients_per_round=4) is w
    np.testing.assert_allclose(
        attacked_weights(g, w, AttackSection(kind="scale"), clients_per_round=4)[0], [11.0, -9.0]
    )
