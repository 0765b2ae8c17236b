"""Canary insertion and exposure: how much a sequence model memorises secrets in its training text.

Carlini, Liu, Erlingsson, Kos, Song (2019), "The Secret Sharer: evaluating and
testing unintended memorization in neural networks". Random secrets (canaries such
as ``"my secret code is 4823"``) are planted ``repeats`` times in the training
text; after training, each canary's log-perplexity is ranked among all other
secrets of the same format. Exposure is ``log2 |R| - log2 rank``: about 1 for a
canary the model has not memorised, up to ``log2 |R|`` for one it ranks first
(extractable). :func:`extrapolated_exposure` estimates it from a sample when the
space is too large to enumerate (Section 4.3 of the paper: a skew-normal fit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from trainguard.core.errors import ParameterError
from trainguard.core.findings import Finding, Severity
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_int

LMTrainer = Callable[[torch.Tensor, torch.Tensor, int], nn.Module]
"""Trains a next-character model on windows ``x (n, context)`` and targets ``y (n,)`` over ``vocab_size`` ids."""


class CharLM(nn.Module):
    """Next-character model over a fixed context window: embeddings, one hidden layer, softmax.

    Embedding and Linear layers only, so Opacus trains it privately in any grad-sample mode.
    """

    def __init__(self, vocab_size: int, context: int = 8, dim: int = 16, hidden: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(context * dim, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the next character for each window of ids ``(n, context)``."""
        return self.head(self.hidden(self.embedding(x)))


def char_vocabulary(texts: Sequence[str]) -> dict[str, int]:
    """Ids for the characters of ``texts`` (0 is the left padding)."""
    return {c: i + 1 for i, c in enumerate(sorted({c for t in texts for c in t}))}


def char_windows(
    texts: Sequence[str], vocab: dict[str, int], context: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Every (preceding ``context`` characters, next character) pair, and each pair's text index."""
    xs: list[list[int]] = []
    ys: list[int] = []
    owner: list[int] = []
    for k, text in enumerate(texts):
        ids = [0] * context + [vocab[c] for c in text]
        for t in range(context, len(ids)):
            xs.append(ids[t - context : t])
            ys.append(ids[t])
            owner.append(k)
    return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long), np.array(owner)


def log_perplexity(
    model: nn.Module, texts: Sequence[str], vocab: dict[str, int], context: int
) -> np.ndarray:
    """``-sum_t log2 p(c_t | c_{t-context..t-1})`` of each text under ``model``."""
    x, y, owner = char_windows(texts, vocab, context)
    logp = torch.log_softmax(predict_logits(model, x, batch_size=8192), dim=1)
    nll = -logp.gather(1, y[:, None])[:, 0].double().numpy() / math.log(2)
    return np.bincount(owner, weights=nll, minlength=len(texts))


def exposure(canary: float, others: np.ndarray) -> float:
    """``log2 |R| - log2 rank`` of a canary's log-perplexity among all ``others`` of its format.

    ``others`` holds the log-perplexity of every other candidate secret; ``|R|`` is
    their number plus one, ``rank`` is 1 plus how many are more likely (lower).
    """
    o = np.asarray(others, dtype=np.float64)
    rank = 1 + int(np.sum(o < canary))
    return math.log2(len(o) + 1) - math.log2(rank)


def extrapolated_exposure(canary: float, sample: np.ndarray) -> float:
    """Exposure ``-log2 P[X <= canary]`` with X skew-normal, fitted to sampled candidates' log-perplexities."""
    a, loc, scale = stats.skewnorm.fit(np.asarray(sample, dtype=np.float64))
    return float(-stats.skewnorm.logcdf(canary, a, loc, scale) / math.log(2))


@dataclass(frozen=True)
class Canary:
    """A planted secret and the text that carries it."""

    text: str
    secret: str


