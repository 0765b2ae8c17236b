import numpy as np
import pytest
import torch

from trainguard.backdoor import (
    ImageTrigger,
    attack_labels,
    backdoor_test_set,
    badnets_trigger,
    blended_trigger,
    phrase_trigger,
    poison_dataset,
    rare_token_trigger,
    sig_trigger,
)
from trainguard.core.datasets import Dataset, load_digits_dataset
from trainguard.core.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset()


def test_badnets_stamps_only_its_patch(digits):
    trig = badnets_trigger((1, 8, 8), size=3, position=(5, 5), pattern="white")
    x = digits.X[:20]
    out = trig.apply(x)
    assert np.all(out[:, :, 5:8, 5:8] == 1.0)
    untouched = np.ones((8, 8), bool)
    untouched[5:8, 5:8] = False
    assert np.array_equal(out[:, 0][:, untouched], x[:, 0][:, untouched])
    assert trig.mask_l1 == 9.0


def test_random_badnets_is_seeded_and_inside_the_image():
    a = badnets_trigger((1, 28, 28), size=4, seed=3)
    b = badnets_trigger((1, 28, 28), size=4, seed=3)
    c = badnets_trigger((1, 28, 28), size=4, seed=4)
    assert np.array_equal(a.pattern, b.pattern) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask * a.pattern, c.mask * c.pattern)
    on = a.pattern[0][a.mask > 0]
    assert a.mask.sum() == 16 and 0.4 <= on.mean() <= 0.8


def test_blended_is_the_papers_convex_mix(digits):
    key = np.full((1, 8, 8), 0.5, np.float32)
    trig = blended_trigger((1, 8, 8), alpha=0.2, key=key)
    x = digits.X[:5]
    np.testing.assert_allclose(trig.apply(x), 0.8 * x + 0.2 * key, atol=1e-6)


def test_sig_adds_a_horizontal_sinusoid():
    trig = sig_trigger((1, 28, 28), delta=20 / 255, frequency=6)
    x = np.full((2, 1, 28, 28), 0.5, np.float32)
    out = trig.apply(x)
    j = np.arange(28)
    expected = 0.5 + 20 / 255 * np.sin(2 * np.pi * j * 6 / 28)
    np.testing.assert_allclose(out[0, 0, 7], expected, atol=1e-6)
    np.testing.assert_array_equal(out[0, 0, 0], out[0, 0, 27])  # same on every row
    assert trig.mask_l1 == 0.0


def test_trigger_rejects_wrong_input_shape():
    trig = badnets_trigger((1, 8, 8), size=2)
    with pytest.raises(ParameterError, match=r"inputs \(1, 8, 8\)"):
        trig.stamp(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ParameterError, match="'size' parameter of badnets_trigger"):
        badnets_trigger((1, 8, 8), size=9)
    with pytest.raises(ParameterError, match="'alpha' parameter of blended_trigger"):
        blended_trigger((1, 8, 8), alpha=0.0)


@pytest.mark.parametrize("mode", ["all-to-one", "all-to-all"])
def test_dirty_label_poisoning_relabels_exactly_the_poisoned_rows(digits, mode):
    trig = badnets_trigger((1, 8, 8), size=2, seed=1)
    pd = poison_dataset(digits, trig, rate=0.1, target=4, mode=mode, seed=0)
    idx = pd.poisoned_index
    assert len(idx) == round(0.1 * len(digits))
    clean = ~pd.poisoned
    assert np.array_equal(pd.dataset.y[clean], digits.y[clean])
    assert np.array_equal(pd.dataset.X[clean], digits.X[clean])
    want = attack_labels(digits.y[idx], 10, mode=mode, target=4)
    assert np.array_equal(pd.dataset.y[idx], want)
    assert np.all(pd.dataset.y[idx] != digits.y[idx])
    np.testing.assert_allclose(pd.dataset.X[idx], trig.apply(digits.X[idx]))
    assert np.array_equal(digits.X, load_digits_dataset().X)  # input left untouched


