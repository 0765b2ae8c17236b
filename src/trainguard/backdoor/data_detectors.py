"""Data-side backdoor detectors: which training rows are poisoned.

Both work per class on a model's penultimate activations of the (possibly poisoned)
training set and follow scikit-learn's shape: ``fit(activations, y)`` learns the
per-class statistics and sets ``scores_`` (per-row suspicion) and ``flagged_``;
``predict(activations, y)`` flags new rows; ``fit_predict`` does both.

- :class:`ActivationClustering` (Chen et al. 2018, "Detecting Backdoor Attacks on Deep
  Neural Networks by Activation Clustering"): per class, reduce the activations to 10
  dimensions with ICA, split them with 2-means, and call the smaller cluster poisoned
  when it holds at most ``max_cluster_fraction`` (the paper's relative-size test, 35 %)
  of the class and the split's silhouette score reaches ``min_silhouette`` (the
  paper's silhouette analysis).
- :class:`SpectralSignatures` (Tran et al. 2018, "Spectral Signatures in Backdoor
  Attacks", Algorithm 1): per class, score each row by its squared correlation with
  the top singular vector of the centred activations and remove the
  ``removal_factor * expected_fraction`` (1.5 epsilon) highest-scoring rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from trainguard.core.errors import DataError, NotFittedError
from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_choice, check_int, check_real


def _check_xy(activations: np.ndarray, y: np.ndarray, owner: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(activations, dtype=np.float64)
    labels = np.asarray(y)
    if a.ndim != 2:
        raise DataError(f"{owner}: activations must be (n, d), got shape {a.shape}")
    if labels.ndim != 1 or len(labels) != len(a):
        raise DataError(f"{owner}: y must be 1-D with one label per activation row")
    if not np.all(np.isfinite(a)):
        raise DataError(f"{owner}: activations contain NaN or infinite values")
    return a, labels.astype(np.int64)


@dataclass
class ClassReport:
    """What a detector found in one class."""

    label: int
    rows: int
    flagged: int
    statistic: float
    suspicious: bool


@dataclass
class PoisonScan:
    """Per-row scores and flags of a data-side detector, with its per-class report."""

    detector: str
    scores: np.ndarray
    flagged: np.ndarray
    classes: list[ClassReport]
    verdict: bool = True
    """False for a filter (Spectral Signatures removes a share of every class whatever
    the data): its finding is informational, never a pass or a fail."""

    @property
    def suspicious_classes(self) -> list[int]:
        """Labels whose rows the detector considers poisoned."""
        return [c.label for c in self.classes if c.suspicious]

    def to_findings(self, stage: str, *, evidence: list[str] | None = None) -> list[Finding]:
        """One finding: how many rows are flagged, in which classes."""
        n = int(self.flagged.sum())
        bad = self.suspicious_classes if self.verdict else []
        if not self.verdict:
            message = f"{n} rows with the highest outlier scores of their class (a filter)"
        else:
            message = f"{n} rows flagged in classes {bad}" if bad else "no class looks poisoned"
        return [
            Finding(
                stage=stage,
                check_id=f"poison-{self.detector}",
                title=f"Poisoned training rows ({self.detector.replace('-', ' ')})",
                severity=Severity.HIGH if bad else Severity.INFO,
                passed=(not bad) if self.verdict else None,
                metrics={
                    "flagged_rows": float(n),
                    "flagged_fraction": n / max(len(self.flagged), 1),
                },
                message=message,
                evidence=list(evidence or []),
                table=[
                    {
                        "label": c.label,
                        "rows": c.rows,
                        "flagged": c.flagged,
                        "statistic": round(c.statistic, 4),
                        "suspicious": c.suspicious,
                    }
                    for c in self.classes
                ],
            )
        ]


class _PerClassDetector:
    """Shared ``fit_predict``/``scan`` plumbing; subclasses fill ``_fit_class``/``_score_class``."""

    name = ""
    verdict = True
    scores_: np.ndarray
    flagged_: np.ndarray
    classes_: list[ClassReport]

    def _fit_class(self, a: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray, ClassReport]:
        raise NotImplementedError

    def _score_class(self, a: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, activations: np.ndarray, y: np.ndarray) -> _PerClassDetector:
        """Learn per-class statistics of ``activations`` and score the rows."""
        a, labels = _check_xy(activations, y, f"{type(self).__name__}.fit")
        self.scores_ = np.zeros(len(a))
        self.flagged_ = np.zeros(len(a), bool)
        self.classes_ = []
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            s, f, report = self._fit_class(a[rows], int(label))
            self.scores_[rows], self.flagged_[rows] = s, f
            self.classes_.append(report)
        return self

    def _require_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(activations, y)")

    def score_samples(self, activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Suspicion score of new rows (higher is more suspicious)."""
        return self._apply(activations, y)[0]

    def predict(self, activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean flags of new rows (True = poisoned)."""
        return self._apply(activations, y)[1]

    def _apply(self, activations: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        a, labels = _check_xy(activations, y, f"{type(self).__name__}.predict")
        known = {c.label for c in self.classes_}
        scores, flags = np.zeros(len(a)), np.zeros(len(a), bool)
        for label in np.unique(labels):
            if int(label) not in known:
                raise DataError(f"{type(self).__name__}.predict: label {label} was not seen in fit")
            rows = np.flatnonzero(labels == label)
            scores[rows], flags[rows] = self._score_class(a[rows], int(label))
        return scores, flags

    def fit_predict(self, activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fit and return the flags of the training rows."""
        return self.fit(activations, y).flagged_

    def scan(self) -> PoisonScan:
        """The fitted rows' scores and flags as a typed result."""
        self._require_fitted()
        return PoisonScan(
            self.name,
            self.scores_.copy(),
            self.flagged_.copy(),
            list(self.classes_),
            verdict=self.verdict,
        )


@dataclass
class _Clusters:
    columns: np.ndarray
    reducer: Any
    kmeans: Any
    small: int
    silhouette: float
    size_ok: bool
    suspicious: bool


class ActivationClustering(_PerClassDetector):
    """Activation Clustering (Chen et al. 2018): 2-means on ICA-reduced activations per class.

    Parameters
    ----------
    n_components
        Dimensions after reduction (the paper's 10).
    reduce
        ``ica`` (the paper's FastICA) or ``pca``.
    max_cluster_fraction
        The smaller cluster is poisoned only if it holds at most this share of its class.
    min_silhouette
        ... and only if the 2-means split has at least this silhouette score.
    seed
        Seed of ICA and k-means.

    The per-row score is the class's silhouette score for rows of a smaller cluster that
    passes the size test, 0 elsewhere.
    """

    name = "activation-clustering"

    def __init__(
        self,
        *,
        n_components: int = 10,
        reduce: Literal["ica", "pca"] = "ica",
        max_cluster_fraction: float = 0.35,
        min_silhouette: float = 0.15,
        seed: int = 0,
    ) -> None:
        owner = "ActivationClustering"
        self.n_components = check_int(n_components, "n_components", owner, low=1)
        self.reduce = check_choice(reduce, "reduce", owner, ("ica", "pca"))
        self.max_cluster_fraction = check_real(
            max_cluster_fraction, "max_cluster_fraction", owner, low=0.0, high=0.5, low_open=True
        )
        self.min_silhouette = check_real(
            min_silhouette, "min_silhouette", owner, low=-1.0, high=1.0
        )
        self.seed = seed
        self._models: dict[int, _Clusters] = {}

    def _fit_class(self, a: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray, ClassReport]:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA, FastICA
        from sklearn.metrics import silhouette_score

        # ICA's whitening divides by each column's spread: leave out the constant
        # columns (dead ReLUs) and use at most as many components as directions
        columns = np.flatnonzero(a.std(0) > 1e-8) if len(a) else np.arange(a.shape[1])
        a = a[:, columns]
        k = min(self.n_components, len(a) - 1, int(np.linalg.matrix_rank(a - a.mean(0))))
        if len(a) < 4 or k < 1:
            self._models[label] = _Clusters(columns, None, None, 0, 0.0, False, False)
            return (
                np.zeros(len(a)),
                np.zeros(len(a), bool),
                ClassReport(label, len(a), 0, 0.0, False),
            )
        reducer = (
            FastICA(n_components=k, random_state=self.seed, max_iter=1000, tol=5e-3)
            if self.reduce == "ica"
            else PCA(n_components=k, random_state=self.seed)
        )
        z = reducer.fit_transform(a)
        km = KMeans(n_clusters=2, n_init=10, random_state=self.seed).fit(z)
        sizes = np.bincount(km.labels_, minlength=2)
        small = int(np.argmin(sizes))
        sil = 0.0
        if sizes.min() > 0:
            n_sil = min(len(z), 2000)
            sil = float(silhouette_score(z, km.labels_, sample_size=n_sil, random_state=self.seed))
        size_ok = bool(sizes[small] / len(a) <= self.max_cluster_fraction)
        model = _Clusters(
            columns, reducer, km, small, sil, size_ok, size_ok and sil >= self.min_silhouette
        )
        self._models[label] = model
        scores, flags = self._score_class(a, label, z=z)
        return scores, flags, ClassReport(label, len(a), int(flags.sum()), sil, model.suspicious)

    def _score_class(
        self, a: np.ndarray, label: int, *, z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        m = self._models[label]
        if m.reducer is None or m.kmeans is None:
            return np.zeros(len(a)), np.zeros(len(a), bool)
        z = m.reducer.transform(a[:, m.columns]) if z is None else z
        in_small = m.kmeans.predict(z) == m.small
        scores = np.where(in_small & m.size_ok, m.silhouette, 0.0)
        return scores, in_small & m.suspicious


class SpectralSignatures(_PerClassDetector):
    """Spectral Signatures (Tran et al. 2018, Algorithm 1).

    Parameters
    ----------
    expected_fraction
        The bound epsilon on the fraction of a class's rows that are poisoned.
    removal_factor
        Remove ``removal_factor * expected_fraction`` of each class (the paper's 1.5).

    ``scores_`` holds each row's outlier score divided by its class's removal cutoff,
    so rows at or above 1 are the removed ones and scores compare across classes.
    """

    name = "spectral-signatures"
    verdict = False

    def __init__(self, *, expected_fraction: float = 0.1, removal_factor: float = 1.5) -> None:
        owner = "SpectralSignatures"
        self.expected_fraction = check_real(
            expected_fraction, "expected_fraction", owner, low=0.0, high=1.0, low_open=True
        )
        self.removal_factor = check_real(
            removal_factor, "removal_factor", owner, low=0.0, low_open=True
        )
        self._models: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    @staticmethod
    def outlier_scores(a: np.ndarray, mean: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """``((a_i - mean) . v)^2`` for each row: the paper's outlier score."""
        return ((a - mean) @ direction) ** 2

    def _fit_class(self, a: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray, ClassReport]:
        mean = a.mean(0)
        _, s, vt = np.linalg.svd(a - mean, full_matrices=False)
        raw = self.outlier_scores(a, mean, vt[0])
        n_remove = min(len(a), int(np.floor(self.removal_factor * self.expected_fraction * len(a))))
        cutoff = float(np.sort(raw)[-n_remove]) if n_remove > 0 else float("inf")
        self._models[label] = (mean, vt[0], max(cutoff, 1e-300))
        scores, flags = self._score_class(a, label)
        energy = float(s[0] ** 2 / max((s**2).sum(), 1e-300))
        return (
            scores,
            flags,
            ClassReport(label, len(a), int(flags.sum()), energy, bool(flags.any())),
        )

    def _score_class(self, a: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
        mean, v, cutoff = self._models[label]
        scores = self.outlier_scores(a, mean, v) / cutoff
        return scores, scores >= 1.0
