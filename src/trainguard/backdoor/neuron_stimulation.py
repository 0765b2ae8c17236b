"""Neuron stimulation: find neurons whose activation alone drives one label (ABS-style).

After Liu et al. 2019, "ABS: Scanning Neural Networks for Back-doors by Artificial
Brain Stimulation" (ACM CCS). Three steps:

1. Stimulation analysis. For every neuron (a channel of a convolution block's output,
   the whole feature map set at once as in ABS; a unit of a dense layer) of the inner
   layers, set its activation to values ``v`` from 0 up to ``max_multiplier`` times the
   layer's largest activation on clean inputs, keep the other
   neurons as the clean input made them, run the rest of the model and record the
   logits. A neuron's *elevation* is, over probe images of the other classes, the
   smallest best margin ``logit[label] - max other logit`` it reaches for the label it
   elevates most: a compromised neuron lifts one label above all others for every input.
2. Trigger reverse engineering for the ``top_k`` candidates of highest elevation: a
   trigger that maximises the candidate's activation (lightly penalising the layer's
   other neurons, then also raising the elevated label's logit), either a pixel patch
   (mask L1 size bounded by ``max_mask_size`` of the image) or, for ABS's feature-space
   case (blended and signal triggers), a full-image perturbation bounded by
   ``max_perturbation`` in L-inf.
3. REASR: the fraction of clean inputs that the reversed trigger sends to the
   candidate's label. The model is trojaned when the best REASR reaches ``threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from trainguard.backdoor._nn import (
    check_images,
    generator,
    layer_activations,
    minibatches,
    replace_output,
    stimulation_layers,
)
from trainguard.backdoor.poison import trigger_success
from trainguard.backdoor.triggers import ImageTrigger, reversed_patch
from trainguard.core.findings import Finding, Severity
from trainguard.core.progress import progress_bar
from trainguard.core.training import predict_logits
from trainguard.core.validation import check_choice, check_int, check_positive, check_real

TriggerForm = Literal["patch", "perturbation"]
STIMULATION_STEPS = 600
"""Default optimisation steps per reversed trigger of the stimulation scan.

