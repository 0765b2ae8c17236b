"""Run stages: adversarial training (``train``) and robustness evaluation (``robustness``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from trainguard.core.datasets import Dataset
from trainguard.core.errors import ModelError
from trainguard.core.findings import Finding, StageResult
from trainguard.core.plots import line_plot
from trainguard.core.run import RunDir
from trainguard.core.training import TrainedModel, predict_proba
from trainguard.core.training_findings import record_training
from trainguard.robustness.evaluation import RobustnessCurve, robustness_curve
from trainguard.robustness.masking import GradientMaskingReport, gradient_masking_checks
from trainguard.robustness.norms import Norm
from trainguard.robustness.text_attacks import CharAttackResult, TextProbabilities, char_attack
from trainguard.robustness.training import AdversarialConfig, domain_for, train_adversarial

__all__ = [
    "RobustnessReport",
    "adversarial_train_stage",
    "default_epsilons",
    "evaluate_robustness",
    "robustness_stage",
    "text_probabilities",
]


def adversarial_train_stage(
    run: RunDir,
    train: Dataset,
    test: Dataset,
    *,
    model_name: str | None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    method: str,
    eps: float,
    min_accuracy: float | None,
    eps_ramp: int = 0,
) -> TrainedModel:
    """Train a zoo model adversarially and add stage ``train`` to ``run``.

    Records the test accuracy (gated by ``min_accuracy``), the saved model, and the
    clean and PGD-10 robust test accuracy after every epoch with their plot. For text
    data ``eps`` is an L2 radius in embedding space; ``eps_ramp`` epochs grow the
    training radius from 0 (see :func:`~trainguard.robustness.training.adversarial_fit`).
    """
    t0 = time.perf_counter()
    config = AdversarialConfig(method, eps, domain=domain_for(train))  # type: ignore[arg-type]
    tm = train_adversarial(
        train, config, model_name=model_name, epochs=epochs, batch_size=batch_size, lr=lr,
        seed=seed, val=test, eps_ramp=eps_ramp,
    )  # fmt: skip
    h = tm.history
    robust = h.last("robust_accuracy")
    findings, acc = record_training(
        run, "train", tm, test, min_accuracy=min_accuracy,
        extra_metrics={"robust_accuracy": robust, "eps": eps},
    )  # fmt: skip
    plot = line_plot(
        run,
        "train_robust_curve",
        h.series("epoch"),
        {
            "clean (test)": h.series("val_accuracy"),
            "robust (test, PGD-10)": h.series("robust_accuracy"),
            "robust (training batches)": h.series("train_robust_accuracy"),
        },
        xlabel="epoch",
        ylabel="accuracy",
        title=f"{method} adversarial training, eps {eps:g}",
    )
    findings.append(
        Finding(
            stage="train",
            check_id="robust-accuracy-per-epoch",
            title=f"Clean and robust accuracy per epoch ({method}, eps {eps:g})",
            metrics={
                "robust_accuracy": robust,
                "clean_accuracy": h.last("val_accuracy"),
                "eps": eps,
            },
            message="robust accuracy: PGD-10 with random start at the training radius on up to 500 test rows",
            evidence=[plot],
            table=[{k: round(v, 4) for k, v in e.items()} for e in h.epochs],
        )
    )
    run.add_stage(
        StageResult(
            name="train",
            title=f"Adversarial training ({method})",
            summary=f"{tm.name}, test accuracy {acc:.3f}, robust accuracy {robust:.3f} at eps {eps:g}",
            duration_s=time.perf_counter() - t0,
            findings=findings,
            artifacts=[plot],
        )
    )
    return tm


def default_epsilons(ds: Dataset) -> list[float]:
    """Radii to sweep: L-inf for images in [0, 1] and standardised tables, L2 for text embeddings."""
    return {"image": [0.05, 0.1, 0.2, 0.3], "text": [0.5, 1.0, 2.0]}.get(ds.kind, [0.1, 0.25, 0.5])


@dataclass
class RobustnessReport:
    """A robustness evaluation: the curve, its sanity checks, and (for text) a character attack."""

    curve: RobustnessCurve
    masking: GradientMaskingReport | None
    char: list[CharAttackResult] = field(default_factory=list)

    def to_findings(
        self,
        stage: str,
        *,
        evidence: list[str] | None = None,
        min_robust_accuracy: float | None = None,
    ) -> list[Finding]:
        """Masking verdict first; the curve is a robustness claim only if the checks passed."""
        out = self.masking.to_findings(stage) if self.masking is not None else []
        out += self.curve.to_findings(
            stage, evidence=evidence, min_robust_accuracy=min_robust_accuracy
        )
        for result in self.char:
            out += result.to_findings(stage)
        return out


def text_probabilities(tm: TrainedModel) -> TextProbabilities:
    """The trained text model as a function from texts to class probabilities."""
    if tm.vocab is None:
        raise ModelError(f"model {tm.name!r} has no vocabulary; it is not a text model")
    vocab = tm.vocab

    def proba(texts: Sequence[str]) -> np.ndarray:
        return predict_proba(tm.model, torch.from_numpy(vocab.encode(texts)))

    return proba


def evaluate_robustness(
    tm: TrainedModel,
    test: Dataset,
    *,
    epsilons: list[float] | None = None,
    attack: str = "apgd-ce",
    steps: int | None = 50,
    check_steps: int = 20,
    checks: bool = True,
    char_budgets: tuple[int, ...] = (1, 2),
    limit: int | None = 200,
    seed: int = 0,
) -> RobustnessReport:
    """Robust accuracy curve of a trained model on (up to ``limit`` rows of) ``test``.

    Images and tables are attacked under L-inf, text models in embedding space under
    L2, where ``char_budgets`` also run the greedy character-level attack. The
    gradient-masking checks run at the radius where robust accuracy is nearest half
    the clean accuracy (where a masked gradient shows most).
    """
    ds = test if limit is None else test.head(limit, seed=seed)
    x, y = tm.tensors(ds)
    eps_list = sorted(epsilons or default_epsilons(ds))
    norm: Norm = "l2" if ds.kind == "text" else "linf"
    domain = domain_for(ds)
    tm.model.eval()
    curve = robustness_curve(
        tm.model, x, y, epsilons=eps_list, attack=attack, norm=norm, steps=steps, domain=domain,
        class_names=ds.class_names, seed=seed,
    )  # fmt: skip
    masking = None
    if checks:
        # The most informative radius: robust accuracy nearest half the clean accuracy.
        half = [abs(a - curve.clean_accuracy / 2) for a in curve.accuracy]
        check_eps = eps_list[int(np.argmin(half))]
        masking = gradient_masking_checks(
            tm.model, x, y, eps=check_eps, norm=norm, domain=domain, steps=check_steps, seed=seed
        )
        curve.trusted = not masking.suspicious
    char = []
    if ds.kind == "text" and ds.texts is not None:
        proba = text_probabilities(tm)
        char = [char_attack(proba, ds.texts, ds.y, budget=k, seed=seed) for k in char_budgets]
    return RobustnessReport(curve, masking, char)


def robustness_stage(
    run: RunDir,
    tm: TrainedModel,
    test: Dataset,
    *,
    epsilons: list[float] | None = None,
    attack: str = "apgd-ce",
    steps: int | None = 50,
    limit: int | None = 200,
    checks: bool = True,
    check_steps: int = 20,
    min_robust_accuracy: float | None = None,
    seed: int = 0,
) -> RobustnessReport:
    """Evaluate ``tm`` under attack and add stage ``robustness`` to ``run``.

    The stage holds the robust-accuracy-vs-epsilon plot (overall and per class), the
    gradient-masking verdict, and a gate on the accuracy at the largest radius when
    ``min_robust_accuracy`` is given and the checks passed.
    """
    t0 = time.perf_counter()
    report = evaluate_robustness(
        tm,
        test,
        epsilons=epsilons,
        attack=attack,
        steps=steps,
        checks=checks,
        limit=limit,
        seed=seed,
    )
    plot = report.curve.plot(run, "robustness_curve")
    findings = report.to_findings(
        "robustness", evidence=[plot], min_robust_accuracy=min_robust_accuracy
    )
    c = report.curve
    summary = ", ".join(f"{a:.3f}@{e:g}" for e, a in zip(c.epsilons, c.accuracy, strict=True))
    if report.masking is not None and report.masking.suspicious:
        summary = "possible gradient masking; " + summary
    run.add_stage(
        StageResult(
            name="robustness",
            title=f"Robustness under {attack}",
            summary=f"clean {c.clean_accuracy:.3f}; robust {summary}",
            duration_s=time.perf_counter() - t0,
            findings=findings,
            artifacts=[plot],
        )
    )
    return report