def make_canaries(
    n: int,
    *,
    prefix: str = "my secret code is ",
    secret_length: int = 4,
    alphabet: str = "0123456789",
    seed: int = 0,
) -> list[Canary]:
    """``n`` distinct random secrets of ``secret_length`` characters from ``alphabet`` after ``prefix``."""
    count = check_int(n, "n", "make_canaries", low=1)
    length = check_int(secret_length, "secret_length", "make_canaries", low=1)
    if count > len(alphabet) ** length:
        raise ParameterError(
            f"The 'n' parameter of make_canaries must be at most {len(alphabet) ** length}."
        )
    rng = np.random.default_rng(seed)
    secrets: set[str] = set()
    while len(secrets) < count:
        secrets.add("".join(rng.choice(list(alphabet), size=length)))
    return [Canary(prefix + s, s) for s in sorted(secrets)]


@dataclass
class CanaryAudit:
    """Exposure of each planted canary, with the size of the secret space."""

    canaries: list[Canary]
    exposures: list[float]
    space_size: int
    repeats: int
    threshold: float

    @property
    def max_exposure(self) -> float:
        """The largest exposure (bits)."""
        return max(self.exposures)

    @property
    def memorised(self) -> bool:
        """True when some canary's exposure reaches the threshold."""
        return self.max_exposure >= self.threshold

    def to_findings(self, stage: str) -> list[Finding]:
        """One finding: the canaries' exposure against the threshold."""
        return [
            Finding(
                stage=stage,
                check_id="canary-exposure",
                title="Exposure of planted canaries (Secret Sharer)",
                severity=Severity.HIGH,
                passed=not self.memorised,
                threshold=self.threshold,
                metrics={
                    "max_exposure": self.max_exposure,
                    "mean_exposure": float(np.mean(self.exposures)),
                    "max_possible_exposure": math.log2(self.space_size),
                    "repeats": float(self.repeats),
                },
                table=[
                    {"canary": c.text, "exposure": round(e, 3)}
                    for c, e in zip(self.canaries, self.exposures, strict=True)
                ],
            )
        ]


def canary_audit(
    corpus: Sequence[str],
    train_lm: LMTrainer,
    *,
    n_canaries: int = 4,
    repeats: int = 8,
    prefix: str = "my secret code is ",
    secret_length: int = 4,
    alphabet: str = "0123456789",
    context: int = 8,
    threshold: float | None = None,
    seed: int = 0,
) -> CanaryAudit:
    """Plant canaries ``repeats`` times in ``corpus``, train with ``train_lm``, measure exposure.

    Every secret of the format is scored (``len(alphabet) ** secret_length`` texts,
    at most 10**6), so exposure is exact. ``threshold`` defaults to half the
    largest possible exposure: a canary ranked in the top ``sqrt(|R|)`` counts as memorised.
    """
    space = len(alphabet) ** check_int(secret_length, "secret_length", "canary_audit", low=1)
    if space > 10**6:
        raise ParameterError(
            f"The 'secret_length' parameter of canary_audit gives {space} candidates; at most 10**6 are scored."
        )
    canaries = make_canaries(
        n_canaries, prefix=prefix, secret_length=secret_length, alphabet=alphabet, seed=seed
    )
    reps = check_int(repeats, "repeats", "canary_audit", low=1)
    texts = list(corpus) + [c.text for c in canaries for _ in range(reps)]
    vocab = char_vocabulary([*texts, alphabet])
    x, y, _ = char_windows(texts, vocab, context)
    model = train_lm(x, y, len(vocab) + 1)
    candidates = [prefix + "".join(p) for p in _secrets(alphabet, secret_length)]
    scores = log_perplexity(model, candidates, vocab, context)
    by_secret = dict(zip(candidates, scores, strict=True))
    exposures = []
    for c in canaries:
        others = np.array([v for k, v in by_secret.items() if k != c.text])
        exposures.append(exposure(by_secret[c.text], others))
    limit = 0.5 * math.log2(space) if threshold is None else threshold
    return CanaryAudit(canaries, exposures, space, reps, limit)


def _secrets(alphabet: str, length: int) -> list[tuple[str, ...]]:
    import itertools

    return list(itertools.product(alphabet, repeat=length))
