"""Reversed triggers for repair: ranking by attack success, choice, unlearning them."""

import numpy as np
import pytest

from trainguard.backdoor import (
    ImageTrigger,
    ReversedTrigger,
    backdoor_test_set,
    blended_trigger,
    choose_reversed_triggers,
    neuron_stimulation_scan,
    poison_dataset,
    rank_reversed_triggers,
    reversed_triggers,
    trigger_success,
    unlearn,
    unlearn_residual,
)
from trainguard.core.errors import DataError, ParameterError

from .conftest import TARGET, _train


@pytest.fixture(scope="module")
def blended(digits_models):
    """A width-8 digits CNN with a blended (whole-image) trigger on label 3."""
    trigger = blended_trigger((1, 8, 8), alpha=0.3, seed=0)
    poisoned = poison_dataset(digits_models.train, trigger, rate=0.15, target=TARGET, seed=0)
    bt = backdoor_test_set(digits_models.test, trigger, target=TARGET)
    return _train(poisoned.dataset, seed=2), (digits_models.x(bt), digits_models.y(bt))


def _blank(shape=(1, 8, 8)) -> ImageTrigger:
    zeros = np.zeros(shape, np.float32)
    return ImageTrigger("reversed", zeros[0], zeros, zeros)


def test_ranking_puts_the_trigger_that_reproduces_the_backdoor_first(digits_models):
    model, x = digits_models.trojan_model, digits_models.x(digits_models.test)
    cands = [
        ReversedTrigger("blank", TARGET, _blank()),
        ReversedTrigger("real", TARGET, digits_models.trigger),
    ]
    ranked = rank_reversed_triggers(model, cands, x)
    assert [c.source for c in ranked] == ["real", "blank"]
    assert ranked[0].attack_success == trigger_success(model, digits_models.trigger, x, TARGET)
    assert ranked[0].attack_success > 0.9 and ranked[1].attack_success == 0.0
    assert choose_reversed_triggers(ranked) == ranked[:1]
    assert choose_reversed_triggers(ranked, select="all", tolerance=1.0) == ranked
    with pytest.raises(DataError, match="rank the triggers first"):
        choose_reversed_triggers(cands)
    with pytest.raises(ParameterError, match="'select'"):
        choose_reversed_triggers(ranked, select="some")
    with pytest.raises(DataError, match="no reversed trigger"):
        rank_reversed_triggers(model, [], x)


def test_the_detectors_triggers_are_collected_on_their_targets(nc_results, abs_results):
    found = reversed_triggers(nc_results["trojan"], abs_results["trojan"])
    assert [f.source for f in found] == [
        "neural-cleanse",
        "neuron-stimulation:patch",
        "neuron-stimulation:perturbation",
    ]
    assert all(f.label == TARGET and f.attack_success is None for f in found)
    assert found[0].trigger is nc_results["trojan"].triggers[TARGET]


def test_unlearning_a_full_image_trigger_removes_a_blended_backdoor(blended, digits_models):
    model, triggered = blended
    x_test, y_test = digits_models.x(digits_models.test), digits_models.y(digits_models.test)
    half = len(x_test) // 2
    st = neuron_stimulation_scan(
        model, x_test[:half], forms=("perturbation",), steps=100, top_k=2, seed=0
    )
    (pert,) = reversed_triggers(stimulation=st)
    assert pert.source == "neuron-stimulation:perturbation" and pert.label == TARGET
    assert np.abs(pert.trigger.signal).mean() > 0.05  # spread over the whole image
    (ranked,) = rank_reversed_triggers(model, [pert], x_test[half:])
    assert ranked.attack_success > 0.5
    res = unlearn(
        model,
        digits_models.x(digits_models.train),
        digits_models.y(digits_models.train),
        [c.trigger for c in choose_reversed_triggers([ranked])],
        stamp_fraction=0.5,
        epochs=5,
        lr=2e-3,
        seed=0,
        test=(x_test, y_test),
        triggered=triggered,
    )
    assert res.before.attack_success > 0.9
    assert res.after.attack_success < 0.2
    assert res.after.clean_accuracy > res.before.clean_accuracy - 0.03


def test_unlearning_stamps_every_trigger_of_a_list(digits_models):
    x, y = digits_models.x(digits_models.train), digits_models.y(digits_models.train)
    with pytest.raises(DataError, match="at least one trigger"):
        unlearn(digits_models.trojan_model, x, y, [])

    def asr_after(triggers):
        res = unlearn(
            digits_models.trojan_model,
            x,
            y,
            triggers,
            stamp_fraction=0.4,
            epochs=3,
            seed=0,
            triggered=digits_models.triggered(),
        )
        return res.after.attack_success

    real, blank = digits_models.trigger, _blank()
    assert asr_after([blank]) > 0.8  # unlearning a trigger that does nothing keeps the backdoor
    assert asr_after([blank, real]) < 0.2  # the second trigger gets stamped rows too
    assert asr_after([real, blank]) < 0.2


def test_a_later_round_reverses_the_trigger_anew_and_unlearns_what_is_left(digits_models):
    model = digits_models.trojan_model
    x, y = digits_models.x(digits_models.train), digits_models.y(digits_models.train)
    x_test = digits_models.x(digits_models.test)
    evaluation = {"test": (x_test, digits_models.y(digits_models.test))}
    evaluation["triggered"] = digits_models.triggered()
    # round 1 unlearned a trigger that is not the planted one: the backdoor is all there
    first = unlearn(model, x, y, _blank(), epochs=2, seed=0, **evaluation)
    assert first.after.attack_success > 0.8
    same, none = unlearn_residual(first, x, y, TARGET, rounds=0)
    assert same is first and none == []
    res, used = unlearn_residual(
        first, x, y, TARGET, x_holdout=x_test, steps=300, epochs=3, seed=0, **evaluation
    )
    assert [u.source for u in used] == ["neural-cleanse:round-2"] and used[0].label == TARGET
    assert used[0].attack_success is not None and used[0].attack_success > 0.9
    assert res.before == first.before  # before/after span the whole repair
    assert res.after.attack_success < 0.2
    assert res.after.clean_accuracy > first.before.clean_accuracy - 0.03
    assert res.model is not first.model and first.after.attack_success > 0.8
    with pytest.raises(ParameterError, match="'rounds'"):
        unlearn_residual(first, x, y, TARGET, rounds=-1)
