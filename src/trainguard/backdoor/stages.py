"""Backdoor checks as run stages: findings plus recovered-trigger pictures in a RunDir."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainguard.backdoor._nn import penultimate
from trainguard.backdoor.data_detectors import ActivationClustering, SpectralSignatures
from trainguard.backdoor.neural_cleanse import NC_STEPS, neural_cleanse
from trainguard.backdoor.neuron_stimulation import STIMULATION_STEPS, neuron_stimulation_scan
from trainguard.backdoor.repair import RepairResult, unlearn
from trainguard.backdoor.reversed import (
    TRIGGER_SOURCES,
    Selection,
    TriggerSource,
    choose_reversed_triggers,
    rank_reversed_triggers,
    reverse_triggers,
    reversed_triggers_finding,
    unlearn_residual,
)
from trainguard.backdoor.triggers import ImageTrigger
from trainguard.core.datasets import Dataset
from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.plots import bar_plot, image_grid
from trainguard.core.run import RunDir
from trainguard.core.validation import check_choice, check_int

MODEL_DETECTORS = ("neural-cleanse", "neuron-stimulation")


def trigger_picture(
    run: RunDir, name: str, triggers: Sequence[ImageTrigger], titles: Sequence[str]
) -> str:
    """Save the triggers side by side as ``artifacts/<name>.png``; return its run path."""
    return image_grid(run, name, [t.picture() for t in triggers], titles=list(titles))


def stimulation_steps(steps: int | None) -> int:
    """The stimulation scan's steps per trigger for a Neural Cleanse cap ``steps``.

    Two thirds of it (at least 50); ``None`` keeps the scan's default.
    """
    return STIMULATION_STEPS if steps is None else max(50, steps * 2 // 3)


def model_scan_findings(
    run: RunDir,
    stage: str,
    model: nn.Module,
    x_clean: torch.Tensor,
    *,
    detectors: Sequence[str] = MODEL_DETECTORS,
    steps: int | None = None,
    max_mask_size: float = 0.03,
    seed: int = 0,
) -> list[Finding]:
    """Run the model-side detectors on ``model`` with clean images; save their triggers.

    ``steps`` caps Neural Cleanse's optimisation steps per label (the stimulation scan
    uses two thirds of it per trigger); ``None`` keeps each detector's default (1500
    and 600, the settings of the benchmarks). ``max_mask_size`` bounds the stimulation
    scan's patch triggers.
    """
    for d in detectors:
        check_choice(d, "detectors", "model_scan_findings", MODEL_DETECTORS)
    findings: list[Finding] = []
    if "neural-cleanse" in detectors:
        nc = neural_cleanse(model, x_clean, steps=steps or NC_STEPS, seed=seed)
        pic = trigger_picture(
            run,
            f"{stage}_neural_cleanse_triggers",
            nc.triggers,
            [f"{k}: L1 {v:.1f}" for k, v in enumerate(nc.mask_l1)],
        )
        bars = bar_plot(
            run,
            f"{stage}_neural_cleanse_anomaly",
            {str(k): {"anomaly index": float(a)} for k, a in enumerate(nc.anomaly)},
            ylabel="anomaly index",
            title="Neural Cleanse: anomaly index per label",
            hline=nc.threshold,
        )
        findings += nc.to_findings(stage, evidence=[pic, bars])
    if "neuron-stimulation" in detectors:
        st = neuron_stimulation_scan(
            model, x_clean, steps=stimulation_steps(steps), max_mask_size=max_mask_size, seed=seed
        )
        shown = [c for c in st.candidates if c.trigger is not None][:5]
        pic = trigger_picture(
            run,
            f"{stage}_neuron_stimulation_triggers",
            [c.trigger for c in shown if c.trigger is not None],
            [f"{c.layer}:{c.neuron}->{c.label} {c.reasr:.0%}" for c in shown],
        )
        findings += st.to_findings(stage, evidence=[pic])
    return findings


POISON_DETECTORS = ("activation-clustering", "spectral-signatures")


@dataclass
class PoisoningCheck:
    """The data-side detectors' findings and the rows each detector flagged."""

    findings: list[Finding]
    flagged: dict[str, np.ndarray]
    """Boolean mask of the flagged rows, by detector (see :data:`POISON_DETECTORS`)."""

    def flagged_by_all(self, detectors: Sequence[str]) -> np.ndarray:
        """Rows every one of ``detectors`` flagged (none when ``detectors`` is empty)."""
        n = len(next(iter(self.flagged.values())))
        if not detectors:
            return np.zeros(n, bool)
        out = np.ones(n, bool)
        for d in detectors:
            check_choice(d, "detectors", "flagged_by_all", POISON_DETECTORS)
            out &= self.flagged[d]
        return out


