"""Sanity checks that tell a robust model from one that only hides its gradients.

A model can look robust to gradient attacks because its gradients are useless
(quantised or otherwise non-differentiable inputs, saturated softmax, randomness)
rather than because it is hard to fool. The checks below are the ones recommended by
Carlini et al. (2019), §5 and Athalye et al. (2018), §3; a model that fails any of
them gets a "possible gradient masking" finding instead of a robustness claim.

=====================  ===============================================================
check                  passes when
=====================  ===============================================================
iterative-vs-single    PGD accuracy <= FGSM accuracy + tolerance
unbounded-radius       PGD at a radius covering the whole input domain leaves
                       accuracy <= ``zero_tolerance``
more-iterations        APGD with 5x the steps and 2 restarts lowers accuracy by at
                       most ``tolerance`` below PGD
random-noise           random corners of the ball are no stronger than PGD
transfer (optional)    PGD crafted on a ``surrogate`` model is no stronger than PGD
                       on the model itself (white-box beats black-box)
=====================  ===============================================================

References
----------
- N. Carlini, A. Athalye, N. Papernot, W. Brendel, J. Rauber, D. Tsipras, I. Goodfellow,
  A. Madry, A. Kurakin. "On Evaluating Adversarial Robustness", arXiv:1902.06705, 2019.
- A. Athalye, N. Carlini, D. Wagner. "Obfuscated Gradients Give a False Sense of
  Security: Circumventing Defenses to Adversarial Examples", ICML 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_int, check_real
from trainguard.robustness.attacks import Classifier, pgd
from trainguard.robustness.evaluation import adversarial_correct, clean_correct
from trainguard.robustness.norms import Domain, Norm, as_generator, check_threat, into_threat_set
from trainguard.robustness.text_attacks import attack_space

__all__ = ["GradientMaskingReport", "MaskingCheck", "gradient_masking_checks"]


@dataclass(frozen=True)
class MaskingCheck:
    """One sanity check: the accuracy it observed, the bound it had to meet, the verdict."""

    name: str
    passed: bool
    observed: float
    bound: float
    detail: str


@dataclass
class GradientMaskingReport:
    """The outcome of :func:`gradient_masking_checks` at radius ``eps``."""

    eps: float
    norm: str
    clean_accuracy: float
    pgd_accuracy: float
    checks: list[MaskingCheck]

    @property
    def suspicious(self) -> bool:
        """True when any check failed: robustness numbers for this model are not trustworthy."""
        return any(not c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [c.name for c in self.checks if not c.passed]

    def to_findings(self, stage: str) -> list[Finding]:
        """A "possible gradient masking" finding (failed, high) or a passed sanity finding."""
        title = (
            "Possible gradient masking: robust accuracy is not trustworthy"
            if self.suspicious
            else "Adversarial-evaluation sanity checks passed"
        )
        message = (
            f"failed: {', '.join(self.failed)}; evaluate with a gradient-free or adaptive "
            "attack (BPDA, transfer, Square) before claiming robustness"
            if self.suspicious
            else "attacks behave as expected for a model with informative gradients"
        )
        return [
            Finding(
                stage=stage,
                check_id="gradient-masking",
                title=title,
                severity=Severity.HIGH,
                passed=not self.suspicious,
                metrics={
                    "eps": self.eps,
                    "clean_accuracy": self.clean_accuracy,
                    "pgd_accuracy": self.pgd_accuracy,
                    "failed_checks": float(len(self.failed)),
                },
                message=message,
                table=[
                    {
                        "check": c.name,
                        "passed": c.passed,
                        "observed": round(c.observed, 4),
                        "bound": round(c.bound, 4),
                        "detail": c.detail,
                    }
                    for c in self.checks
                ],
            )
        ]


def _noise_correct(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: Norm,
    domain: Domain,
    draws: int,
    gen: torch.Generator,
) -> np.ndarray:
    """Correct under every one of ``draws`` random perturbations on the sphere of the ball."""
    with torch.no_grad():
        clf, inputs, perturbable, dom = attack_space(model, x, domain)
        correct = torch.ones(len(x), dtype=torch.bool)
        for _ in range(draws):
            noise = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype)
            # L-inf: a corner of the cube; L2: far outside, so projected onto the sphere.
            noise = noise.sign() * eps if norm == "linf" else noise * 1e6
            adv = into_threat_set(inputs, inputs + noise, eps, norm, dom, perturbable)
            correct &= clf(adv).argmax(1) == y
    return correct.numpy()


def _domain_radius(x: torch.Tensor, eps: float, norm: Norm, domain: Domain) -> float:
    """A radius that reaches every point of the domain (or 100 eps without one)."""
    if domain is None:
        return 100.0 * eps
    width = float(domain[1] - domain[0])
    return width if norm == "linf" else width * math.sqrt(x[0].numel())


def gradient_masking_checks(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: Norm = "linf",
    domain: Domain = (0.0, 1.0),
    steps: int = 20,
    surrogate: Classifier | None = None,
    tolerance: float = 0.05,
    zero_tolerance: float = 0.05,
    noise_draws: int = 10,
    batch_size: int = 256,
    seed: int = 0,
) -> GradientMaskingReport:
    """Run the gradient-masking sanity checks of Carlini et al. (2019) at radius ``eps``.

    Parameters
    ----------
    model
        The classifier to check (put it in eval mode). Text models fed token ids are
        checked in embedding space, where the unbounded radius is ``100 * eps``.
    x, y
        Evaluation inputs and labels (a few hundred suffice).
    eps, norm, domain
        The threat model of the robustness claim.
    steps
        PGD steps of the reference attack.
    surrogate
        Optional independently trained model for the transfer check.
    tolerance
        Allowed accuracy gap (fraction) in the comparisons.
    zero_tolerance
        Largest accuracy allowed at the unbounded radius.
    noise_draws
        Random perturbations per sample in the random-noise check.
    batch_size, seed
        Batching and seed of the random starts.
    """
    eps, norm = check_threat(eps, norm, "gradient_masking_checks")
    check_int(steps, "steps", "gradient_masking_checks", low=1)
    tolerance = check_real(tolerance, "tolerance", "gradient_masking_checks", low=0.0, high=1.0)
    zero_tolerance = check_real(
        zero_tolerance, "zero_tolerance", "gradient_masking_checks", low=0.0, high=1.0
    )
    attack = partial(
        adversarial_correct, model, x, y, norm=norm, domain=domain, batch_size=batch_size, seed=seed
    )
    clean = clean_correct(model, x, y)

    def acc(correct: np.ndarray) -> float:
        return float((clean & correct).mean())

    fgsm_acc = acc(attack(attack="fgsm", eps=eps))
    pgd_acc = acc(attack(attack="pgd", eps=eps, steps=steps))
    big = _domain_radius(x, eps, norm, domain)
    big_acc = acc(attack(attack="pgd", eps=big, steps=steps))
    strong_acc = acc(attack(attack="apgd-ce", eps=eps, steps=5 * steps, restarts=2))
    noise_acc = acc(
        _noise_correct(
            model,
            x,
            y,
            eps=eps,
            norm=norm,
            domain=domain,
            draws=noise_draws,
            gen=as_generator(seed),
        )
    )
    checks = [
        MaskingCheck(
            "iterative-vs-single-step",
            pgd_acc <= fgsm_acc + tolerance,
            pgd_acc,
            fgsm_acc + tolerance,
            f"PGD-{steps} {pgd_acc:.3f} vs FGSM {fgsm_acc:.3f}",
        ),
        MaskingCheck(
            "unbounded-radius",
            big_acc <= zero_tolerance,
            big_acc,
            zero_tolerance,
            f"PGD-{steps} at eps={big:g} leaves {big_acc:.3f}",
        ),
        MaskingCheck(
            "more-iterations",
            strong_acc >= pgd_acc - tolerance,
            strong_acc,
            pgd_acc - tolerance,
            f"APGD-CE {5 * steps} steps x2 restarts {strong_acc:.3f} vs PGD-{steps} {pgd_acc:.3f}",
        ),
        MaskingCheck(
            "random-noise",
            noise_acc >= pgd_acc - tolerance,
            noise_acc,
            pgd_acc - tolerance,
            f"{noise_draws} random corners {noise_acc:.3f} vs PGD-{steps} {pgd_acc:.3f}",
        ),
    ]
    if surrogate is not None:
        transfer_acc = acc(
            _transfer_correct(
                model,
                surrogate,
                x,
                y,
                eps=eps,
                norm=norm,
                domain=domain,
                steps=steps,
                batch_size=batch_size,
                seed=seed,
            )
        )
        checks.append(
            MaskingCheck(
                "transfer",
                transfer_acc >= pgd_acc - tolerance,
                transfer_acc,
                pgd_acc - tolerance,
                f"PGD-{steps} transferred from the surrogate {transfer_acc:.3f} vs white-box {pgd_acc:.3f}",
            )
        )
    return GradientMaskingReport(eps, norm, float(clean.mean()), pgd_acc, checks)


def _transfer_correct(
    model: Classifier,
    surrogate: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: Norm,
    domain: Domain,
    steps: int,
    batch_size: int,
    seed: int,
) -> np.ndarray:
    """Correct on PGD examples crafted against ``surrogate`` (inputs must be raw, not ids)."""
    gen = as_generator(seed)
    out = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        adv = pgd(surrogate, xb, yb, eps=eps, steps=steps, norm=norm, domain=domain, seed=gen)
        with torch.no_grad():
            out.append((model(adv).argmax(1) == yb).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)