600 rather than 200: a patch reversal has converged by then on the MNIST zoo (a weak
BadNets trojan's reversed patch goes from REASR 0.41 at 200 steps to 0.54; clean
models' best REASR moves by at most 0.06, to 0.38 at most)."""


@dataclass
class NeuronCandidate:
    """A candidate compromised neuron, the label it elevates and its reversed trigger."""

    layer: str
    neuron: int
    label: int
    elevation: float
    reasr: float = 0.0
    trigger: ImageTrigger | None = None
    form_triggers: dict[str, ImageTrigger] = field(default_factory=dict)
    """Every reversed trigger form (``patch``, ``perturbation``); ``trigger`` is the best."""
    form_reasr: dict[str, float] = field(default_factory=dict)
    """REASR of each form's trigger."""


@dataclass
class StimulationResult:
    """Candidates ranked by REASR (best first) and the verdict.

    Attributes
    ----------
    elevation
        Elevation of every neuron, by layer name.
    elevated_label
        The label each neuron elevates most, by layer name.
    candidates
        The reverse-engineered candidates, highest REASR first.
    threshold
        REASR at or above which the model is called trojaned.
    """

    elevation: dict[str, np.ndarray]
    elevated_label: dict[str, np.ndarray]
    candidates: list[NeuronCandidate]
    threshold: float

    @property
    def best(self) -> NeuronCandidate:
        """The candidate with the highest REASR."""
        return self.candidates[0]

    @property
    def score(self) -> float:
        """The best REASR (the model-level suspicion score)."""
        return self.best.reasr

    @property
    def trojaned(self) -> bool:
        """True when the best reversed trigger reaches the REASR threshold."""
        return self.score >= self.threshold

    @property
    def target(self) -> int:
        """The label of the best candidate."""
        return self.best.label

    @property
    def neurons(self) -> list[str]:
        """Compromised neurons (``layer:index``): target-label candidates at the threshold."""
        hits = [
            f"{c.layer}:{c.neuron}"
            for c in self.candidates
            if c.label == self.target and c.reasr >= self.threshold
        ]
        return hits or [f"{self.best.layer}:{self.best.neuron}"]

    def to_findings(self, stage: str, *, evidence: list[str] | None = None) -> list[Finding]:
        """One finding: compromised neurons, their label and the trigger's REASR."""
        b = self.best
        msg = (
            f"neuron(s) {', '.join(self.neurons)} drive label {b.label}; "
            f"their reversed trigger sends {b.reasr:.0%} of clean inputs there"
        )
        return [
            Finding(
                stage=stage,
                check_id="neuron-stimulation",
                title="Neuron stimulation (ABS): neurons that alone drive one label",
                severity=Severity.HIGH if self.trojaned else Severity.INFO,
                passed=not self.trojaned,
                threshold=self.threshold,
                metrics={
                    "reasr": b.reasr,
                    "suspected_target": float(b.label),
                    "elevation": b.elevation,
                },
                message=msg if self.trojaned else f"best REASR {b.reasr:.0%}: {msg}",
                evidence=list(evidence or []),
                table=[
                    {
                        "layer": c.layer,
                        "neuron": c.neuron,
                        "label": c.label,
                        "elevation": round(c.elevation, 3),
                        "reasr": round(c.reasr, 3),
                    }
                    for c in self.candidates
                ],
            )
        ]


def _neuron_view(out: torch.Tensor) -> torch.Tensor:
    """Activations as ``(n, neurons, -1)``: channels of a conv map, units of a dense layer."""
    return out.reshape(out.shape[0], out.shape[1], -1)


@torch.no_grad()
def stimulation_analysis(
    model: nn.Module,
    layer: nn.Module,
    probes: torch.Tensor,
    probe_labels: torch.Tensor,
    *,
    n_values: int = 8,
    max_multiplier: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and elevated label of every neuron of ``layer`` (ABS step 1).

    For neuron ``j`` and probe ``i`` the margin is ``max_v (logit_l(v) - max_{c != l}
    logit_c(v))``; the neuron's label ``l`` is the one with the largest mean margin and
    its elevation the smallest margin over probes whose own label is not ``l``.
    """
    model.eval()
    acts = layer_activations(model, layer, probes)
    n_neurons = acts.shape[1]
    top = float(acts.max()) * max_multiplier
    values = torch.linspace(0.0, top, n_values + 1)[1:]
    reps = probes.repeat(n_values, 1, 1, 1)
    v = values.repeat_interleave(len(probes))
    elevation = np.zeros(n_neurons)
    label = np.zeros(n_neurons, dtype=np.int64)
    for j in range(n_neurons):

        def set_neuron(out: torch.Tensor, j: int = j) -> torch.Tensor:
            out = out.clone()
            view = _neuron_view(out)
            view[:, j] = v[: len(out), None]
            return out

        undo = replace_output(layer, set_neuron)
        try:
            logits = model(reps).reshape(n_values, len(probes), -1)
        finally:
            undo()
        k = logits.shape[-1]
        margins = torch.empty(len(probes), k)
        for c in range(k):
            others = torch.cat([logits[..., :c], logits[..., c + 1 :]], dim=-1).amax(-1)
            margins[:, c] = (logits[..., c] - others).amax(0)
        lab = int(margins.mean(0).argmax())
        keep = probe_labels != lab
        label[j] = lab
        elevation[j] = float(margins[keep, lab].min()) if keep.any() else float("-inf")
    return elevation, label


def _trigger_parts(
    form: TriggerForm, shape: tuple[int, int, int], g: torch.Generator
) -> list[torch.Tensor]:
    c, h, w = shape
    if form == "patch":
        return [torch.full((1, h, w), -2.0), torch.rand(c, h, w, generator=g) * 2 - 1]
    return [(torch.rand(c, h, w, generator=g) * 2 - 1) * 0.1]


def _trigger_from_parts(
    form: TriggerForm, parts: list[torch.Tensor], bound: float, max_perturbation: float
) -> ImageTrigger:
    if form == "perturbation":
        delta = max_perturbation * torch.tanh(parts[0])
        zeros = np.zeros(tuple(delta.shape), np.float32)
        return ImageTrigger("reversed", zeros[0], zeros, delta.numpy())
    m = ((torch.tanh(parts[0]) + 1) / 2)[0]
    p = (torch.tanh(parts[1]) + 1) / 2
    if m.sum() > bound:  # keep the largest entries within the budget
        cut = torch.topk(m.flatten(), max(1, int(bound))).values[-1]
        m = torch.where(m >= cut, m, torch.zeros_like(m))
    return reversed_patch(m.numpy(), p.numpy())


def reverse_neuron_trigger(
    model: nn.Module,
    layer: nn.Module,
    neuron: int,
    x: torch.Tensor,
    *,
    form: TriggerForm = "patch",
    max_mask_size: float = 0.06,
    max_perturbation: float = 0.2,
    steps: int = STIMULATION_STEPS,
    batch_size: int = 32,
    lr: float = 0.1,
    others_weight: float = 1e-4,
    label: int | None = None,
    label_weight: float = 1.0,
    seed: int = 0,
) -> ImageTrigger:
    """Reverse-engineer a trigger that excites ``neuron`` of ``layer`` (ABS step 2).

    Minimises ``-act_j + others_weight * sum(act_others)`` (activations summed over the
    feature map, ABS's 1e-4 weight on the other neurons) and, for the second half of the
    steps when ``label`` is given, ``- label_weight * logit_label`` (as in the authors'
    code, so the excited neuron's effect reaches the output). ``form="patch"`` is ABS's
    pixel-space trigger: a mask and a pattern with a penalty once the mask's L1 size
    passes ``max_mask_size * h * w``; ``form="perturbation"`` is an additive full-image
    perturbation bounded by ``max_perturbation`` in L-inf (for blended and signal
    triggers, ABS's feature-space case).
    """
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    g = generator(seed)
    _, c, h, w = x.shape
    bound = max_mask_size * h * w
    parts = [t.requires_grad_() for t in _trigger_parts(form, (c, h, w), g)]
    opt = torch.optim.Adam(parts, lr=lr, betas=(0.5, 0.9))
    captured: list[torch.Tensor] = []

    def keep(out: torch.Tensor) -> torch.Tensor:
        captured.append(out)
        return out

    undo = replace_output(layer, keep)
    try:
        for step, idx in enumerate(minibatches(len(x), batch_size, steps, g)):
            penalty = torch.zeros(())
            if form == "patch":
                m = (torch.tanh(parts[0]) + 1) / 2
                stamped = (1 - m) * x[idx] + m * (torch.tanh(parts[1]) + 1) / 2
                penalty = 50.0 * torch.relu(m.sum() - bound) / bound
            else:
                stamped = (x[idx] + max_perturbation * torch.tanh(parts[0])).clamp(0.0, 1.0)
            captured.clear()
            logits = model(stamped)
            acts = _neuron_view(captured[0]).sum(-1)
            others = torch.cat([acts[:, :neuron], acts[:, neuron + 1 :]], dim=1)
            loss = -acts[:, neuron].mean() + others_weight * others.sum(1).mean() + penalty
            if label is not None and step >= steps // 2:
                loss = loss - label_weight * logits[:, label].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        undo()
        for prm in model.parameters():
            prm.requires_grad_(True)
    with torch.no_grad():
        return _trigger_from_parts(form, [t.detach() for t in parts], bound, max_perturbation)


def _probe_set(
    x: torch.Tensor, pred: torch.Tensor, per_class: int, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.cat([torch.nonzero(pred == k).flatten()[:per_class] for k in range(n_classes)])
    return x[idx], pred[idx]


def neuron_stimulation_scan(
    model: nn.Module,
    x: torch.Tensor,
    *,
    layers: list[tuple[str, nn.Module]] | None = None,
    probes_per_class: int = 3,
    n_values: int = 8,
    max_multiplier: float = 5.0,
    top_k: int = 5,
    forms: tuple[TriggerForm, ...] = ("patch", "perturbation"),
    max_mask_size: float = 0.03,
    max_perturbation: float = 0.15,
    steps: int = STIMULATION_STEPS,
    threshold: float = 0.5,
    seed: int = 0,
) -> StimulationResult:
    """Scan ``model`` for compromised neurons with clean images ``x`` (ABS).

    Parameters
    ----------
    model
        Classifier returning logits; inputs in [0, 1].
    x
        Clean images the defender holds; their predicted labels pick the probes.
    layers
        ``(name, module)`` pairs to stimulate; by default every convolution block's
        output (:func:`~trainguard.backdoor._nn.stimulation_layers`).
    probes_per_class
        Clean probe images per predicted class for the stimulation analysis.
    n_values, max_multiplier
        Stimulation values: ``n_values`` steps up to ``max_multiplier`` times the
        layer's largest clean activation.
    top_k
        Candidates (highest elevation over all layers) that get a reversed trigger.
    forms
        Trigger forms to reverse-engineer per candidate (``patch``, ``perturbation``);
        the one with the higher REASR is kept.
    max_mask_size
        Bound on a patch trigger's mask L1 size, as a fraction of the image's pixels.
    max_perturbation
        L-inf bound of a perturbation trigger, in input scale.
    steps
        Optimisation steps per reversed trigger.
    threshold
        REASR at or above which the model is trojaned (a single neuron's trigger rarely
        reproduces the whole backdoor, so this sits below ABS's 0.88 for large models).
    seed
        Seed of the trigger initialisation and mini-batch order.
    """
    owner = "neuron_stimulation_scan"
    x = check_images(x, owner, min_rows=2)
    check_int(probes_per_class, "probes_per_class", owner, low=1)
    check_int(n_values, "n_values", owner, low=1)
    check_positive(max_multiplier, "max_multiplier", owner)
    check_int(top_k, "top_k", owner, low=1)
    for f in forms:
        check_choice(f, "forms", owner, ("patch", "perturbation"))
    check_real(max_mask_size, "max_mask_size", owner, low=0.0, high=1.0, low_open=True)
    check_real(max_perturbation, "max_perturbation", owner, low=0.0, high=1.0, low_open=True)
    check_int(steps, "steps", owner, low=1)
    check_real(threshold, "threshold", owner, low=0.0, high=1.0)
    named = dict(layers if layers is not None else stimulation_layers(model))
    pred = predict_logits(model, x).argmax(1)
    n_classes = int(predict_logits(model, x[:1]).shape[1])
    probes, probe_labels = _probe_set(x, pred, probes_per_class, n_classes)
    elevation, elevated = {}, {}
    ranked: list[tuple[float, str, int]] = []
    for name, layer in named.items():
        elevation[name], elevated[name] = stimulation_analysis(
            model, layer, probes, probe_labels, n_values=n_values, max_multiplier=max_multiplier
        )
        ranked += [(float(e), name, j) for j, e in enumerate(elevation[name])]
    ranked.sort(key=lambda t: -t[0])
    candidates = []
    with progress_bar("neuron stimulation", total=min(top_k, len(ranked)) * len(forms)) as bar:
        for rank, (elev, name, j) in enumerate(ranked[:top_k]):
            lab = int(elevated[name][j])
            best = NeuronCandidate(name, j, lab, elev)
            for form in forms:
                trig = reverse_neuron_trigger(
                    model,
                    named[name],
                    j,
                    x,
                    form=form,
                    max_mask_size=max_mask_size,
                    max_perturbation=max_perturbation,
                    steps=steps,
                    label=lab,
                    seed=seed + rank,
                )
                reasr = trigger_success(model, trig, x, lab)
                best.form_triggers[form], best.form_reasr[form] = trig, reasr
                if best.trigger is None or reasr > best.reasr:
                    best.reasr, best.trigger = reasr, trig
                bar.advance()
            candidates.append(best)
    candidates.sort(key=lambda c: (-c.reasr, -c.elevation))
    return StimulationResult(elevation, elevated, candidates, threshold)