def poison_scan_findings(
    stage: str,
    model: nn.Module,
    train: Dataset,
    *,
    expected_fraction: float = 0.1,
    seed: int = 0,
    poisoned: np.ndarray | None = None,
) -> PoisoningCheck:
    """Activation Clustering and Spectral Signatures on the training set ``train``.

    With the ground truth ``poisoned`` (a simulation), each finding also reports the
    precision and recall of its flagged rows.
    """
    acts = penultimate(model, torch.from_numpy(np.ascontiguousarray(train.X, np.float32)))
    findings: list[Finding] = []
    flagged: dict[str, np.ndarray] = {}
    detectors = (
        ActivationClustering(seed=seed),
        SpectralSignatures(expected_fraction=expected_fraction),
    )
    for name, det in zip(POISON_DETECTORS, detectors, strict=True):
        scan = det.fit(acts, train.y).scan()
        flagged[name] = scan.flagged
        found = scan.to_findings(stage)
        if poisoned is not None:
            found[0].metrics |= _precision_recall(scan.flagged, poisoned)
        findings += found
    return PoisoningCheck(findings, flagged)


def _precision_recall(flagged: np.ndarray, poisoned: np.ndarray) -> dict[str, float | None]:
    hit = float((flagged & poisoned).sum())
    return {
        "precision": hit / max(float(flagged.sum()), 1.0),
        "recall": hit / max(float(poisoned.sum()), 1.0),
    }


def poisoning_check(
    train: Dataset,
    *,
    model: nn.Module | None = None,
    stage: str = "data-audit",
    expected_fraction: float = 0.1,
    epochs: int = 15,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    poisoned: np.ndarray | None = None,
) -> PoisoningCheck:
    """The data audit's poisoning check: Activation Clustering and Spectral Signatures.

    Uses ``model``'s penultimate activations, or trains the zoo model that suits
    ``train`` (CNN for images, MLP for tables) for ``epochs`` when none is given (the
    detectors need a model that has learnt the backdoor, so train it well). Text
    data is refused (the text model has no penultimate ``features``). With the ground
    truth ``poisoned``, the findings carry precision and recall.
    """
    from trainguard.core.errors import DataError
    from trainguard.core.training import train_model

    if train.kind == "text":
        raise DataError(f"{train.name}: the poisoning check needs image or tabular data")
    if model is None:
        model = train_model(train, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed).model
    return poison_scan_findings(
        stage, model, train, expected_fraction=expected_fraction, seed=seed, poisoned=poisoned
    )


def _verdict(
    stage: str,
    check_id: str,
    title: str,
    ok: bool,
    message: str,
    metrics: dict[str, float | None],
    evidence: list[str] | None = None,
) -> Finding:
    """A red-team finding: passed when the defence caught the planted backdoor."""
    return Finding(
        stage=stage,
        check_id=check_id,
        title=title,
        passed=ok,
        severity=Severity.INFO if ok else Severity.HIGH,
        message=message,
        metrics=metrics,
        evidence=evidence or [],
    )


def backdoor_simulation_stage(
    run: RunDir, train: Dataset, test: Dataset, *, seed: int = 0, stage: str = "backdoor"
) -> StageResult:
    """Red-team the backdoor defences on a small image data set and add the stage to ``run``.

    Plants a BadNets trigger (a 3x3 random pattern in the bottom-right corner, as in Gu
    et al.; 4 % of the rows, target label 0) in ``train``,
    trains the zoo CNN on it, then checks that each defence catches it: Activation
    Clustering and Spectral Signatures flag the poisoned rows, Neural Cleanse names the
    target (its reversed triggers are saved as a picture), STRIP rejects triggered test
    inputs at a 5 % false-rejection rate, and unlearning the reversed trigger brings the
    attack success rate down. A finding passes when its defence worked.
    """
    from trainguard.backdoor.poison import backdoor_test_set, poison_dataset
    from trainguard.backdoor.strip import Strip
    from trainguard.backdoor.triggers import badnets_trigger
    from trainguard.core.stage import recorded_stage
    from trainguard.core.training import train_model

    target = 0
    _, h, w = train.input_shape
    trig = badnets_trigger(train.input_shape, size=3, position=(h - 3, w - 3), seed=seed)
    pd = poison_dataset(train, trig, rate=0.04, target=target, seed=seed)
    with recorded_stage(run, stage, "Backdoor simulation") as result:
        tm = train_model(pd.dataset, model_name="cnn", epochs=15, lr=3e-3, batch_size=32, seed=seed)
        model = tm.model
        x_test = torch.from_numpy(np.ascontiguousarray(test.X, np.float32))
        bt = backdoor_test_set(test, trig, target=target)
        triggered = (torch.from_numpy(bt.X), torch.from_numpy(bt.y))
        for f in poison_scan_findings(
            stage, model, pd.dataset, expected_fraction=0.3, seed=seed, poisoned=pd.poisoned
        ).findings:
            rec = f.metrics.get("recall") or 0.0
            result.findings.append(
                _verdict(
                    stage,
                    f"simulated-{f.check_id}",
                    f"{f.title}: planted rows found",
                    rec >= 0.5,
                    f"{f.message}; precision {f.metrics['precision']:.2f}, recall {rec:.2f}",
                    metrics=f.metrics,
                )
            )
        half = len(x_test) // 2
        nc = neural_cleanse(model, x_test[:half], steps=200, seed=seed)
        pic = trigger_picture(
            run,
            f"{stage}_reversed_triggers",
            [trig, *nc.triggers],
            ["planted", *(f"{k}: L1 {v:.1f}" for k, v in enumerate(nc.mask_l1))],
        )
        result.findings.append(
            _verdict(
                stage,
                "simulated-neural-cleanse",
                "Neural Cleanse names the planted target",
                nc.trojaned and nc.target == target,
                nc.to_findings(stage)[0].message,
                metrics={"anomaly_index": nc.score, "suspected_target": float(nc.target)},
                evidence=[pic],
            )
        )
        strip = Strip(model, n_perturbations=50, frr=0.05, seed=seed).fit(x_test[:half])
        caught = float(strip.predict(triggered[0]).mean())
        rejected = float(strip.predict(x_test[half:]).mean())
        result.findings.append(
            _verdict(
                stage,
                "simulated-strip",
                "STRIP rejects triggered inputs at run time",
                caught >= 0.8,
                f"{caught:.0%} of triggered and {rejected:.0%} of clean test inputs rejected",
                metrics={"triggered_rejected": caught, "clean_rejected": rejected},
            )
        )
        rep = unlearn(
            model,
            x_test[:half],
            torch.from_numpy(test.y[:half]),
            nc.triggers[nc.target],
            epochs=5,
            seed=seed,
            test=(x_test[half:], torch.from_numpy(test.y[half:])),
            triggered=triggered,
        )
        (f,) = rep.to_findings(stage, max_attack_success=0.1, max_accuracy_drop=0.05)
        result.findings.append(f)
        detected = sum(bool(f.passed) for f in result.findings)
        result.summary = (
            f"{detected} of {len(result.findings)} defences caught the planted backdoor"
        )
    return result


