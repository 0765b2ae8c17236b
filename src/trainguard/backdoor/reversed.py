"""Reversed triggers for repair: collect them from the detectors, keep the ones that work.

Unlearning (Wang et al. 2019, Neural Cleanse, Section VI-C) only removes the backdoor
that the stamped trigger reproduces. Neural Cleanse reverses a small mask-and-pattern
patch, which reproduces a patch trigger (BadNets) but only part of a trigger spread over
the whole image (blended, Chen et al. 2017; SIG, Barni et al. 2019); the neuron
stimulation scan (ABS, Liu et al. 2019) also reverses a full-image perturbation, ABS's
feature-space trigger form. :func:`rank_reversed_triggers` measures each candidate's
attack success on clean held-out images (the share sent to its label, ABS's REASR) and
:func:`choose_reversed_triggers` keeps the best one, or every one close to the best,
for :func:`~trainguard.backdoor.repair.unlearn` to stamp.

Unlearning a reversed trigger that is not the planted one can leave part of the
backdoor, and a scan of the repaired model no longer sees it. :func:`unlearn_residual`
therefore alternates the two steps (as BTI-DBF(U) does, Xu et al. ICLR 2024): it
reverses Neural Cleanse's trigger for the known target on the repaired model and
unlearns that one in turn, on Neural Cleanse's 20 % of stamped rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from trainguard.backdoor.neural_cleanse import NC_STEPS, NeuralCleanseResult, neural_cleanse
from trainguard.backdoor.neural_cleanse import reverse_triggers as nc_reverse
from trainguard.backdoor.neuron_stimulation import (
    STIMULATION_STEPS,
    StimulationResult,
    neuron_stimulation_scan,
)
from trainguard.backdoor.poison import trigger_success
from trainguard.backdoor.repair import RepairResult, unlearn
from trainguard.backdoor.triggers import ImageTrigger, reversed_patch
from trainguard.core.errors import DataError
from trainguard.core.findings import Finding
from trainguard.core.validation import check_choice, check_int, check_real

TriggerSource = Literal["neural-cleanse", "neuron-stimulation"]
TRIGGER_SOURCES: tuple[TriggerSource, ...] = ("neural-cleanse", "neuron-stimulation")
Selection = Literal["best", "all"]


@dataclass(frozen=True)
class ReversedTrigger:
    """A reversed trigger, the detector and form it came from, and its label.

    ``attack_success`` is the share of clean held-out images (those not already
    classified as ``label``) that the trigger sends to ``label``; ``None`` until
    :func:`rank_reversed_triggers` has measured it.
    """

    source: str
    label: int
    trigger: ImageTrigger
    attack_success: float | None = None


def reversed_triggers(
    nc: NeuralCleanseResult | None = None, stimulation: StimulationResult | None = None
) -> list[ReversedTrigger]:
    """The candidate triggers of the detectors' results, for their suspected targets.

    Neural Cleanse's mask and pattern of its suspected target (``neural-cleanse``) and,
    for each trigger form of the stimulation scan, the reversed trigger of highest
    REASR among the candidates on its suspected target
    (``neuron-stimulation:patch``, ``neuron-stimulation:perturbation``).
    """
    found: list[ReversedTrigger] = []
    if nc is not None:
        found.append(ReversedTrigger("neural-cleanse", nc.target, nc.triggers[nc.target]))
    if stimulation is not None:
        on_target = [c for c in stimulation.candidates if c.label == stimulation.target]
        forms = sorted({f for c in on_target for f in c.form_triggers})
        for form in forms:
            best = max(
                (c for c in on_target if form in c.form_triggers),
                key=lambda c: c.form_reasr[form],
            )
            found.append(
                ReversedTrigger(f"neuron-stimulation:{form}", best.label, best.form_triggers[form])
            )
    return found


def rank_reversed_triggers(
    model: nn.Module, candidates: Sequence[ReversedTrigger], x_holdout: torch.Tensor
) -> list[ReversedTrigger]:
    """Measure each candidate's attack success on clean held-out images; best first."""
    if not candidates:
        raise DataError("rank_reversed_triggers: no reversed trigger to rank")
    x = torch.as_tensor(x_holdout, dtype=torch.float32)
    measured = [
        replace(c, attack_success=trigger_success(model, c.trigger, x, c.label)) for c in candidates
    ]
    return sorted(measured, key=lambda c: -(c.attack_success or 0.0))


def choose_reversed_triggers(
    ranked: Sequence[ReversedTrigger], *, select: Selection = "best", tolerance: float = 0.1
) -> list[ReversedTrigger]:
    """The triggers to unlearn: the best, or (``all``) every one within ``tolerance`` of it.

    ``ranked`` is the output of :func:`rank_reversed_triggers` (best first).
    """
    owner = "choose_reversed_triggers"
    check_choice(select, "select", owner, ("best", "all"))
    check_real(tolerance, "tolerance", owner, low=0.0, high=1.0)
    if not ranked or any(c.attack_success is None for c in ranked):
        raise DataError(f"{owner}: rank the triggers first (rank_reversed_triggers)")
    top = ranked[0].attack_success or 0.0
    if select == "best":
        return [ranked[0]]
    return [c for c in ranked if (c.attack_success or 0.0) >= top - tolerance]


