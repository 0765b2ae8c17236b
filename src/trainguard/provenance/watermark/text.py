"""Text data-set watermarks: keyed canary records and an exposure test.

Marking adds ``n_canaries`` canary records, each inserted ``repeats`` times: a fixed
template with a secret drawn from a large randomness space (``n_tokens`` random
lower-case tokens of ``token_len`` letters, 26^(n_tokens * token_len) choices),
derived from the owner's key with HMAC, all with a key-derived label.

The exposure test (Carlini et al.) ranks each canary's score under the suspect
model, the log-probability of the canary's label, among ``n_candidates`` fresh
secrets from the same space. Under the hypothesis that the model never saw the
canaries, a canary is just one more random draw, so its rank is uniform:
``p_i = rank_i / (n_candidates + 1)`` (ties counted against the canary) is a valid
p-value, and ``exposure_i = log2(n_candidates + 1) - log2(rank_i)``. The canaries'
p-values are independent under that hypothesis and are combined with Fisher's method.

Reference: N. Carlini, C. Liu, U. Erlingsson, J. Kos, D. Song, "The Secret Sharer:
Evaluating and Testing Unintended Memorization in Neural Networks", USENIX Security
2019 (canaries, rank and exposure).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError, IntegrityError
from trainguard.core.validation import check_int, check_real
from trainguard.provenance.watermark.keys import derive, key_id, keyed_rng
from trainguard.provenance.watermark.verdict import OwnershipResult

TextPredictor = Callable[[Sequence[str]], np.ndarray]
TEMPLATE = "my account access code is {secret}"
_LETTERS = np.array(list(string.ascii_lowercase))


@dataclass
class TextWatermark:
    """The verification record of a text watermark (the canaries come from the key)."""

    key_id: str
    label: int
    n_classes: int
    n_canaries: int
    repeats: int
    n_tokens: int = 4
    token_len: int = 6
    template: str = TEMPLATE
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    kind: str = "text"

    @property
    def space_bits(self) -> float:
        """log2 of the size of the randomness space of a secret."""
        return self.n_tokens * self.token_len * math.log2(26)


def _secrets(rng: np.random.Generator, n: int, n_tokens: int, token_len: int) -> list[str]:
    letters = _LETTERS[rng.integers(0, 26, size=(n, n_tokens, token_len))]
    return [" ".join("".join(tok) for tok in row) for row in letters]


def canaries(key: bytes, record: TextWatermark) -> list[str]:
    """The canary texts of ``record``, re-derived from the key."""
    rng = keyed_rng(key, "text/canaries")
    secret = _secrets(rng, record.n_canaries, record.n_tokens, record.token_len)
    return [record.template.format(secret=s) for s in secret]


def watermark_texts(
    ds: Dataset,
    key: bytes,
    *,
    n_canaries: int = 10,
    repeats: int = 5,
    label: int | None = None,
) -> tuple[Dataset, TextWatermark]:
    """Add keyed canary records to a copy of a text data set.

    Parameters
    ----------
    ds
        Text data set (``ds.texts``).
    key
        The owner's secret key.
    n_canaries
        Number of distinct canaries.
    repeats
        Times each canary is inserted (exposure grows with repetitions).
    label
        Label of the canary records (default: derived from the key).

    Other per-row columns of the canary rows (sensitive attributes, meta) are
    empty strings or zeros.
    """
    if ds.kind != "text" or ds.texts is None:
        raise DataError(f"{ds.name}: text watermarks need text data, got {ds.kind}")
    check_int(n_canaries, "n_canaries", "watermark_texts", low=1)
    check_int(repeats, "repeats", "watermark_texts", low=1)
    lab = (
        int.from_bytes(derive(key, "text/label", 8), "big") % ds.n_classes
        if label is None
        else check_int(label, "label", "watermark_texts", low=0, high=ds.n_classes - 1)
    )
    record = TextWatermark(
        key_id=key_id(key),
        label=lab,
        n_classes=ds.n_classes,
        n_canaries=n_canaries,
        repeats=repeats,
    )
    added = [c for c in canaries(key, record) for _ in range(repeats)]
    k = len(added)

    def extend(v: np.ndarray) -> np.ndarray:
        fill = (
            np.zeros(k, dtype=v.dtype) if v.dtype.kind in "biuf" else np.full(k, "", dtype=v.dtype)
        )
        return np.concatenate([v, fill])

    marked = replace(
        ds,
        name=f"{ds.name}-marked",
        X=np.zeros((len(ds) + k, 0), np.float32),
        y=np.concatenate([ds.y, np.full(k, lab, dtype=np.int64)]),
        texts=[*ds.texts, *added],
        sensitive={c: extend(v) for c, v in ds.sensitive.items()},
        meta={c: extend(v) for c, v in ds.meta.items()},
    )
    return marked, record


def verify_text_watermark(
    predict_proba: TextPredictor,
    record: TextWatermark,
    key: bytes,
    *,
    n_candidates: int = 999,
    significance: float = 0.01,
    seed: int = 0,
) -> OwnershipResult:
    """Exposure test of a suspect text classifier (black box: class probabilities).

    Parameters
    ----------
    predict_proba
        Maps texts to class probabilities ``(n, n_classes)``.
    record
        The record written when the data was marked.
    key
        The owner's secret key.
    n_candidates
        Fresh random secrets each canary is ranked among (the smallest possible
        per-canary p-value is ``1 / (n_candidates + 1)``).
    significance
        Level below which the combined p-value identifies the model.
    seed
        Seed of the candidate secrets.
    """
    from scipy.stats import combine_pvalues

    if key_id(key) != record.key_id:
        raise IntegrityError(
            f"this key ({key_id(key)}) is not the one the watermark record was made with ({record.key_id})"
        )
    check_int(n_candidates, "n_candidates", "verify_text_watermark", low=1)
    check_real(
        significance,
        "significance",
        "verify_text_watermark",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    rng = np.random.default_rng(seed)
    cand = _secrets(rng, n_candidates, record.n_tokens, record.token_len)
    texts = canaries(key, record) + [record.template.format(secret=s) for s in cand]
    probs = np.asarray(predict_proba(texts), dtype=np.float64)
    if probs.shape != (len(texts), record.n_classes):
        raise DataError(
            f"the suspect model returned probabilities of shape {probs.shape}; "
            f"expected ({len(texts)}, {record.n_classes})"
        )
    scores = np.log(np.clip(probs[:, record.label], 1e-300, None))
    canary_scores, cand_scores = scores[: record.n_canaries], np.sort(scores[record.n_canaries :])
    # rank 1 = the highest score; candidates tied with a canary rank above it
    ranks = 1 + (n_candidates - np.searchsorted(cand_scores, canary_scores, side="left"))
    p_each = ranks / (n_candidates + 1)
    exposure = np.log2(n_candidates + 1) - np.log2(ranks)
    stat, p = combine_pvalues(p_each, method="fisher")
    return OwnershipResult(
        method="canary-exposure",
        p_value=float(p),
        significance=significance,
        statistic=float(stat),
        effect=float(np.mean(exposure)),
        effect_name="mean_exposure_bits",
        n_queries=len(texts),
        details={
            "canaries": float(record.n_canaries),
            "max_exposure_bits": float(np.max(exposure)),
            "canaries_ranked_first": float(np.sum(ranks == 1)),
        },
    )