def unlearning_repair(
    run: RunDir,
    stage: str,
    model: nn.Module,
    fit_data: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    triggered: tuple[torch.Tensor, torch.Tensor] | None = None,
    sources: Sequence[TriggerSource] = TRIGGER_SOURCES,
    select: Selection = "all",
    steps: int | None = None,
    epochs: int = 5,
    lr: float = 2e-3,
    stamp_fraction: float = 0.5,
    rounds: int = 2,
    residual_stamp_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[RepairResult, Finding]:
    """Unlearn the reversed triggers that reproduce the backdoor (the benchmarked repair).

    The detectors in ``sources`` reverse triggers on the clean rows ``fit_data``; each
    one's attack success is measured on the held-out ``test`` images and the best (or,
    ``select="all"``, every one within 0.1 of it) is stamped on ``stamp_fraction`` of
    ``fit_data`` for unlearning. Each further round (``rounds`` in all) reverses Neural
    Cleanse's trigger for the best one's label on the repaired model and unlearns it
    on ``residual_stamp_fraction`` of the rows (:func:`unlearn_residual`). Without known
    ``triggered`` inputs, attack success before and after is measured with the best
    reversed trigger on ``test``. Returns the repair and a finding listing the
    triggers (their picture saved in ``run``). The defaults are the settings of
    ``benchmarks/backdoor_repair.py``.
    """
    check_int(rounds, "rounds", "unlearning_repair", low=1)
    x_fit, y_fit = fit_data
    found, _, _ = reverse_triggers(
        model,
        x_fit,
        sources=sources,
        nc_steps=steps or NC_STEPS,
        stimulation_steps=stimulation_steps(steps),
        seed=seed,
    )
    ranked = rank_reversed_triggers(model, found, test[0])
    chosen = choose_reversed_triggers(ranked, select=select)
    if triggered is None:
        best = chosen[0]
        keep = test[1] != best.label
        triggered = (best.trigger.stamp(test[0][keep]), torch.full((int(keep.sum()),), best.label))
    result = unlearn(
        model,
        x_fit,
        y_fit,
        [c.trigger for c in chosen],
        stamp_fraction=stamp_fraction,
        epochs=epochs,
        lr=lr,
        seed=seed,
        test=test,
        triggered=triggered,
    )
    result, residual = unlearn_residual(
        result,
        x_fit,
        y_fit,
        ranked[0].label,
        rounds=rounds - 1,
        x_holdout=test[0],
        stamp_fraction=residual_stamp_fraction,
        epochs=epochs,
        lr=lr,
        steps=steps or NC_STEPS,
        seed=seed,
        test=test,
        triggered=triggered,
    )
    shown = [*ranked, *residual]
    pic = trigger_picture(
        run,
        f"{stage}_reversed_triggers",
        [c.trigger for c in shown],
        [f"{c.source.split(':')[-1]} {c.attack_success or 0.0:.0%}" for c in shown],
    )
    finding = reversed_triggers_finding(stage, ranked, chosen, residual=residual, evidence=[pic])
    return result, finding
