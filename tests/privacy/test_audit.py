"""Privacy audits: a non-private overfit model is found leaky, its DP twin is not."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

pytest.importorskip("opacus")

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.errors import ParameterError
from trainguard.core.run import RunDir
from trainguard.core.training import fit, make_loader
from trainguard.privacy import train_private
from trainguard.privacy.audit import (
    CharLM,
    TrainingRecipe,
    audit_training,
    canary_audit,
    clopper_pearson,
    empirical_epsilon,
    evaluate_attack,
    exposure,
    extrapolated_exposure,
    lira_scores,
    privacy_audit_stage,
)


@pytest.fixture(scope="module")
def population() -> Dataset:
    return load_dataset({"source": "synthetic-credit", "options": {"n_samples": 1000}})


@pytest.mark.parametrize(("k", "n"), [(0, 20), (3, 50), (49, 50), (500, 1000)])
def test_clopper_pearson_equals_scipy_exact_interval(k: int, n: int) -> None:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
    assert clopper_pearson(k, n, alpha=0.1) == pytest.approx((ci.low, ci.high), rel=1e-9, abs=1e-12)


def test_empirical_epsilon_of_randomized_response_is_a_valid_lower_bound() -> None:
    eps, n = 1.0, 20_000
    rng = np.random.default_rng(0)
    keep = math.exp(eps) / (1 + math.exp(eps))
    members = (rng.random(n) < keep).astype(float)  # an eps-DP "yes, I was in"
    others = (rng.random(n) < 1 - keep).astype(float)
    scores = np.concatenate([members, others])
    is_member = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
    bound = empirical_epsilon(scores, is_member).epsilon
    assert 0.8 < bound <= eps  # tight, never above the truth
    assert empirical_epsilon(rng.random(2 * n), is_member).epsilon == 0.0


def test_lira_separates_shifted_confidences() -> None:
    rng = np.random.default_rng(1)
    n, m = 400, 16
    base = rng.normal(0, 2, n)  # per-example difficulty
    inside = rng.random((m, n)) < 0.5
    shadow = base + 1.0 * inside + rng.normal(0, 0.3, (m, n))
    is_member = rng.random(n) < 0.5
    target = base + 1.0 * is_member + rng.normal(0, 0.3, n)
    for online in (True, False):
        result = evaluate_attack(
            lira_scores(target, shadow, inside, online=online), is_member, attack="lira"
        )
        assert result.auc > 0.9
    with pytest.raises(ParameterError, match="'shadow' and 'shadow_in'"):
        lira_scores(target, shadow[:, :10], inside)


def test_audit_flags_a_non_private_overfit_model_and_not_its_dp_twin(
    population: Dataset, tmp_path: Path
) -> None:
    run = RunDir.create("audit", tmp_path)
    plain, twin = privacy_audit_stage(run, population, seed=0)  # a non-private MLP and its DP twin
    (leak,) = plain.attacks
    (dp_leak,) = twin.attacks
    assert plain.train_accuracy - plain.test_accuracy > 0.15
    assert leak.leaky and leak.auc > 0.62 and leak.empirical.epsilon > 1.0
    assert not dp_leak.leaky and dp_leak.auc < 0.56
    assert twin.epsilon is not None and twin.epsilon <= 1.0
    assert dp_leak.empirical.epsilon <= twin.epsilon and not dp_leak.guarantee_broken
    findings = {f.check_id: f for f in run.result.stage("privacy-audit").findings}
    assert findings["membership-loss-non-private"].passed is False
    assert findings["membership-loss-dp-eps1"].passed is True
    assert findings["empirical-epsilon-loss-dp-eps1"].passed is True
    assert findings["empirical-epsilon-loss-non-private"].passed is None  # no claim to check
    assert (run.path / findings["audited-model-dp-eps1"].evidence[0]).is_file()  # the AUC chart
    assert not run.result.passed
    baseline = leak.to_findings("audit", target="non-private", gate=False)[0]
    assert baseline.passed is None and "distinguishable" in baseline.message


def test_a_broken_claim_fails_the_empirical_epsilon_finding() -> None:
    rng = np.random.default_rng(2)
    is_member = np.arange(2000) < 1000
    scores = is_member + rng.normal(0, 0.2, 2000)  # far more leakage than epsilon 0.5 allows
    result = evaluate_attack(scores, is_member, attack="loss", claimed_epsilon=0.5)
    assert result.guarantee_broken
    assert result.to_findings("audit")[1].passed is False


def test_lira_with_shadow_models_flags_the_overfit_model(population: Dataset) -> None:
    small = population.head(400, seed=0)
    recipe = TrainingRecipe(epochs=40, model_options={"hidden": (128, 128)})
    result = audit_training(small, recipe, n_shadow=6, seed=0)
    _, lira = result.attacks
    assert lira.attack == "lira" and lira.auc > 0.6 and lira.leaky


def test_exposure_ranks_and_extrapolates() -> None:
    others = np.arange(1, 1024, dtype=float)
    assert exposure(0.5, others) == pytest.approx(10.0)  # ranked first of 1024
    assert exposure(2000.0, others) == pytest.approx(0.0)
    sample = np.random.default_rng(3).normal(50, 5, 5000)
    assert extrapolated_exposure(50 - 5 * 3.0, sample) == pytest.approx(
        -math.log2(stats.norm.cdf(-3.0)), rel=0.15
    )


def _corpus(n: int = 300) -> list[str]:
    rng = np.random.default_rng(4)
    names = ["ana", "bo", "cy", "dee", "eli"]
    verbs = ["paid", "sent", "owes", "got"]
    return [
        f"{rng.choice(names)} {rng.choice(verbs)} {rng.integers(10, 99)} coins" for _ in range(n)
    ]


def _train_plain(x: torch.Tensor, y: torch.Tensor, vocab: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = CharLM(vocab, context=8)
    fit(model, make_loader(x, y, batch_size=64, shuffle=True), epochs=12, lr=5e-3)
    return model


def _train_private(x: torch.Tensor, y: torch.Tensor, vocab: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = CharLM(vocab, context=8)
    return train_private(
        model, make_loader(x, y, batch_size=256, shuffle=True), epochs=3, target_epsilon=1.0,
        delta=1e-5, lr=5e-3, accountant="rdp", grad_sample_mode="hooks", seed=0, prv_curve=False,
    ).model  # fmt: skip


def test_canaries_are_exposed_by_a_plain_language_model_and_not_by_its_dp_twin() -> None:
    plain = canary_audit(_corpus(), _train_plain, n_canaries=2, repeats=10, secret_length=3, seed=0)
    private = canary_audit(
        _corpus(), _train_private, n_canaries=2, repeats=10, secret_length=3, seed=0
    )
    assert plain.space_size == 1000
    assert plain.memorised and plain.max_exposure > 7.0
    assert not private.memorised and private.max_exposure < plain.threshold
    assert plain.to_findings("audit")[0].passed is False
