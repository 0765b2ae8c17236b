"""A text classifier trainguard trains on the user's labelled data and stores without pickle.

Features are hashed word 1-2-grams and character 2-5-grams (within word boundaries)
of the folded text (:func:`trainguard.guard.normalize.normalize`), weighted by
sublinear TF-IDF and L2-normalised; a logistic regression with balanced class
weights scores them. The decision threshold is 0.5 unless :meth:`TextClassifier.calibrate`
sets one with a false-positive guarantee on held-out benign texts
(:mod:`trainguard.core.calibration`). Training uses scikit-learn; the fitted state is only arrays
(IDF weights, coefficients, intercept) written as JSON + ``.npz`` with
``allow_pickle=False``, so a stored model never executes code when it is loaded.

References: K. Weinberger et al., "Feature Hashing for Large Scale Multitask
Learning", ICML 2009; T. Davidson et al., "Automated Hate Speech Detection and the
Problem of Offensive Language", ICWSM 2017 (TF-IDF n-grams + logistic regression).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from trainguard.core.atomic import atomic_open, atomic_write_text
from trainguard.core.errors import DataError, ModelError, NotFittedError
from trainguard.core.validation import check_int, check_positive, check_real
from trainguard.guard.normalize import normalize

FORMAT = "trainguard-textclf/1"
_META = "textclf.json"
_ARRAYS = "textclf.npz"


def _vectorizers(n_features: int) -> list[Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    common: dict[str, Any] = {
        "n_features": n_features,
        "alternate_sign": False,
        "norm": None,
        "lowercase": False,
    }
    return [
        HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common),
        HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common),
    ]


class TextClassifier:
    """Hashed n-gram TF-IDF + logistic regression for one binary task.

    Parameters
    ----------
    n_features
        Hash space per feature family (word and character n-grams), default ``2**18``.
    C
        Inverse L2 regularisation strength of the logistic regression.
    seed
        Seed of the solver.
    """

    def __init__(self, *, n_features: int = 2**18, C: float = 4.0, seed: int = 0) -> None:
        self.n_features = check_int(n_features, "n_features", "TextClassifier", low=16)
        self.C = check_positive(C, "C", "TextClassifier")
        self.seed = seed
        self.idf_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.task: str = ""
        self.threshold: float = 0.5
        """Probability at or above which a text counts as harmful."""
        self.calibration: dict[str, float] = {}

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        folded = [normalize(t).folded for t in texts]
        blocks = [v.transform(folded) for v in _vectorizers(self.n_features)]
        x = sparse.hstack(blocks, format="csr", dtype=np.float64)
        x.data = 1.0 + np.log(x.data)  # sublinear tf
        return x

    def _features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if self.idf_ is None:
            raise NotFittedError("TextClassifier is not fitted; call fit(texts, labels) first")
        x = self._counts(texts) @ sparse.diags(self.idf_)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ x

    def fit(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> TextClassifier:
        """Fit on texts with binary labels (1 = the harmful class)."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels).astype(int)
        if len(texts) != len(y):
            raise DataError(f"got {len(texts)} texts but {len(y)} labels")
        if set(np.unique(y)) != {0, 1}:
            raise DataError("labels must be binary 0/1 with both classes present")
        counts = self._counts(texts)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf_ = np.log((1 + len(texts)) / (1 + df)) + 1.0
        clf = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed
        )
        clf.fit(self._features(texts), y)
        self.coef_ = clf.coef_.ravel().astype(np.float64)
        self.intercept_ = float(clf.intercept_[0])
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Logit of the harmful class for each text."""
        if self.coef_ is None:
            raise NotFittedError("TextClassifier is not fitted; call fit(texts, labels) first")
        return np.asarray(self._features(texts) @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of the harmful class for each text (shape ``(n,)``)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(texts)))

    def calibrate(
        self, benign_texts: Sequence[str], *, max_fpr: float = 0.01, confidence: float = 0.95
    ) -> TextClassifier:
        """Set :attr:`threshold` on benign texts the model was not fitted on.

        The false-positive rate at it is at most ``max_fpr`` with probability ``confidence``
        (:func:`~trainguard.core.calibration.np_threshold`).
        """
        from trainguard.core.calibration import np_threshold

        scores = self.predict_proba(benign_texts)
        self.threshold = np_threshold(scores, max_fpr=max_fpr, confidence=confidence)
        self.calibration = {
            "max_fpr": max_fpr,
            "confidence": confidence,
            "benign_texts": len(benign_texts),
        }
        return self

    def save(self, folder: str | Path) -> Path:
        """Write the model to ``folder`` (JSON metadata + arrays, no pickle)."""
        if self.coef_ is None or self.idf_ is None:
            raise NotFittedError("TextClassifier is not fitted; nothing to save")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        keep = np.flatnonzero(self.coef_)
        with atomic_open(out / _ARRAYS, "wb") as fh:
            np.savez_compressed(fh, index=keep, coef=self.coef_[keep], idf=self.idf_[keep])
        meta = {
            "format": FORMAT,
            "task": self.task,
            "n_features": self.n_features,
            "C": self.C,
            "seed": self.seed,
            "intercept": self.intercept_,
            "threshold": self.threshold,
            "calibration": self.calibration,
            "default_idf": float(self.idf_.max()),
        }
        atomic_write_text(out / _META, json.dumps(meta, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> TextClassifier:
        """Load a model written by :meth:`save`."""
        p = Path(folder)
        try:
            meta = json.loads((p / _META).read_text(encoding="utf-8"))
            with np.load(p / _ARRAYS, allow_pickle=False) as z:
                index, coef, idf = z["index"], z["coef"], z["idf"]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{p}: not a trainguard text classifier ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"{p}: unknown classifier format {meta.get('format')!r}")
        m = cls(n_features=int(meta["n_features"]), C=float(meta["C"]), seed=int(meta["seed"]))
        size = 2 * m.n_features
        m.coef_ = np.zeros(size)
        m.coef_[index] = coef
        m.idf_ = np.full(size, float(meta["default_idf"]))
        m.idf_[index] = idf
        m.intercept_ = float(meta["intercept"])
        m.task = str(meta.get("task", ""))
        m.threshold = float(meta.get("threshold", 0.5))
        m.calibration = dict(meta.get("calibration", {}))
        return m


def fit_calibrated(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    *,
    max_fpr: float = 0.01,
    confidence: float = 0.95,
    calibration_share: float = 0.4,
    seed: int = 0,
    **options: Any,
) -> TextClassifier:
    """Fit on the harmful texts and part of the benign ones, calibrate on the benign rest.

    ``calibration_share`` of the benign texts, and at least
    :func:`~trainguard.core.calibration.min_calibration_size`, are held out for
    :meth:`TextClassifier.calibrate`; ``options`` go to :class:`TextClassifier`.
    """
    from trainguard.core.calibration import min_calibration_size

    share = check_real(
        calibration_share, "calibration_share", "fit_calibrated", low=0.0, high=1.0,
        low_open=True, high_open=True,
    )  # fmt: skip
    y = np.asarray(labels).astype(int)
    if len(texts) != len(y):
        raise DataError(f"got {len(texts)} texts but {len(y)} labels")
    benign = np.flatnonzero(y == 0)
    held = max(round(share * len(benign)), min_calibration_size(max_fpr, confidence))
    if held >= len(benign):
        raise DataError(
            f"calibrating at max_fpr={max_fpr}, confidence={confidence} holds out {held} benign "
            f"texts; got only {len(benign)} (add benign rows, or raise max_fpr / lower confidence)"
        )
    held_out = np.zeros(len(y), dtype=bool)
    held_out[np.random.default_rng(seed).choice(benign, size=held, replace=False)] = True
    model = TextClassifier(seed=seed, **options)
    model.fit([t for t, h in zip(texts, held_out, strict=True) if not h], y[~held_out])
    calib = [t for t, h in zip(texts, held_out, strict=True) if h]
    return model.calibrate(calib, max_fpr=max_fpr, confidence=confidence)
