"""The client computation works for the zoo's image and text models, and a malicious client attacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tests.federated.rounds import initial_weights, small_config

from trainguard.federated.attacks import attackers
from trainguard.federated.client_app import client_update
from trainguard.federated.config import FederatedConfig
from trainguard.federated.robust import l2_norm, model_update
from trainguard.federated.server_app import make_evaluator
from trainguard.federated.task import load_federated_data


def _one_round(cfg: FederatedConfig) -> tuple[float, float]:
    w0 = initial_weights(cfg)
    sent = [client_update(cfg, pid, w0, 1) for pid in range(cfg.partition.num_clients)]
    assert all(
        n == size for (_, n, _), size in zip(sent, load_federated_data(cfg).sizes, strict=True)
    )
    total = sum(n for _, n, _ in sent)
    avg = [sum(n * w[i] for w, n, _ in sent) / total for i in range(len(w0))]
    evaluate = make_evaluator(cfg, load_federated_data(cfg))
    before, after = evaluate(w0)["accuracy"], evaluate(avg)["accuracy"]
    assert before is not None and after is not None
    return before, after


def test_image_clients_train_the_cnn() -> None:
    cfg = small_config(
        data={"source": "digits", "options": {}, "limit": 600},
        model={"name": "cnn", "options": {"width": 8, "hidden": 32}},
        train={"lr": 0.1, "local_epochs": 20, "batch_size": 16},
    )
    before, after = _one_round(cfg)
    assert after > before + 0.3


def test_text_clients_share_the_vocabulary(tmp_path: Path) -> None:
    rows = [{"text": f"great lovely film {i}", "label": "pos"} for i in range(60)]
    rows += [{"text": f"awful boring film {i}", "label": "neg"} for i in range(60)]
    (tmp_path / "reviews.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
    )
    cfg = small_config(
        data={"source": str(tmp_path / "reviews.jsonl"), "options": {}},
        model={"name": "text"},
        train={"lr": 0.5, "local_epochs": 3},
    )
    before, after = _one_round(cfg)
    assert before < 0.7 and after >= 0.95


def test_a_backdoor_client_replaces_the_model_from_its_round_on() -> None:
    cfg = small_config(
        partition={"num_clients": 4},
        attack={"kind": "backdoor", "fraction": 0.25, "target_label": 1, "start_round": 2},
    )
    (evil,) = attackers(cfg)
    w0 = initial_weights(cfg)
    honest_norm = l2_norm(model_update(client_update(cfg, (evil + 1) % 4, w0, 2)[0], w0))
    quiet = l2_norm(model_update(client_update(cfg, evil, w0, 1)[0], w0))
    boosted = l2_norm(model_update(client_update(cfg, evil, w0, 2)[0], w0))
    assert quiet < 2 * honest_norm  # before start_round it behaves
    assert boosted > 3 * honest_norm  # gamma = 4 clients per round (Bagdasaryan et al. Eq. 3)
    assert np.isfinite(boosted)
