"""In-processing: fairlearn's Exponentiated Gradient reduction around a zoo model.

Reference: A. Agarwal, A. Beygelzimer, M. Dudik, J. Langford, H. Wallach,
"A reductions approach to fair classification", ICML 2018. The reduction is
fairlearn's ``ExponentiatedGradient``; this module only adapts the zoo's PyTorch
models to the scikit-learn estimator interface it drives.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from trainguard.core.datasets import Dataset
from trainguard.core.errors import NotFittedError, require
from trainguard.core.training import TrainedModel, predict_proba, train_model
from trainguard.core.validation import check_choice, check_int, check_positive

ExpgradConstraint = Literal["demographic_parity", "equalized_odds"]


class ZooClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A zoo model (``logreg``, ``mlp``) as a scikit-learn classifier with sample weights.

    ``fit(X, y, sample_weight)`` trains a fresh model with
    :func:`trainguard.core.training.train_model`, the weights scaling each row's
    cross-entropy, which is what reductions such as Exponentiated Gradient need.
    """

    def __init__(
        self,
        model_name: str = "logreg",
        *,
        epochs: int = 5,
        batch_size: int = 256,
        lr: float = 1e-2,
        seed: int = 0,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = model_name
        self.model_options = model_options
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ZooClassifier:
        """Train on features ``X`` and labels ``y`` (optionally weighted)."""
        x = np.asarray(X, dtype=np.float32)
        labels = np.asarray(y).astype(np.int64).ravel()
        self.classes_ = np.array([0, 1])
        ds = Dataset(
            name="zoo-classifier",
            kind="tabular",
            X=x,
            y=labels,
            class_names=["0", "1"],
        )
        weights = None if sample_weight is None else np.array(sample_weight, dtype=np.float64)
        self.model_: TrainedModel = train_model(
            ds,
            model_name=self.model_name,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            sample_weight=weights,
            model_options=self.model_options,
        )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, 2)``."""
        if not hasattr(self, "model_"):
            raise NotFittedError("ZooClassifier is not fitted; call fit first")
        import torch

        return predict_proba(self.model_.model, torch.from_numpy(np.asarray(X, dtype=np.float32)))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels 0/1."""
        return self.predict_proba(X).argmax(axis=1)


def exponentiated_gradient(
    X: Any,
    y: Any,
    *,
    sensitive_features: Any,
    constraint: ExpgradConstraint = "demographic_parity",
    estimator: Any = None,
    eps: float = 0.01,
    max_iter: int = 50,
) -> Any:
    """Fit fairlearn's ``ExponentiatedGradient`` under a parity constraint.

    Parameters
    ----------
    X, y
        Training features and binary labels (0/1).
    sensitive_features
        The sensitive column(s) of the training rows.
    constraint
        ``"demographic_parity"`` (equal selection rates) or ``"equalized_odds"``
        (equal TPR and FPR).
    estimator
        A scikit-learn classifier accepting ``sample_weight``; default a
        :class:`ZooClassifier` around the zoo's logistic regression.
    eps
        Allowed constraint violation (fairlearn's ``eps``).
    max_iter
        Iterations of the exponentiated-gradient game.

    Returns
    -------
    fairlearn.reductions.ExponentiatedGradient
        The fitted randomised classifier; call ``predict(X, random_state=...)``.
    """
    require("fairlearn", "fairness")
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

    check_choice(
        constraint, "constraint", "exponentiated_gradient", ("demographic_parity", "equalized_odds")
    )
    check_positive(eps, "eps", "exponentiated_gradient")
    check_int(max_iter, "max_iter", "exponentiated_gradient", low=1)
    moment = DemographicParity() if constraint == "demographic_parity" else EqualizedOdds()
    reduction = ExponentiatedGradient(
        estimator if estimator is not None else ZooClassifier(),
        constraints=moment,
        eps=eps,
        max_iter=max_iter,
    )
    sens = (
        pd.DataFrame({str(k): np.asarray(v) for k, v in sensitive_features.items()})
        if isinstance(sensitive_features, Mapping)
        else sensitive_features
    )
    with warnings.catch_warnings():  # fairlearn 0.15 uses a pandas idiom pandas 3 deprecates
        warnings.filterwarnings("ignore", message="Setting a value on a Series via .at")
        reduction.fit(np.asarray(X, dtype=np.float32), np.asarray(y), sensitive_features=sens)
    return reduction
