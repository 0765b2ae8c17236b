"""Adversarial training: one trainer, the method a parameter.

=======  ==================================================================  =========
method   each batch trains on                                                 paper
=======  ==================================================================  =========
fgsm     ``0.5 * CE(x) + 0.5 * CE(x + eps * sign(grad))``                    [GSS15]_
fast     one FGSM step of size ``1.25 eps`` from a uniform random start      [WRK20]_
pgd      PGD-``steps`` examples with random start (step ``2.5 eps/steps``)   [MMS18]_
trades   ``CE(x) + beta * KL(f(x) || f(x'))``, ``x'`` maximising the KL       [ZYJ19]_
freelb   ``steps`` ascent steps on the perturbation, parameter gradients     [ZCG20]_
         averaged over all of them ("free" large batch)
=======  ==================================================================  =========

Text models fed token ids (the zoo's ``BagOfEmbeddings``) are trained adversarially
in embedding space: ``eps`` then bounds the perturbation of each text's token
embeddings (L2 over the sequence by default, as in FreeLB). Adversarial examples are
crafted with the model in eval mode; the optimiser is Adam, as in
:func:`trainguard.core.training.fit`. After every epoch the clean and PGD-robust test
accuracy are recorded.

References
----------
.. [GSS15] I. Goodfellow, J. Shlens, C. Szegedy. "Explaining and Harnessing Adversarial
   Examples", ICLR 2015.
.. [WRK20] E. Wong, L. Rice, J. Z. Kolter. "Fast is better than free: Revisiting
   adversarial training", ICLR 2020.
.. [MMS18] A. Madry et al. "Towards Deep Learning Models Resistant to Adversarial
   Attacks", ICLR 2018.
.. [ZYJ19] H. Zhang, Y. Yu, J. Jiao, E. Xing, L. El Ghaoui, M. Jordan. "Theoretically
   Principled Trade-off between Robustness and Accuracy", ICML 2019.
.. [ZCG20] C. Zhu, Y. Cheng, Z. Gan, S. Sun, T. Goldstein, J. Liu. "FreeLB: Enhanced
   Adversarial Training for Natural Language Understanding", ICLR 2020.
.. [CLS18] Q.-Z. Cai, M. Du, C. Liu, D. Song. "Curriculum Adversarial Training",
   IJCAI 2018 (the radius ramp, ``eps_ramp``).
.. [GDS18] S. Gowal et al. "On the Effectiveness of Interval Bound Propagation for
   Training Verifiably Robust Models", arXiv:1810.12715, 2018 (linear epsilon ramp-up).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ParameterError
from trainguard.core.progress import progress_bar
from trainguard.core.text import Vocabulary
from trainguard.core.training import (
    History,
    TrainedModel,
    dataset_tensors,
    make_loader,
    seed_everything,
)
from trainguard.core.validation import check_choice, check_int, check_positive
from trainguard.core.zoo import build_model, default_model_name, model_config_for
from trainguard.robustness.evaluation import adversarial_correct, clean_correct
from trainguard.robustness.methods import METHODS, AdversarialConfig, Method, train_step
from trainguard.robustness.norms import Domain, Seed, as_generator
from trainguard.robustness.text_attacks import is_embedding_model

__all__ = [
    "METHODS",
    "AdversarialConfig",
    "Method",
    "adversarial_fit",
    "domain_for",
    "train_adversarial",
]


def _epoch_eval(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    cfg: AdversarialConfig,
    text: bool,
    steps: int,
    seed: Seed,
) -> dict[str, float]:
    x, y = data
    model.eval()
    norm, _, _ = cfg.resolved(text)
    clean = clean_correct(model, x, y)
    adv = adversarial_correct(
        model, x, y, attack="pgd", eps=cfg.eps, norm=norm, steps=steps, domain=cfg.domain, seed=seed
    )
    return {"val_accuracy": float(clean.mean()), "robust_accuracy": float(adv.mean())}


def _cyclic(progress: float) -> float:
    """Triangular learning-rate factor: 0 -> 1 at 40% of training -> 0 (Wong et al. 2020)."""
    return progress / 0.4 if progress < 0.4 else max(0.0, (1.0 - progress) / 0.6)


def _ramped(config: AdversarialConfig, done: int, ramp_iters: int) -> AdversarialConfig:
    """``config`` with its radius at ``done / ramp_iters`` of the target (full after the ramp)."""
    if done >= ramp_iters:
        return config
    return dataclasses.replace(config, eps=config.eps * (done + 1) / (ramp_iters + 1))


def adversarial_fit(
    model: nn.Module,
    loader: DataLoader[Any],
    config: AdversarialConfig,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    lr_schedule: Literal["constant", "cyclic"] = "constant",
    eps_ramp: int = 0,
    eval_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    eval_steps: int = 10,
    keep_best: bool = False,
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    description: str = "adversarial training",
) -> History:
    """Train ``model`` adversarially with Adam; return per-epoch records.

    Each epoch record has ``loss``, ``train_accuracy`` (clean, on the training
    batches) and ``train_robust_accuracy`` (on the adversarial examples trained on);
    with ``eval_data`` also ``val_accuracy`` (clean) and ``robust_accuracy`` (under
    PGD-``eval_steps`` at the training radius).

    ``lr_schedule="cyclic"`` ramps the learning rate linearly from 0 to ``lr`` over the
    first 40% of the iterations and back to 0 (the schedule of fast adversarial
    training, Wong et al. 2020). ``eps_ramp`` grows the training radius linearly from
    near 0 to ``config.eps`` over the first ``eps_ramp`` epochs, batch by batch (the
    curriculum of [CLS18]_ and the ramp-up of [GDS18]_): at a large radius such as
    L-inf 0.3 on MNIST, PGD training from the first batch can stall at chance, the
    model predicting one class. ``keep_best`` restores, at the end, the weights of the
    epoch with the highest robust accuracy on ``eval_data`` (early stopping against
    catastrophic and robust overfitting; Wong et al. 2020, Rice et al. 2020); that
    epoch's record gets ``selected = 1``. Use validation data, not the test set.
    """
    check_int(epochs, "epochs", "adversarial_fit", low=1)
    check_positive(lr, "lr", "adversarial_fit")
    check_choice(lr_schedule, "lr_schedule", "adversarial_fit", ("constant", "cyclic"))
    check_int(eps_ramp, "eps_ramp", "adversarial_fit", low=0, high=epochs)
    if keep_best and eval_data is None:
        raise ParameterError("keep_best=True in adversarial_fit needs eval_data to select an epoch")
    gen = as_generator(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    n_iter, ramp_iters = epochs * len(loader), eps_ramp * len(loader)
    with progress_bar(f"{description} ({config.method})", total=n_iter) as bar:
        for epoch in range(epochs):
            model.train()
            total = correct = adv_correct = 0
            loss_sum = 0.0
            for i, batch in enumerate(loader):
                done = epoch * len(loader) + i
                if lr_schedule == "cyclic":
                    opt.param_groups[0]["lr"] = lr * _cyclic((done + 1) / n_iter)
                x, y = batch[0], batch[1]
                step_config = _ramped(config, done, ramp_iters)
                loss, adv_logits = train_step(model, opt, x, y, step_config, gen)
                with torch.no_grad():
                    correct += int((model(x).argmax(1) == y).sum())
                adv_correct += int((adv_logits.argmax(1) == y).sum())
                total += len(y)
                loss_sum += float(loss) * len(y)
                bar.advance()
            record = {
                "epoch": float(epoch + 1),
                "loss": loss_sum / max(total, 1),
                "train_accuracy": correct / max(total, 1),
                "train_robust_accuracy": adv_correct / max(total, 1),
            }
            if eval_data is not None:
                record |= _epoch_eval(
                    model, eval_data, config, is_embedding_model(model, x), eval_steps, seed
                )
                if keep_best and (best is None or record["robust_accuracy"] > best[0]):
                    best = (record["robust_accuracy"], epoch, copy.deepcopy(model.state_dict()))
            history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(epoch, record)
    if best is not None:
        model.load_state_dict(best[2])
        history.epochs[best[1]]["selected"] = 1.0
    model.eval()
    return history


def train_adversarial(
    train: Dataset,
    config: AdversarialConfig,
    *,
    model_name: str | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    lr_schedule: Literal["constant", "cyclic"] = "constant",
    eps_ramp: int = 0,
    seed: int = 0,
    val: Dataset | None = None,
    eval_limit: int = 500,
    eval_steps: int = 10,
    keep_best: bool = False,
    model_options: dict[str, Any] | None = None,
) -> TrainedModel:
    """Build the zoo model that suits ``train`` (or ``model_name``) and train it adversarially.

    The counterpart of :func:`trainguard.core.training.train_model`; per-epoch robust
    accuracy is measured on ``eval_limit`` random rows of ``val`` (and, with
    ``keep_best``, selects the epoch kept). See :func:`adversarial_fit`.
    """
    name = model_name or default_model_name(train)
    seed_everything(seed)
    vocab = Vocabulary().fit(train.texts or []) if train.kind == "text" else None
    config_args = model_config_for(
        name, train, vocab_size=len(vocab) if vocab else None, **(model_options or {})
    )
    model = build_model(name, **config_args)
    x, y = dataset_tensors(train, vocab)
    loader = make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    eval_data = None
    if val is not None:
        eval_data = dataset_tensors(val.head(eval_limit, seed=seed), vocab)
    history = adversarial_fit(
        model, loader, config, epochs=epochs, lr=lr, lr_schedule=lr_schedule, eps_ramp=eps_ramp,
        eval_data=eval_data,
        eval_steps=eval_steps, keep_best=keep_best, seed=seed, description=f"training {name}",
    )  # fmt: skip
    return TrainedModel(model=model, name=name, config=config_args, vocab=vocab, history=history)


def domain_for(ds: Dataset) -> Domain:
    """The input domain attacks on ``ds`` respect: ``(0, 1)`` for images, none otherwise."""
    return (0.0, 1.0) if ds.kind == "image" else None
