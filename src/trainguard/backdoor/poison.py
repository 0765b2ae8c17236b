"""Training-set poisoning and attack evaluation for backdoor simulation.

A poisoned row carries the trigger and, for dirty-label attacks, the attack's label:
``target`` for all-to-one, ``(y + 1) mod K`` for all-to-all (Gu et al. 2017). Clean-label
poisoning (SIG, Barni et al. 2019) stamps the trigger on rows of the target class and
keeps their labels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from trainguard.backdoor.triggers import ImageTrigger, TextTrigger
from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError, ParameterError
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_choice, check_int, check_real

AttackMode = Literal["all-to-one", "all-to-all"]
Trigger = ImageTrigger | TextTrigger


def attack_labels(
    y: np.ndarray, n_classes: int, *, mode: AttackMode = "all-to-one", target: int = 0
) -> np.ndarray:
    """The labels a backdoored model gives triggered inputs whose true labels are ``y``."""
    check_choice(mode, "mode", "attack_labels", ("all-to-one", "all-to-all"))
    y = np.asarray(y, dtype=np.int64)
    if mode == "all-to-all":
        return (y + 1) % n_classes
    check_int(target, "target", "attack_labels", low=0, high=n_classes - 1)
    return np.full_like(y, target)


def _check_trigger(ds: Dataset, trigger: Trigger, owner: str) -> None:
    if isinstance(trigger, TextTrigger):
        if ds.kind != "text" or ds.texts is None:
            raise DataError(f"{owner}: a text trigger needs text data; {ds.name} is {ds.kind}")
    elif ds.kind != "image":
        raise DataError(f"{owner}: an image trigger needs image data; {ds.name} is {ds.kind}")
    elif tuple(ds.input_shape) != trigger.shape:
        raise DataError(
            f"{owner}: trigger is for inputs {trigger.shape}, {ds.name} has {ds.input_shape}"
        )


def stamp_dataset(ds: Dataset, trigger: Trigger, rows: np.ndarray, *, seed: int = 0) -> Dataset:
    """A copy of ``ds`` with the trigger applied to ``rows`` (labels unchanged)."""
    _check_trigger(ds, trigger, "stamp_dataset")
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(trigger, TextTrigger):
        rng = np.random.default_rng(seed)
        texts = list(ds.texts or [])
        for i in rows:
            texts[i] = trigger.apply(texts[i], rng)
        return replace(ds, texts=texts, y=ds.y.copy())
    X = ds.X.copy()
    if len(rows):
        X[rows] = trigger.apply(X[rows])
    return replace(ds, X=X, y=ds.y.copy())


@dataclass
class PoisonedDataset:
    """A poisoned training set and the ground truth of the poisoning.

    Attributes
    ----------
    dataset
        The training set with the poisoned rows in place.
    poisoned
        Boolean mask of the poisoned rows.
    original_labels
        Labels before poisoning.
    """

    dataset: Dataset
    poisoned: np.ndarray
    original_labels: np.ndarray
    trigger: Trigger
    target: int
    mode: AttackMode
    clean_label: bool
    rate: float

    @property
    def poisoned_index(self) -> np.ndarray:
        """Indices of the poisoned rows."""
        return np.flatnonzero(self.poisoned)


def poison_dataset(
    ds: Dataset,
    trigger: Trigger,
    *,
    rate: float = 0.1,
    target: int = 0,
    mode: AttackMode = "all-to-one",
    clean_label: bool = False,
    source: int | None = None,
    seed: int = 0,
) -> PoisonedDataset:
    """Poison a fraction ``rate`` of the rows of ``ds`` with ``trigger``.

    Dirty-label all-to-one picks rows outside the target class (or only rows of class
    ``source``: Gu et al.'s single-target attack, "this 7 is a 3") and relabels them
    ``target``; all-to-all picks any rows and relabels them ``(y + 1) mod K``;
    clean-label (all-to-one only) picks rows of the target class and keeps their labels.

    Parameters
    ----------
    ds
        Training set (images for an :class:`ImageTrigger`, texts for a :class:`TextTrigger`).
    trigger
        The trigger to stamp.
    rate
        Fraction of all training rows that are poisoned, in (0, 1).
    target
        Target label of an all-to-one attack.
    mode
        ``all-to-one`` or ``all-to-all``.
    clean_label
        Keep the labels (poison only target-class rows), as SIG does.
    source
        Poison only rows of this class (dirty-label all-to-one).
    seed
        Seed of the generator that picks the rows (and text insertion points).
    """
    owner = "poison_dataset"
    r = check_real(rate, "rate", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice(mode, "mode", owner, ("all-to-one", "all-to-all"))
    check_int(target, "target", owner, low=0, high=ds.n_classes - 1)
    _check_trigger(ds, trigger, owner)
    if clean_label and mode != "all-to-one":
        raise ParameterError("clean-label poisoning needs mode 'all-to-one' (one target class)")
    if source is not None:
        check_int(source, "source", owner, low=0, high=ds.n_classes - 1)
        if source == target or clean_label or mode != "all-to-one":
            raise ParameterError(
                "a source class needs dirty-label all-to-one poisoning with source != target"
            )
    n_poison = max(1, round(r * len(ds)))
    if clean_label:
        candidates = np.flatnonzero(ds.y == target)
    elif source is not None:
        candidates = np.flatnonzero(ds.y == source)
    elif mode == "all-to-one":
        candidates = np.flatnonzero(ds.y != target)
    else:
        candidates = np.arange(len(ds))
    if n_poison > len(candidates):
        raise ParameterError(
            f"The 'rate' parameter of {owner} asks for {n_poison} poisoned rows but only "
            f"{len(candidates)} rows qualify. Got {rate!r} instead."
        )
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(candidates, size=n_poison, replace=False))
    out = stamp_dataset(ds, trigger, rows, seed=seed)
    if not clean_label:
        out.y[rows] = attack_labels(ds.y[rows], ds.n_classes, mode=mode, target=target)
    mask = np.zeros(len(ds), bool)
    mask[rows] = True
    return PoisonedDataset(
        dataset=out,
        poisoned=mask,
        original_labels=ds.y.copy(),
        trigger=trigger,
        target=target,
        mode=mode,
        clean_label=clean_label,
        rate=r,
    )


def backdoor_test_set(
    ds: Dataset,
    trigger: Trigger,
    *,
    target: int = 0,
    mode: AttackMode = "all-to-one",
    seed: int = 0,
) -> Dataset:
    """Triggered copies of the test rows, labelled with what the attacker wants.

    For all-to-one, rows of the target class are left out (they would count as
    successes without any backdoor).
    """
    keep = np.flatnonzero(ds.y != target) if mode == "all-to-one" else np.arange(len(ds))
    sub = ds.subset(keep)
    out = stamp_dataset(sub, trigger, np.arange(len(sub)), seed=seed)
    out.y = attack_labels(sub.y, ds.n_classes, mode=mode, target=target)
    return out


@torch.no_grad()
def attack_success_rate(model: nn.Module, x: torch.Tensor, attack_y: torch.Tensor) -> float:
    """Fraction of triggered inputs ``x`` that ``model`` classifies as ``attack_y``."""
    if len(x) == 0:
        raise DataError("attack_success_rate: no triggered inputs")
    pred = predict_logits(model, x).argmax(1)
    return float((pred == attack_y).float().mean())


def trigger_success(model: nn.Module, trigger: ImageTrigger, x: torch.Tensor, label: int) -> float:
    """Share of the clean images ``x`` not classified as ``label`` that ``trigger`` sends there.

    The attack success rate of a (reversed) trigger on clean data, ABS's REASR; 0 when
    every image is already classified as ``label``.
    """
    keep = predict_logits(model, x).argmax(1) != label
    if not bool(keep.any()):
        return 0.0
    stamped = trigger.stamp(x[keep])
    return float((predict_logits(model, stamped).argmax(1) == label).float().mean())
