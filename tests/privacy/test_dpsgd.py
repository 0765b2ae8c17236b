"""DP-SGD on Opacus: every zoo model trains within budget, clipping holds, budget stops training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("opacus")

from opacus.accountants import RDPAccountant

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.errors import ModelError
from trainguard.core.training import make_loader, new_zoo_model
from trainguard.privacy import (
    GRAD_SAMPLE_MODES,
    clipped_per_sample_gradients,
    epsilon_spent,
    max_steps,
    train_private,
)
from trainguard.privacy.engine import make_private, private_step, quiet_hooks


@pytest.fixture(scope="module")
def digits() -> tuple[Dataset, Dataset]:
    return load_dataset("digits").head(400, seed=0).split(0.25, seed=0)


def _text_data() -> Dataset:
    rng = np.random.default_rng(0)
    good = ["great", "lovely", "fine", "excellent", "happy"]
    bad = ["awful", "terrible", "sad", "poor", "horrible"]
    texts, labels = [], []
    for i in range(120):
        words = good if i % 2 else bad
        texts.append(f"the day was {rng.choice(words)} and {rng.choice(words)}")
        labels.append(i % 2)
    return Dataset(
        name="moods", kind="text", X=np.zeros((120, 0), np.float32), y=np.array(labels),
        class_names=["bad", "good"], texts=texts,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn", "text"])
def test_every_zoo_model_trains_within_budget_and_matches_opacus_accounting(
    name: str, digits: tuple[Dataset, Dataset]
) -> None:
    train = _text_data() if name == "text" else digits[0]
    tm = new_zoo_model(train, model_name=name, seed=0)
    x, y = tm.tensors(train)
    result = train_private(
        tm.model, make_loader(x, y, batch_size=50, shuffle=True), epochs=2, target_epsilon=4.0,
        delta=1e-4, lr=5e-3, accountant="rdp", grad_sample_mode="hooks", seed=0,
    )  # fmt: skip
    assert result.epsilon <= 4.0 and len(result.epochs) == 2
    assert result.epochs[0].epsilon_rdp < result.epochs[1].epsilon_rdp
    assert (
        result.epochs[1].epsilon_prv is not None
        and result.epochs[1].epsilon_prv <= result.epsilon_rdp
    )
    # the engine's own accountant saw exactly the steps and rate we account for
    assert result.opacus_history == [(result.noise_multiplier, result.sample_rate, result.steps)]
    opacus = RDPAccountant()
    opacus.history = result.opacus_history
    assert result.epsilon_rdp == pytest.approx(opacus.get_epsilon(1e-4), rel=1e-9)
    assert not any(hasattr(p, "grad_sample") for p in result.model.parameters())  # hooks removed


def test_dp_model_learns_on_digits(digits: tuple[Dataset, Dataset]) -> None:
    train, test = digits
    tm = new_zoo_model(train, model_name="logreg", seed=0)
    x, y = tm.tensors(train)
    vx, vy = tm.tensors(test)
    result = train_private(
        tm.model, make_loader(x, y, batch_size=60, shuffle=True), epochs=6, target_epsilon=8.0,
        delta=1e-4, lr=0.02, accountant="prv", val_loader=make_loader(vx, vy), seed=1,
    )  # fmt: skip
    assert result.history.last("val_accuracy") > 0.6
    assert result.epsilon_prv is not None and result.epsilon_prv <= 8.0
    assert result.mode_choice is not None and set(result.mode_choice.seconds_per_step) == set(
        GRAD_SAMPLE_MODES
    )
    assert result.grad_sample_mode == result.mode_choice.mode


@pytest.mark.parametrize("mode", ["hooks", "ew", "functorch"])
def test_clipped_per_sample_gradient_norms_are_at_most_the_bound(
    mode: str, digits: tuple[Dataset, Dataset]
) -> None:
    tm = new_zoo_model(digits[0], model_name="cnn", seed=0)
    x, y = tm.tensors(digits[0])
    grads = clipped_per_sample_gradients(tm.model, x[:32], y[:32], max_grad_norm=0.05, mode=mode)  # type: ignore[arg-type]
    assert grads.shape[0] == 32
    assert torch.all(grads.norm(dim=1) <= 0.05 * (1 + 1e-5))
    # the rows sum to what Opacus's optimizer accumulates before adding noise
    parts = make_private(tm.model, make_loader(x[:32], y[:32], batch_size=32), noise_multiplier=1.0,
                         max_grad_norm=0.05, mode="hooks", poisson_sampling=False, seed=0)  # fmt: skip
    parts.optimizer.zero_grad()
    with quiet_hooks():
        nn.functional.cross_entropy(parts.module(x[:32]), y[:32]).backward()
    parts.optimizer.clip_and_accumulate()
    summed = torch.cat([p.summed_grad.reshape(-1) for p in tm.model.parameters()])
    assert torch.allclose(grads.sum(0), summed, atol=1e-6)


def test_ghost_clipping_keeps_per_sample_norms_within_the_bound(
    digits: tuple[Dataset, Dataset],
) -> None:
    tm = new_zoo_model(digits[0], model_name="mlp", seed=0)
    x, y = tm.tensors(digits[0])
    parts = make_private(tm.model, make_loader(x[:64], y[:64], batch_size=64), noise_multiplier=1.0,
                         max_grad_norm=0.1, mode="ghost", poisson_sampling=False, seed=0)  # fmt: skip
    private_step(parts, (x[:64], y[:64]))
    clipped = parts.module.get_clipping_coef() * parts.module.per_sample_gradient_norms
    assert torch.all(clipped <= 0.1 * (1 + 1e-5))
    assert torch.any(parts.module.per_sample_gradient_norms > 0.1)  # clipping was needed


def test_training_stops_cleanly_when_the_budget_is_spent(digits: tuple[Dataset, Dataset]) -> None:
    tm = new_zoo_model(digits[0], model_name="logreg", seed=0)
    x, y = tm.tensors(digits[0])
    loader = make_loader(x, y, batch_size=30, shuffle=True)
    result = train_private(
        tm.model, loader, epochs=20, target_epsilon=1.0, delta=1e-4, noise_multiplier=0.9,
        accountant="rdp", grad_sample_mode="hooks", seed=0,
    )  # fmt: skip
    q = result.sample_rate
    allowed = max_steps(
        noise_multiplier=0.9, sample_rate=q, delta=1e-4, target_epsilon=1.0, limit=10**6
    )
    assert result.stopped_early and result.steps == allowed < result.planned_steps
    assert (
        result.epsilon
        <= 1.0
        < epsilon_spent(noise_multiplier=0.9, sample_rate=q, steps=allowed + 1, delta=1e-4)
    )
    (finding,) = result.to_findings("train")
    assert finding.passed and "stopped early" in finding.message


def test_batchnorm_is_named_with_its_fix_and_fix_model_repairs_it() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 10),
    )
    x, y = torch.rand(40, 1, 8, 8), torch.randint(0, 10, (40,))
    loader = make_loader(x, y, batch_size=20)
    with pytest.raises(ModelError, match=r"layer '1' \(BatchNorm2d\): replace it with GroupNorm"):
        train_private(
            model, loader, epochs=1, target_epsilon=5.0, delta=1e-3, grad_sample_mode="hooks"
        )
    result = train_private(
        model, loader, epochs=1, target_epsilon=5.0, delta=1e-3, grad_sample_mode="hooks",
        accountant="rdp", fix_model=True, seed=0,
    )  # fmt: skip
    assert isinstance(result.model[1], nn.GroupNorm)
