"""A small word-level vocabulary that turns texts into padded id tensors."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from trainguard.core.errors import NotFittedError

PAD, UNK = 0, 1
_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Lower-case word and punctuation tokens."""
    return _TOKEN.findall(text.lower())


class Vocabulary:
    """Map tokens to ids (0 = padding, 1 = unknown), keeping the most frequent ones.

    Parameters
    ----------
    max_size
        Largest number of ids including the two special ones.
    max_len
        Texts are cut to this many tokens when encoded.
    min_count
        Tokens seen fewer times in ``fit`` map to the unknown id.
    """

    def __init__(self, max_size: int = 20_000, max_len: int = 64, min_count: int = 1) -> None:
        self.max_size = max_size
        self.max_len = max_len
        self.min_count = min_count
        self.tokens: list[str] | None = None
        self._index: dict[str, int] = {}

    def fit(self, texts: Iterable[str]) -> Vocabulary:
        """Count tokens in ``texts`` and keep the most frequent."""
        counts = Counter(t for text in texts for t in tokenize(text))
        kept = [t for t, c in counts.most_common(self.max_size - 2) if c >= self.min_count]
        self.tokens = ["<pad>", "<unk>", *kept]
        self._index = {t: i for i, t in enumerate(self.tokens)}
        return self

    def __len__(self) -> int:
        if self.tokens is None:
            raise NotFittedError("Vocabulary is not fitted; call fit(texts) first")
        return len(self.tokens)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``int64`` array ``(n, max_len)`` of ids, right-padded with 0."""
        if self.tokens is None:
            raise NotFittedError("Vocabulary is not fitted; call fit(texts) first")
        out = np.zeros((len(texts), self.max_len), dtype=np.int64)
        for i, text in enumerate(texts):
            ids = [self._index.get(t, UNK) for t in tokenize(text)[: self.max_len]]
            out[i, : len(ids)] = ids
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, to store beside a model."""
        return {
            "max_size": self.max_size,
            "max_len": self.max_len,
            "min_count": self.min_count,
            "tokens": self.tokens,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """Rebuild a vocabulary stored with :meth:`to_dict`."""
        v = cls(int(d["max_size"]), int(d["max_len"]), int(d["min_count"]))
        v.tokens = list(d["tokens"])
        v._index = {t: i for i, t in enumerate(v.tokens)}
        return v