def reverse_triggers(
    model: nn.Module,
    x: torch.Tensor,
    *,
    sources: Sequence[TriggerSource] = TRIGGER_SOURCES,
    nc_steps: int = NC_STEPS,
    stimulation_steps: int = STIMULATION_STEPS,
    seed: int = 0,
) -> tuple[list[ReversedTrigger], NeuralCleanseResult | None, StimulationResult | None]:
    """Run the chosen detectors on clean images ``x``; return their candidate triggers.

    Also returns the detectors' results (``None`` for a detector not run), for reports.
    """
    for s in sources:
        check_choice(s, "sources", "reverse_triggers", TRIGGER_SOURCES)
    nc = (
        neural_cleanse(model, x, steps=nc_steps, seed=seed) if "neural-cleanse" in sources else None
    )
    stim = (
        neuron_stimulation_scan(model, x, steps=stimulation_steps, seed=seed)
        if "neuron-stimulation" in sources
        else None
    )
    return reversed_triggers(nc, stim), nc, stim


def unlearn_residual(
    repaired: RepairResult,
    x_clean: torch.Tensor,
    y_clean: torch.Tensor,
    label: int,
    *,
    rounds: int = 1,
    x_reverse: torch.Tensor | None = None,
    x_holdout: torch.Tensor | None = None,
    stamp_fraction: float = 0.2,
    epochs: int = 5,
    lr: float = 2e-3,
    steps: int = NC_STEPS,
    seed: int = 0,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    triggered: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[RepairResult, list[ReversedTrigger]]:
    """Further rounds of repair: reverse Neural Cleanse's trigger for ``label`` anew, unlearn it.

    Parameters
    ----------
    repaired
        The result of unlearning the detectors' triggers
        (:func:`~trainguard.backdoor.repair.unlearn`); its ``before`` metrics are kept.
    x_clean, y_clean
        Clean labelled rows to unlearn on.
    label
        The backdoor's suspected target (the label of the best reversed trigger).
    rounds
        How many reverse-then-unlearn rounds to add (0 returns ``repaired`` as it is).
    x_reverse, x_holdout
        Clean images to reverse each trigger on (default ``x_clean``) and, when given,
        held-out images to measure each one's attack success on.
    stamp_fraction, epochs, lr
        Unlearning settings of each round (Neural Cleanse's 20 % of stamped rows).
    steps, seed
        Neural Cleanse's optimisation for each round.
    test, triggered
        Optional evaluation data, as in :func:`~trainguard.backdoor.repair.unlearn`.

    Returns the final repair and the trigger unlearned in each round.
    """
    check_int(rounds, "rounds", "unlearn_residual", low=0)
    x_rev = x_clean if x_reverse is None else x_reverse
    result, used = repaired, []
    for k in range(rounds):
        masks, patterns, _ = nc_reverse(
            result.model, x_rev, [label], steps=steps, seed=seed + k + 1
        )
        trig = reversed_patch(masks[0], patterns[0])
        asr = None if x_holdout is None else trigger_success(result.model, trig, x_holdout, label)
        used.append(ReversedTrigger(f"neural-cleanse:round-{k + 2}", label, trig, asr))
        step = unlearn(
            result.model,
            x_clean,
            y_clean,
            trig,
            stamp_fraction=stamp_fraction,
            epochs=epochs,
            lr=lr,
            seed=seed + k + 1,
            test=test,
            triggered=triggered,
        )
        result = replace(step, before=repaired.before)
    return result, used


def reversed_triggers_finding(
    stage: str,
    ranked: Sequence[ReversedTrigger],
    chosen: Sequence[ReversedTrigger],
    *,
    residual: Sequence[ReversedTrigger] = (),
    evidence: list[str] | None = None,
) -> Finding:
    """An informational finding: each reversed trigger's attack success, and those unlearned.

    ``residual`` lists the triggers of :func:`unlearn_residual`'s later rounds.
    """
    used = {c.source for c in chosen}
    rows = [(c, c.source in used) for c in ranked] + [(c, True) for c in residual]
    later = f", then {len(residual)} more round(s) reversed anew" if residual else ""
    return Finding(
        stage=stage,
        check_id="repair-reversed-triggers",
        title="Reversed triggers: attack success on clean held-out images",
        metrics={"best_attack_success": ranked[0].attack_success},
        message=f"unlearning {', '.join(sorted(used))}{later} (best reproduces "
        f"{ranked[0].attack_success or 0.0:.0%} of the backdoor on label {ranked[0].label})",
        evidence=list(evidence or []),
        table=[
            {
                "source": c.source,
                "label": c.label,
                "attack_success": None if c.attack_success is None else round(c.attack_success, 3),
                "unlearned": unlearned,
            }
            for c, unlearned in rows
        ],
    )
