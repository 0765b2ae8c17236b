"""Attacks on text classifiers: PGD in embedding space, and a greedy character-level attack.

Embedding-space attacks (Miyato et al. 2017; Zhu et al. 2020) perturb the token
embeddings of a model that exposes ``embed(ids) -> (emb, mask)`` and
``forward_embeddings(emb, mask) -> logits`` (the zoo's ``BagOfEmbeddings``).
:class:`EmbeddingSpace` packs embeddings and padding mask into one tensor, so every
attack, trainer and evaluation in this package works on text models unchanged: the
mask channel and padding tokens are marked as not perturbable and the threat ball
(L2 over the whole sequence by default, as in FreeLB) only covers real tokens.

:func:`char_attack` is black-box: it needs only a function from texts to class
probabilities, so it also attacks toxicity filters that are not neural networks.

References
----------
- T. Miyato, A. M. Dai, I. Goodfellow. "Adversarial Training Methods for
  Semi-Supervised Text Classification", ICLR 2017.
- C. Zhu, Y. Cheng, Z. Gan, S. Sun, T. Goldstein, J. Liu. "FreeLB: Enhanced Adversarial
  Training for Natural Language Understanding", ICLR 2020.
- J. Gao, J. Lanchantin, M. L. Soffa, Y. Qi. "Black-box Generation of Adversarial Text
  Sequences to Evade Deep Learning Classifiers" (DeepWordBug), IEEE S&P Workshops 2018.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_choice, check_int
from trainguard.robustness.attacks import Classifier, pgd
from trainguard.robustness.char_attacks import KINDS, PERTURBATIONS
from trainguard.robustness.norms import Domain, Norm, Seed

__all__ = [
    "CharAttackResult",
    "EmbeddingClassifier",
    "EmbeddingSpace",
    "attack_space",
    "char_attack",
    "embedding_pgd",
    "is_embedding_model",
]


@runtime_checkable
class EmbeddingClassifier(Protocol):
    """A text classifier whose token embeddings can be perturbed."""

    def embed(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings ``(n, L, d)`` and the float mask ``(n, L)`` of real tokens."""
        ...

    def forward_embeddings(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from embedded tokens and their mask."""
        ...


def is_embedding_model(model: object, x: torch.Tensor) -> bool:
    """True when ``model`` takes token ids ``x`` and exposes its embedding layer."""
    return isinstance(model, EmbeddingClassifier) and not torch.is_floating_point(x)


class EmbeddingSpace(nn.Module):
    """A text model seen as a classifier of packed embeddings ``(n, L, d + 1)``.

    The last feature of each token is its padding mask, so a batch of packed inputs
    carries everything the model needs and can be sliced, chunked and restarted like
    images. Use :meth:`pack` to embed token ids.
    """

    def __init__(self, model: EmbeddingClassifier) -> None:
        super().__init__()
        self.model = model

    def pack(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed inputs for ``ids`` and the perturbable mask (real tokens, not the mask).

        The packed tensor keeps the autograd link to the embedding weights, so a
        training loss on it updates the embeddings.
        """
        emb, mask = self.model.embed(ids)
        packed = torch.cat([emb, mask.unsqueeze(-1)], dim=-1)
        perturbable = torch.cat(
            [mask.unsqueeze(-1).expand_as(emb), torch.zeros_like(mask)[..., None]], -1
        )
        return packed, perturbable

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        """Logits of the wrapped model on packed embeddings."""
        return self.model.forward_embeddings(packed[..., :-1], packed[..., -1])


def attack_space(
    model: Classifier, x: torch.Tensor, domain: Domain
) -> tuple[Classifier, torch.Tensor, torch.Tensor | None, Domain]:
    """Where attacks on ``model`` live: ``(classifier, inputs, perturbable, domain)``.

    For a text model fed token ids this is :class:`EmbeddingSpace` over the packed
    embeddings (unbounded, padding fixed); for any other model the inputs themselves.
    The packed embeddings keep their autograd link to the embedding weights.
    """
    if is_embedding_model(model, x):
        space = EmbeddingSpace(model)  # type: ignore[arg-type]
        packed, perturbable = space.pack(x)
        return space, packed, perturbable, None
    return model, x, None, domain


def embedding_pgd(
    model: EmbeddingClassifier,
    ids: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float | None = None,
    steps: int = 10,
    norm: Norm = "l2",
    restarts: int = 1,
    target: torch.Tensor | None = None,
    seed: Seed = 0,
) -> torch.Tensor:
    """PGD on the token embeddings of ``ids`` (Miyato et al. 2017; Madry et al. 2018).

    ``eps`` bounds the perturbation of the real tokens of each text: by default the
    Frobenius (L2) norm over the whole sequence, as in FreeLB; ``norm="linf"`` bounds
    every embedding coordinate. Returns the packed adversarial embeddings; feed them
    to ``EmbeddingSpace(model)`` for logits.
    """
    space = EmbeddingSpace(model)
    with torch.no_grad():
        packed, perturbable = space.pack(ids)
    return pgd(
        space, packed, y, eps=eps, alpha=alpha, steps=steps, norm=norm, restarts=restarts,
        target=target, domain=None, perturbable=perturbable, seed=seed,
    )  # fmt: skip


_WORD = re.compile(r"[^\W\d_]{2,}")

TextProbabilities = Callable[[Sequence[str]], np.ndarray]
"""A classifier as a function from texts to class probabilities ``(n, n_classes)``."""


@dataclass
class CharAttackResult:
    """Outcome of :func:`char_attack`: the attacked texts and the accuracy they leave."""

    texts: list[str]
    clean_correct: np.ndarray
    adversarial_correct: np.ndarray
    budget: int
    kinds: tuple[str, ...]

    @property
    def clean_accuracy(self) -> float:
        """Accuracy on the original texts."""
        return float(self.clean_correct.mean()) if len(self.clean_correct) else 0.0

    @property
    def robust_accuracy(self) -> float:
        """Accuracy on the attacked texts."""
        return float(self.adversarial_correct.mean()) if len(self.adversarial_correct) else 0.0

    @property
    def success_rate(self) -> float:
        """Share of correctly classified texts the attack turned into errors."""
        n = int(self.clean_correct.sum())
        return float((self.clean_correct & ~self.adversarial_correct).sum() / n) if n else 0.0

    def to_findings(self, stage: str, *, min_robust_accuracy: float | None = None) -> list[Finding]:
        """One finding with clean and robust accuracy under the character-level attack."""
        return [
            Finding(
                stage=stage,
                check_id=f"char-attack-budget-{self.budget}",
                title=f"Accuracy under character-level attack (budget {self.budget} words)",
                severity=Severity.MEDIUM,
                passed=None
                if min_robust_accuracy is None
                else self.robust_accuracy >= min_robust_accuracy,
                threshold=min_robust_accuracy,
                metrics={
                    "clean_accuracy": self.clean_accuracy,
                    "robust_accuracy": self.robust_accuracy,
                    "success_rate": self.success_rate,
                    "budget": float(self.budget),
                },
                message=f"perturbation kinds: {', '.join(self.kinds)}",
            )
        ]


def _segments(text: str) -> tuple[list[str], list[int]]:
    """Split ``text`` into alternating pieces; return them and the indices of the words."""
    pieces: list[str] = []
    words: list[int] = []
    last = 0
    for m in _WORD.finditer(text):
        pieces.append(text[last : m.start()])
        words.append(len(pieces))
        pieces.append(m.group())
        last = m.end()
    pieces.append(text[last:])
    return pieces, words


def _replaced(pieces: list[str], k: int, new: str) -> str:
    return "".join(pieces[:k]) + new + "".join(pieces[k + 1 :])


def char_attack(
    predict_proba: TextProbabilities,
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    *,
    budget: int = 1,
    kinds: Sequence[str] = KINDS,
    seed: int = 0,
) -> CharAttackResult:
    """Greedy black-box character-level attack (DeepWordBug-style).

    Words are ranked by how much deleting them lowers the probability of the true
    label (the "replace-1" score of Gao et al. 2018). The ``budget`` most important
    words of each text are then edited in turn; for each, one candidate edit per kind
    in ``kinds`` is tried and the one that lowers the true-label probability most is
    kept (none is kept if no candidate lowers it). A text stops being edited once it
    is misclassified. All texts are scored in
    one batched call per round.

    Parameters
    ----------
    predict_proba
        Function from a list of texts to class probabilities.
    texts, labels
        The texts and their true class indices.
    budget
        Largest number of words edited per text.
    kinds
        Perturbation kinds from :data:`~trainguard.robustness.char_attacks.KINDS`.
    seed
        Seed of the edits.
    """
    check_int(budget, "budget", "char_attack")
    for kind in kinds:
        check_choice(kind, "kinds", "char_attack", KINDS)
    y = np.asarray(labels, dtype=np.int64)
    rng = random.Random(seed)
    split = [_segments(t) for t in texts]
    probs = np.asarray(predict_proba(list(texts)))
    clean_correct = probs.argmax(1) == y
    p_true = probs[np.arange(len(y)), y]
    # Importance of a word: drop of the true-label probability when it is deleted.
    deletions = [(i, k) for i, (_, words) in enumerate(split) for k in words]
    dropped = (
        np.asarray(predict_proba([_replaced(split[i][0], k, "") for i, k in deletions]))
        if deletions
        else probs[:0]
    )
    importance: list[list[tuple[float, int]]] = [[] for _ in split]
    for n, (i, k) in enumerate(deletions):
        importance[i].append((float(probs[i, y[i]] - dropped[n, y[i]]), k))
    ranked = [
        [k for _, k in sorted(imp, key=itemgetter(0), reverse=True)][:budget] for imp in importance
    ]
    correct = clean_correct.copy()
    for r in range(budget):
        candidates: list[tuple[int, int, str]] = []
        for i, (pieces, _) in enumerate(split):
            if correct[i] and r < len(ranked[i]):
                k = ranked[i][r]
                edits = {PERTURBATIONS[kind](pieces[k], rng) for kind in kinds} - {pieces[k]}
                candidates += [(i, k, new) for new in sorted(edits)]
        if not candidates:
            break
        scores = np.asarray(
            predict_proba([_replaced(split[i][0], k, new) for i, k, new in candidates])
        )
        best: dict[int, int] = {}
        for n, (i, _, _) in enumerate(candidates):
            if scores[n, y[i]] < (scores[best[i], y[i]] if i in best else p_true[i]):
                best[i] = n
        for i, n in best.items():
            _, k, new = candidates[n]
            split[i][0][k] = new
            p_true[i] = scores[n, y[i]]
            correct[i] = scores[n].argmax() == y[i]
    adversarial = ["".join(pieces) for pieces, _ in split]
    return CharAttackResult(adversarial, clean_correct, correct, budget, tuple(kinds))