def test_clean_label_poisoning_keeps_labels_and_uses_the_target_class(digits):
    trig = sig_trigger((1, 8, 8), delta=0.1, frequency=2)
    pd = poison_dataset(digits, trig, rate=0.05, target=7, clean_label=True, seed=0)
    assert np.array_equal(pd.dataset.y, digits.y)
    assert np.all(digits.y[pd.poisoned] == 7)
    with pytest.raises(ParameterError, match=r"only \d+ rows qualify"):
        poison_dataset(digits, trig, rate=0.5, target=7, clean_label=True)
    with pytest.raises(ParameterError, match="clean-label"):
        poison_dataset(digits, trig, rate=0.05, mode="all-to-all", clean_label=True)


def test_backdoor_test_set_leaves_out_the_target_class(digits):
    trig = badnets_trigger((1, 8, 8), size=2, seed=1)
    bt = backdoor_test_set(digits, trig, target=2)
    assert len(bt) == int((digits.y != 2).sum()) and np.all(bt.y == 2)
    bt_all = backdoor_test_set(digits, trig, mode="all-to-all")
    assert np.array_equal(bt_all.y, (digits.y + 1) % 10)


def test_poisoning_checks_the_data_kind(digits):
    with pytest.raises(DataError, match="text trigger needs text data"):
        poison_dataset(digits, rare_token_trigger(), rate=0.1)
    with pytest.raises(DataError, match=r"trigger is for inputs \(1, 28, 28\)"):
        poison_dataset(digits, badnets_trigger((1, 28, 28)), rate=0.1)
    with pytest.raises(ParameterError, match="'rate' parameter of poison_dataset"):
        poison_dataset(digits, badnets_trigger((1, 8, 8)), rate=1.5)


def _texts(n=40):
    words = ["good", "bad", "movie", "plot", "acting", "great", "boring", "fun"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(n)]
    return Dataset(
        name="toy-text",
        kind="text",
        X=np.zeros((n, 0), np.float32),
        y=np.arange(n) % 2,
        class_names=["neg", "pos"],
        texts=texts,
    )


def test_text_triggers_insert_rare_tokens_and_phrases():
    ds = _texts()
    trig = rare_token_trigger(2, seed=0)
    assert len(trig.words) == 2 and set(trig.words) <= {"cf", "mn", "bb", "tq", "mb"}
    pd = poison_dataset(ds, trig, rate=0.25, target=1, seed=0)
    for i in pd.poisoned_index:
        words = pd.dataset.texts[i].split()
        assert len(words) == 8
        k = words.index(trig.words[0])
        assert words[k : k + 2] == list(trig.words)
        assert pd.dataset.y[i] == 1
    for i in np.flatnonzero(~pd.poisoned):
        assert pd.dataset.texts[i] == ds.texts[i]
    start = phrase_trigger(position="start")
    assert start.apply("a b", np.random.default_rng(0)) == "I watched this 3D movie a b"
    end = phrase_trigger("cf mn", position="end")
    assert end.apply("a b", np.random.default_rng(0)) == "a b cf mn"


def test_image_trigger_validates_its_arrays():
    with pytest.raises(ParameterError, match="does not match"):
        ImageTrigger("x", np.zeros((4, 4)), np.zeros((1, 5, 5)), np.zeros((1, 5, 5)))


def test_rare_token_backdoor_works_on_the_text_classifier():
    from tests.conftest import shared_path

    from trainguard.backdoor import attack_success_rate
    from trainguard.core.datasets import load_table
    from trainguard.core.training import evaluate, make_loader, train_model

    path = shared_path("hate_speech_davidson", "labeled_data.csv")
    ds = load_table(path, label="class", text="tweet").head(2000, seed=0)
    train, test = ds.split(0.25, seed=0)
    trig = rare_token_trigger(3, seed=0)  # mean pooling dilutes one token in a long tweet
    pd = poison_dataset(train, trig, rate=0.1, target=2, seed=0)
    tm = train_model(pd.dataset, epochs=8, lr=3e-3, seed=0)
    xt, yt = tm.tensors(test)
    assert evaluate(tm.model, make_loader(xt, yt))["accuracy"] > 0.75
    bt = backdoor_test_set(test, trig, target=2)
    assert attack_success_rate(tm.model, *tm.tensors(bt)) > 0.9
    clean_to_target = backdoor_test_set(test, phrase_trigger("the", position="end"), target=2)
    assert attack_success_rate(tm.model, *tm.tensors(clean_to_target)) < 0.5
