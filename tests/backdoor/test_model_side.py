import numpy as np
import pytest
import torch

from trainguard.backdoor import neural_cleanse, neuron_stimulation_scan
from trainguard.backdoor._nn import anomaly_index
from trainguard.backdoor.neural_cleanse import compromised_neurons
from trainguard.core.errors import DataError, ParameterError

from .conftest import TARGET


def test_backdoor_works_in_the_fixture(digits_models):
    from trainguard.backdoor import backdoor_metrics

    m = backdoor_metrics(
        digits_models.trojan_model,
        digits_models.x(digits_models.test),
        digits_models.y(digits_models.test),
        digits_models.triggered(),
    )
    assert m.clean_accuracy > 0.9 and m.attack_success > 0.9


def test_neural_cleanse_flags_the_trojan_on_its_target(nc_results):
    r = nc_results["trojan"]
    assert r.trojaned and r.flagged_labels == [TARGET] and r.target == TARGET
    assert r.score > 2.0
    assert r.success_rate[TARGET] > 0.9
    assert r.triggers[TARGET].mask_l1 == pytest.approx(r.mask_l1[TARGET], rel=1e-5)


def test_neural_cleanse_passes_the_clean_model(nc_results):
    r = nc_results["clean"]
    assert not r.trojaned and r.flagged_labels == []
    assert r.score < 2.0


def test_reversed_trigger_sits_on_the_real_patch(nc_results, digits_models):
    mask = nc_results["trojan"].triggers[TARGET].mask
    patch = digits_models.trigger.mask > 0
    density_inside = mask[patch].mean()
    density_outside = mask[~patch].mean()
    assert density_inside > 2 * density_outside


def test_compromised_neurons_respond_to_the_real_trigger(nc_results, digits_models):
    r = nc_results["trojan"]
    x = digits_models.x(digits_models.test)
    real, gain = compromised_neurons(digits_models.trojan_model, x, digits_models.trigger, top=3)
    assert set(r.neurons) & set(real)
    assert gain[0] > 0


def test_findings_carry_the_verdict(nc_results):
    (f,) = nc_results["trojan"].to_findings("backdoor", evidence=["artifacts/t.png"])
    assert f.passed is False and f.metrics["suspected_target"] == TARGET
    assert len(f.table) == 10 and f.evidence == ["artifacts/t.png"]
    (g,) = nc_results["clean"].to_findings("backdoor")
    assert g.passed is True


def test_anomaly_index_matches_the_papers_mad_formula():
    v = np.array([10.0, 11.0, 12.0, 13.0, 3.0])
    med = 11.0
    mad = 1.4826 * np.median(np.abs(v - med))
    np.testing.assert_allclose(anomaly_index(v), np.abs(v - med) / mad)


def test_neuron_stimulation_flags_the_trojan_on_its_target(abs_results):
    r = abs_results["trojan"]
    assert r.trojaned and r.target == TARGET
    assert r.best.trigger is not None and r.neurons


def test_neuron_stimulation_passes_the_clean_model(abs_results):
    assert not abs_results["clean"].trojaned


def test_model_side_bad_input(digits_models):
    m = digits_models.clean_model
    with pytest.raises(DataError, match="expected images"):
        neural_cleanse(m, torch.zeros(10, 64))
    with pytest.raises(ParameterError, match="'steps' parameter of neural_cleanse"):
        neural_cleanse(m, torch.zeros(10, 1, 8, 8), steps=0)
    with pytest.raises(ParameterError, match="'forms' parameter"):
        neuron_stimulation_scan(m, torch.zeros(10, 1, 8, 8), forms=("blur",))


def test_cost_schedule_follows_the_authors_lambda_control():
    from trainguard.backdoor.neural_cleanse import _CostSchedule

    s = _CostSchedule(1, init_cost=1e-3, patience=2, multiplier=1.5, early_stop_patience=2)
    yes, no = torch.tensor([True]), torch.tensor([False])
    l1 = torch.tensor([5.0])
    costs, done = [], []
    for ok in (no, yes, yes, yes, yes, no, no):
        done.append(bool(s.update(ok, l1)[0]))
        costs.append(float(s.cost[0]))
    # 0 until two successful epochs, then 1e-3, x1.5 after two more, / 1.5**1.5 after two failures
    np.testing.assert_allclose(costs, [0, 0, 1e-3, 1e-3, 1.5e-3, 1.5e-3, 1.5e-3 / 1.5**1.5])
    # the norm never improved, but a label only stops once lambda has moved both ways
    assert done == [False] * 6 + [True]
