"""FGSM, PGD and APGD: threat-set constraints, strength ordering, targeting, peers, errors."""

from __future__ import annotations

import pytest
import torch

from trainguard.core.errors import ConfigError, ParameterError
from trainguard.core.training import TrainedModel
from trainguard.robustness.attacks import ATTACKS, apgd, fgsm, pgd
from trainguard.robustness.norms import sample_norm

Data = tuple[torch.Tensor, torch.Tensor]


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


ATTACK_CASES = [
    ("fgsm", "linf", {}),
    ("fgsm", "l2", {}),
    ("pgd", "linf", {"steps": 5, "restarts": 2}),
    ("pgd", "l2", {"steps": 5}),
    ("apgd-ce", "linf", {"steps": 10}),
    ("apgd-ce", "l2", {"steps": 10}),
]


@pytest.mark.parametrize(("name", "norm", "params"), ATTACK_CASES)
@pytest.mark.parametrize("targeted", [False, True])
def test_attacks_stay_in_the_norm_ball_and_the_domain(
    digits_mlp: TrainedModel,
    digits_test: Data,
    name: str,
    norm: str,
    params: dict[str, int],
    targeted: bool,
) -> None:
    x, y = digits_test[0][:64], digits_test[1][:64]
    eps = 0.1 if norm == "linf" else 1.0
    target = (y + 1) % 10 if targeted else None
    adv = ATTACKS.get(name)(digits_mlp.model, x, y, eps=eps, norm=norm, target=target, **params)
    assert adv.shape == x.shape and not adv.requires_grad
    assert float(sample_norm(adv - x, norm).max()) <= eps * (1 + 1e-5)
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert float((adv - x).abs().max()) > 0.5 * min(eps, 0.1)  # it did move


def test_perturbable_mask_freezes_coordinates(digits_mlp: TrainedModel, digits_test: Data) -> None:
    x, y = digits_test[0][:32], digits_test[1][:32]
    mask = torch.zeros_like(x[:1])
    mask[..., :4, :] = 1.0  # the attacker controls the top half only
    for fn in (fgsm, pgd, apgd):
        adv = fn(digits_mlp.model, x, y, eps=0.2, perturbable=mask)
        assert torch.equal(adv[..., 4:, :], x[..., 4:, :])
        assert float((adv - x)[..., :4, :].abs().max()) > 0.1


def test_unbounded_domain_is_not_clamped(digits_mlp: TrainedModel, digits_test: Data) -> None:
    x, y = digits_test[0][:32], digits_test[1][:32]
    adv = pgd(digits_mlp.model, x, y, eps=0.3, steps=5, domain=None)
    assert float(adv.min()) < 0.0 or float(adv.max()) > 1.0


def test_iterative_attacks_beat_fgsm_on_a_standard_model(
    digits_mlp: TrainedModel, digits_test: Data
) -> None:
    m, (x, y) = digits_mlp.model, (digits_test[0][:200], digits_test[1][:200])
    acc_fgsm = accuracy(m, fgsm(m, x, y, eps=0.1), y)
    acc_pgd = accuracy(m, pgd(m, x, y, eps=0.1, steps=20), y)
    acc_apgd = accuracy(m, apgd(m, x, y, eps=0.1, steps=50), y)
    assert accuracy(m, x, y) > 0.9
    assert acc_pgd <= acc_fgsm - 0.03
    assert acc_apgd <= acc_pgd + 0.01
    # more restarts can only help the attacker
    assert accuracy(m, pgd(m, x, y, eps=0.1, steps=20, restarts=3), y) <= acc_pgd


def test_targeted_attack_reaches_the_target(digits_mlp: TrainedModel, digits_test: Data) -> None:
    m, (x, y) = digits_mlp.model, digits_test
    target = (y + 3) % 10
    adv = pgd(m, x, y, eps=0.3, steps=30, target=target)
    hit = float((m(adv).argmax(1) == target).float().mean())
    assert hit > 0.9
    adv_fgsm = fgsm(m, x, y, eps=0.1, target=target)
    assert float((m(adv_fgsm).argmax(1) == target).float().mean()) > 0.05


def test_same_seed_same_examples(digits_mlp: TrainedModel, digits_test: Data) -> None:
    m, (x, y) = digits_mlp.model, digits_test
    a = pgd(m, x[:50], y[:50], eps=0.1, seed=3)
    assert torch.equal(a, pgd(m, x[:50], y[:50], eps=0.1, seed=3))
    assert not torch.equal(a, pgd(m, x[:50], y[:50], eps=0.1, seed=4))
    b = apgd(m, x[:50], y[:50], eps=0.1, steps=10, seed=3)
    assert torch.equal(b, apgd(m, x[:50], y[:50], eps=0.1, steps=10, seed=3))


def test_pgd_matches_torchattacks(digits_mlp: TrainedModel, digits_test: Data) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    m, (x, y) = digits_mlp.model, digits_test
    # Without random start both are deterministic: the same iterates.
    ours = pgd(m, x, y, eps=0.1, alpha=0.02, steps=10, random_start=False)
    theirs = torchattacks.PGD(m, eps=0.1, alpha=0.02, steps=10, random_start=False)(x, y)
    assert torch.allclose(ours, theirs, atol=1e-6)
    # With random start: success rates within 1 point on the same model, data and seed.
    for seed in (0, 1):
        torch.manual_seed(seed)
        theirs = torchattacks.PGD(m, eps=0.1, alpha=0.025, steps=20, random_start=True)(x, y)
        ours = pgd(m, x, y, eps=0.1, alpha=0.025, steps=20, seed=seed)
        assert abs(accuracy(m, ours, y) - accuracy(m, theirs, y)) <= 0.01


def test_apgd_is_as_strong_as_torchattacks_apgd(
    digits_mlp: TrainedModel, digits_test: Data
) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    m, (x, y) = digits_mlp.model, digits_test
    theirs = torchattacks.APGD(m, eps=0.1, steps=50, n_restarts=1, loss="ce", seed=0)(x, y)
    ours = apgd(m, x, y, eps=0.1, steps=50, seed=0)
    assert accuracy(m, ours, y) <= accuracy(m, theirs, y) + 0.01


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"eps": -1.0}, "The 'eps' parameter of pgd must be a float in (0, inf)"),
        ({"eps": 0.1, "norm": "l1"}, "The 'norm' parameter of pgd must be one of"),
        ({"eps": 0.1, "steps": 0}, "The 'steps' parameter of pgd must be an int in [1, inf]"),
    ],
)
def test_bad_parameters_get_one_line_errors(
    digits_mlp: TrainedModel, digits_test: Data, call: dict[str, object], message: str
) -> None:
    x, y = digits_test[0][:4], digits_test[1][:4]
    with pytest.raises(ParameterError) as err:
        pgd(digits_mlp.model, x, y, **call)  # type: ignore[arg-type]
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_registry_names_and_unknown_attack() -> None:
    assert ATTACKS.names() == ["apgd-ce", "fgsm", "pgd"]
    with pytest.raises(
        ConfigError, match="unknown attack 'cw'; expected one of apgd-ce, fgsm, pgd"
    ):
        ATTACKS.get("cw")
