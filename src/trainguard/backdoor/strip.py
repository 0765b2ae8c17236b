"""STRIP: flag triggered inputs at run time by the entropy of perturbed predictions.

Gao et al. 2019, "STRIP: A Defence Against Trojan Attacks on Deep Neural Networks"
(ACSAC). Each input is superimposed on ``n_perturbations`` clean images (pixel-wise
sum, saturated as in the paper's ``addWeighted(x, 1, x_j, 1, 0)``); a trojaned input
keeps its target label whatever it is mixed with, so the mean Shannon entropy (bits)
of those predictions is low. The detection boundary is the ``frr`` quantile of a
normal distribution fitted to the entropies of held-out clean inputs, so about that
share of clean inputs is rejected (the paper's rule). The entropies of clean inputs
are skewed, so the normal's tail can miss: ``boundary="umbrella"`` takes an order
statistic of the clean entropies instead (the Neyman-Pearson umbrella algorithm of
:mod:`trainguard.core.calibration`), which keeps the false-rejection rate at or below
``frr`` with probability ``confidence``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from trainguard.backdoor._nn import check_images, generator
from trainguard.core.calibration import np_threshold
from trainguard.core.errors import NotFittedError
from trainguard.core.findings import Finding, Severity
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_choice, check_int, check_real

Boundary = Literal["normal", "umbrella"]


class Strip:
    """STRIP run-time detector for one model.

    Parameters
    ----------
    model
        Classifier returning logits; inputs in [0, 1].
    n_perturbations
        Clean images each input is superimposed on (the paper's N = 100).
    frr
        Target false-rejection rate on clean inputs; sets the entropy boundary.
    boundary
        ``normal`` (the paper: the ``frr`` quantile of a normal fitted to the clean
        entropies) or ``umbrella`` (an order statistic of the clean entropies that keeps
        the false-rejection rate <= ``frr`` with probability ``confidence``; needs at
        least 299 clean images for 1 % at 95 %).
    confidence
        With ``umbrella``: the probability that the bound holds.
    seed
        Seed of the generator that draws the superimposed clean images.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        n_perturbations: int = 100,
        frr: float = 0.01,
        boundary: Boundary = "normal",
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.n_perturbations = check_int(n_perturbations, "n_perturbations", "Strip", low=1)
        self.frr = check_real(frr, "frr", "Strip", low=0.0, high=1.0, low_open=True, high_open=True)
        self.boundary = check_choice(boundary, "boundary", "Strip", ("normal", "umbrella"))
        self.confidence = check_real(
            confidence, "confidence", "Strip", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.seed = seed

    def fit(self, x_clean: torch.Tensor) -> Strip:
        """Keep ``x_clean`` as the superimposition pool and set the entropy boundary from it."""
        from scipy.stats import norm

        self.pool_ = check_images(x_clean, "Strip.fit", min_rows=2)
        self.clean_entropy_ = self.entropy(self.pool_)
        if self.boundary == "umbrella":  # flag entropy < t  <=>  -entropy > -t
            t = np_threshold(-self.clean_entropy_, max_fpr=self.frr, confidence=self.confidence)
            self.threshold_ = -t
            return self
        mu, sigma = float(self.clean_entropy_.mean()), float(self.clean_entropy_.std(ddof=1))
        self.threshold_ = float(norm.ppf(self.frr, loc=mu, scale=max(sigma, 1e-12)))
        return self

    def entropy(self, x: torch.Tensor) -> np.ndarray:
        """Mean prediction entropy (bits) of each input over its superimposed copies."""
        if not hasattr(self, "pool_"):
            raise NotFittedError("Strip is not fitted; call fit(x_clean) first")
        x = check_images(x, "Strip.entropy")
        g = generator(self.seed)
        out = np.empty(len(x))
        chunk = max(1, 4096 // self.n_perturbations)
        for i in range(0, len(x), chunk):
            xb = x[i : i + chunk]
            pick = torch.randint(len(self.pool_), (len(xb), self.n_perturbations), generator=g)
            mixed = (xb[:, None] + self.pool_[pick]).clamp(0.0, 1.0)
            p = torch.softmax(predict_logits(self.model, mixed.flatten(0, 1)), dim=1)
            h = -(p * torch.log2(p.clamp_min(1e-12))).sum(1)
            out[i : i + len(xb)] = h.reshape(len(xb), -1).mean(1).numpy()
        return out

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """True for inputs judged to carry a trigger (entropy below the boundary)."""
        if not hasattr(self, "threshold_"):
            raise NotFittedError("Strip is not fitted; call fit(x_clean) first")
        return self.entropy(x) < self.threshold_

    def to_findings(
        self, stage: str, x: torch.Tensor, *, max_flagged_fraction: float | None = None
    ) -> list[Finding]:
        """Screen ``x``: one finding with the share of inputs flagged as triggered."""
        h = self.entropy(x)
        flagged = h < self.threshold_
        frac = float(flagged.mean())
        gate = self.frr * 3 if max_flagged_fraction is None else max_flagged_fraction
        return [
            Finding(
                stage=stage,
                check_id="strip",
                title="STRIP: inputs whose predictions resist superimposition",
                severity=Severity.HIGH if frac > gate else Severity.INFO,
                passed=frac <= gate,
                threshold=gate,
                metrics={
                    "flagged_fraction": frac,
                    "entropy_threshold": self.threshold_,
                    "mean_entropy": float(h.mean()),
                    "clean_mean_entropy": float(self.clean_entropy_.mean()),
                    "frr": self.frr,
                },
                message=f"{int(flagged.sum())} of {len(h)} inputs below entropy {self.threshold_:.3f} bits",
            )
        ]
