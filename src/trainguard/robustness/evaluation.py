"""Robustness evaluation: accuracy under attack, robust-accuracy-vs-epsilon curves.

Attacks are run in batches over a data set, against the model's inputs or, for text
models fed token ids, against their token embeddings (see
:func:`~trainguard.robustness.text_attacks.attack_space`). Robust accuracy follows
the AutoAttack convention: a sample counts as robust when it is classified correctly
both clean and under attack.

The sanity checks that decide whether such numbers can be trusted live in
:mod:`trainguard.robustness.masking`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from trainguard.core.errors import ParameterError
from trainguard.core.findings import Finding, Severity
from trainguard.core.plots import line_plot
from trainguard.core.progress import progress_bar
from trainguard.core.run import RunDir
from trainguard.core.validation import check_int
from trainguard.robustness.attacks import ATTACKS, Classifier
from trainguard.robustness.norms import Domain, Norm, Seed, as_generator, check_threat
from trainguard.robustness.text_attacks import attack_space

__all__ = ["RobustnessCurve", "adversarial_correct", "clean_correct", "robustness_curve"]


def _attack_params(
    attack: str, norm: Norm, steps: int | None, restarts: int, gen: torch.Generator
) -> dict[str, object]:
    if attack == "fgsm":
        return {"norm": norm}
    params: dict[str, object] = {"norm": norm, "restarts": restarts, "seed": gen}
    if steps is not None:
        params["steps"] = steps
    return params


@torch.no_grad()
def clean_correct(
    model: Classifier, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512
) -> np.ndarray:
    """Boolean array: which samples ``model`` classifies correctly."""
    out = [
        model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=bool)


def adversarial_correct(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attack: str = "pgd",
    eps: float,
    norm: Norm = "linf",
    steps: int | None = None,
    restarts: int = 1,
    domain: Domain = (0.0, 1.0),
    batch_size: int = 256,
    seed: Seed = 0,
) -> np.ndarray:
    """Boolean array: which samples are robust, i.e. correct both clean and under ``attack``.

    ``attack`` is a name from :data:`~trainguard.robustness.attacks.ATTACKS`
    (``fgsm``, ``pgd``, ``apgd-ce``); ``steps`` overrides its default number of steps.
    Only samples classified correctly are attacked (the AutoAttack convention). Runs
    batch by batch with a progress bar. Text models fed token ids are attacked in
    embedding space, where ``domain`` does not apply.
    """
    eps, norm = check_threat(eps, norm, "adversarial_correct")
    check_int(batch_size, "batch_size", "adversarial_correct", low=1)
    fn = ATTACKS.get(attack)
    gen = as_generator(seed)
    params = _attack_params(attack, norm, steps, restarts, gen)
    robust = clean_correct(model, x, y, batch_size=batch_size)
    todo = np.flatnonzero(robust)
    with progress_bar(f"{attack} eps={eps:g}", total=len(todo)) as bar:
        for i in range(0, len(todo), batch_size):
            idx = torch.from_numpy(todo[i : i + batch_size])
            xb, yb = x[idx], y[idx]
            with torch.no_grad():
                clf, inputs, perturbable, dom = attack_space(model, xb, domain)
            adv = fn(clf, inputs, yb, eps=eps, domain=dom, perturbable=perturbable, **params)
            with torch.no_grad():
                robust[idx.numpy()] = (clf(adv).argmax(1) == yb).numpy()
            bar.advance(len(idx))
    return robust


@dataclass
class RobustnessCurve:
    """Accuracy under one attack at several radii, overall and per class.

    ``accuracy[i]`` and ``per_class[i][c]`` are robust accuracies at ``epsilons[i]``.
    """

    attack: str
    norm: str
    epsilons: list[float]
    clean_accuracy: float
    accuracy: list[float]
    class_names: list[str]
    clean_per_class: list[float]
    per_class: list[list[float]]
    n_samples: int
    steps: int | None = None
    trusted: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def success_rate(self) -> list[float]:
        """Share of correctly classified samples the attack fooled, at each radius."""
        c = self.clean_accuracy
        return [(c - a) / c if c > 0 else 0.0 for a in self.accuracy]

    def accuracy_at(self, eps: float) -> float:
        """Robust accuracy at the radius closest to ``eps``."""
        i = int(np.argmin([abs(e - eps) for e in self.epsilons]))
        return self.accuracy[i]

    def plot(self, run: RunDir, name: str) -> str:
        """Save the robust-accuracy-vs-epsilon curve (with per-class curves); return its path."""
        series = {"all classes": [self.clean_accuracy, *self.accuracy]}
        if len(self.class_names) <= 10:
            for c, cname in enumerate(self.class_names):
                series[f"class {cname}"] = [
                    self.clean_per_class[c],
                    *(row[c] for row in self.per_class),
                ]
        return line_plot(
            run,
            name,
            [0.0, *self.epsilons],
            series,
            xlabel=f"epsilon ({self.norm})",
            ylabel="robust accuracy",
            title=f"Robust accuracy under {self.attack}",
        )

    def to_findings(
        self,
        stage: str,
        *,
        evidence: list[str] | None = None,
        min_robust_accuracy: float | None = None,
        gate_eps: float | None = None,
    ) -> list[Finding]:
        """The curve as a finding with a per-class table.

        With ``min_robust_accuracy`` the finding is a gate on the accuracy at
        ``gate_eps`` (default: the largest radius), but only for a trusted curve: a
        model flagged for possible gradient masking gets no robustness verdict.
        """
        at = self.epsilons[-1] if gate_eps is None else gate_eps
        acc = self.accuracy_at(at)
        gated = min_robust_accuracy is not None and self.trusted
        rows = [
            {"class": cname, "clean": round(self.clean_per_class[c], 4)}
            | {
                f"eps={e:g}": round(row[c], 4)
                for e, row in zip(self.epsilons, self.per_class, strict=True)
            }
            for c, cname in enumerate(self.class_names)
        ]
        metrics: dict[str, float | None] = {
            "clean_accuracy": self.clean_accuracy,
            "n_samples": float(self.n_samples),
        }
        for e, a, s in zip(self.epsilons, self.accuracy, self.success_rate, strict=True):
            metrics[f"robust_accuracy@{e:g}"] = a
            metrics[f"success_rate@{e:g}"] = s
        message = "; ".join(self.notes)
        if not self.trusted:
            message = ("not a robustness claim: possible gradient masking. " + message).strip()
        return [
            Finding(
                stage=stage,
                check_id=f"robust-accuracy-{self.attack}",
                title=f"Robust accuracy under {self.attack} ({self.norm}, up to eps {self.epsilons[-1]:g})",
                severity=Severity.HIGH if gated else Severity.INFO,
                passed=(acc >= min_robust_accuracy)
                if gated and min_robust_accuracy is not None
                else None,
                threshold=min_robust_accuracy if gated else None,
                metrics=metrics,
                message=message,
                evidence=list(evidence or []),
                table=rows,
            )
        ]


def _per_class(correct: np.ndarray, y: np.ndarray, n_classes: int) -> list[float]:
    counts = np.bincount(y, minlength=n_classes)
    hits = np.bincount(y[correct], minlength=n_classes)
    return [float(h / c) if c else 0.0 for h, c in zip(hits, counts, strict=True)]


def robustness_curve(
    model: Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilons: list[float],
    attack: str = "apgd-ce",
    norm: Norm = "linf",
    steps: int | None = None,
    restarts: int = 1,
    domain: Domain = (0.0, 1.0),
    class_names: list[str] | None = None,
    batch_size: int = 256,
    seed: int = 0,
) -> RobustnessCurve:
    """Robust accuracy of ``model`` on ``(x, y)`` under ``attack`` at each of ``epsilons``.

    A sample is robust at a radius when it is classified correctly clean and under
    the attack (Croce & Hein 2020). Returns the curve with its per-class breakdown and
    attack success rates; see :func:`adversarial_correct` for the attack parameters.
    """
    if not epsilons:
        raise ParameterError(
            "The 'epsilons' parameter of robustness_curve must be a non-empty list. Got [] instead."
        )
    if isinstance(model, torch.nn.Module):
        model.eval()
    yn = y.numpy()
    n_classes = len(class_names) if class_names else int(yn.max()) + 1
    names = class_names or [str(c) for c in range(n_classes)]
    clean = clean_correct(model, x, y)
    accs, per_class = [], []
    for eps in sorted(epsilons):
        robust = adversarial_correct(
            model, x, y, attack=attack, eps=eps, norm=norm, steps=steps, restarts=restarts,
            domain=domain, batch_size=batch_size, seed=seed,
        )  # fmt: skip
        accs.append(float(robust.mean()))
        per_class.append(_per_class(robust, yn, n_classes))
    return RobustnessCurve(
        attack=attack,
        norm=norm,
        epsilons=sorted(float(e) for e in epsilons),
        clean_accuracy=float(clean.mean()),
        accuracy=accs,
        class_names=names,
        clean_per_class=_per_class(clean, yn, n_classes),
        per_class=per_class,
        n_samples=len(x),
        steps=steps,
    )
