"""Malicious clients: label flipping, sign-flipped or scaled updates, model-replacement backdoors.

Data attacks change what a malicious client trains on (:func:`flip_labels`,
:func:`poison_with_trigger`); update attacks change what it sends back
(:data:`UPDATE_ATTACKS`: ``sign-flip``, ``scale``, ``backdoor``'s model replacement).
Every function is pure; randomness comes from an explicit seed or generator.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ConfigError
from trainguard.core.registry import Registry
from trainguard.core.validation import check_int, check_real
from trainguard.federated.config import AttackSection, FederatedConfig

Weights = list[np.ndarray]


def malicious_clients(n_clients: int, n_attackers: int, *, seed: int = 0) -> frozenset[int]:
    """The ids of ``n_attackers`` clients out of ``n_clients``, drawn without replacement with ``seed``."""
    check_int(n_clients, "n_clients", "malicious_clients", low=1)
    check_int(n_attackers, "n_attackers", "malicious_clients", low=0, high=n_clients)
    rng = np.random.default_rng(seed)
    return frozenset(int(i) for i in rng.choice(n_clients, size=n_attackers, replace=False))


def attackers(cfg: FederatedConfig) -> frozenset[int]:
    """The malicious client ids of a run: ``cfg.num_attackers`` drawn with ``attack.seed``."""
    return malicious_clients(cfg.partition.num_clients, cfg.num_attackers, seed=cfg.attack.seed)


def flip_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Label flipping (Tolpegin et al. 2020): class ``c`` becomes ``n_classes - 1 - c``."""
    check_int(n_classes, "n_classes", "flip_labels", low=2)
    return (n_classes - 1 - np.asarray(y)).astype(np.int64)


def stamp_trigger(ds: Dataset, cfg: AttackSection) -> Dataset:
    """``ds`` with the backdoor trigger on every row (labels unchanged).

    Tables: columns ``cfg.trigger_features`` (default: the last two) set to
    ``cfg.trigger_value`` (in standardised units). Images: a bright square in the
    bottom-right corner, a quarter of the side wide (BadNets, Gu et al. 2017).
    Text: the token ``cfg.trigger_token`` appended.
    """
    if ds.kind == "text":
        texts = [f"{t} {cfg.trigger_token}" for t in (ds.texts or [])]
        return replace(ds, texts=texts)
    X = ds.X.copy()
    if ds.kind == "image":
        side = max(1, X.shape[-1] // 4)
        X[..., -side:, -side:] = 1.0
    else:
        d = X.shape[1]
        feats = cfg.trigger_features if cfg.trigger_features is not None else [d - 2, d - 1]
        bad = [f for f in feats if not 0 <= f < d]
        if bad:
            raise ConfigError(
                f"attack.trigger_features: index {bad[0]} is outside the {d} features of {ds.name}"
            )
        X[:, feats] = cfg.trigger_value
    return replace(ds, X=X)


def poison_with_trigger(ds: Dataset, cfg: AttackSection, *, seed: int = 0) -> Dataset:
    """The attacker's training set for a backdoor: its clean rows plus triggered copies.

    ``poison_fraction`` of the rows (drawn with ``seed``) are copied with the trigger
    and the label ``target_label`` and appended, so the model learns the main task
    and the backdoor together (Bagdasaryan et al. 2020, Sec. 4.2).
    """
    check_int(cfg.target_label, "target_label", "poison_with_trigger", low=0, high=ds.n_classes - 1)
    rng = np.random.default_rng(seed)
    k = max(1, round(cfg.poison_fraction * len(ds)))
    picked = stamp_trigger(ds.subset(np.sort(rng.choice(len(ds), size=k, replace=False))), cfg)
    poisoned = replace(picked, y=np.full(k, cfg.target_label, dtype=np.int64))
    return _concat(ds, poisoned)


def _concat(a: Dataset, b: Dataset) -> Dataset:
    texts = None if a.texts is None or b.texts is None else [*a.texts, *b.texts]
    return replace(
        a,
        X=np.concatenate([a.X, b.X]),
        y=np.concatenate([a.y, b.y]),
        texts=texts,
        sensitive={},
        meta={},
    )


def sign_flip(global_w: Weights, local_w: Weights, scale: float = 1.0) -> Weights:
    """Send ``G - scale * (L - G)``: the honest update reversed and scaled (Li et al. 2019, RSA)."""
    check_real(scale, "scale", "sign_flip", low=0.0, low_open=True)
    return [g - scale * (w - g) for g, w in zip(global_w, local_w, strict=True)]


def scale_update(global_w: Weights, local_w: Weights, scale: float = 10.0) -> Weights:
    """Send ``G + scale * (L - G)``: the honest update boosted ``scale`` times."""
    check_real(scale, "scale", "scale_update", low=0.0, low_open=True)
    return [g + scale * (w - g) for g, w in zip(global_w, local_w, strict=True)]


def model_replacement(global_w: Weights, backdoored_w: Weights, gamma: float) -> Weights:
    """Model replacement: ``G + gamma * (X - G)`` (Bagdasaryan et al. 2020, Eq. 3).

    With ``gamma = n / eta`` (clients per round over the server learning rate) the
    averaged model becomes the attacker's backdoored model ``X`` when the honest
    updates roughly cancel.
    """
    return scale_update(global_w, backdoored_w, gamma)


UPDATE_ATTACKS: Registry[Weights] = Registry("update attack")
"""Update attacks by name: factories ``(global_w, local_w, scale, clients_per_round) -> sent weights``."""


@UPDATE_ATTACKS.register("sign-flip")
def _sign_flip(global_w: Weights, local_w: Weights, scale: float | None, per_round: int) -> Weights:
    return sign_flip(global_w, local_w, 1.0 if scale is None else scale)


@UPDATE_ATTACKS.register("scale")
def _scale(global_w: Weights, local_w: Weights, scale: float | None, per_round: int) -> Weights:
    return scale_update(global_w, local_w, 10.0 if scale is None else scale)


@UPDATE_ATTACKS.register("backdoor")
def _backdoor(global_w: Weights, local_w: Weights, scale: float | None, per_round: int) -> Weights:
    return model_replacement(global_w, local_w, float(per_round) if scale is None else scale)


def attacked_dataset(ds: Dataset, cfg: AttackSection, *, seed: int) -> Dataset:
    """What a malicious client trains on: flipped labels, triggered copies, or ``ds`` unchanged."""
    if cfg.kind == "label-flip":
        return replace(ds, y=flip_labels(ds.y, ds.n_classes))
    if cfg.kind == "backdoor":
        return poison_with_trigger(ds, cfg, seed=seed)
    return ds


def attacked_weights(
    global_w: Weights, local_w: Weights, cfg: AttackSection, *, clients_per_round: int
) -> Weights:
    """What a malicious client sends back after training (unchanged for data-only attacks)."""
    if cfg.kind not in UPDATE_ATTACKS.names():
        return local_w
    return UPDATE_ATTACKS.get(cfg.kind)(global_w, local_w, cfg.scale, clients_per_round)
