"""Backdoors: poisoning simulation, detection on the data, model and input side, repair.

- Simulation: :mod:`~trainguard.backdoor.triggers` (BadNets, blended, SIG, text
  triggers) and :mod:`~trainguard.backdoor.poison` (all-to-one / all-to-all,
  dirty- and clean-label poisoning, attack success rate).
- Data side: :class:`ActivationClustering`, :class:`SpectralSignatures`.
- Model side: :func:`neural_cleanse`, :func:`neuron_stimulation_scan` (ABS-style).
- Input side: :class:`Strip`.
- Repair: :func:`fine_prune`, :func:`unlearn`; :mod:`~trainguard.backdoor.reversed`
  picks the reversed triggers that reproduce the backdoor for unlearning.
"""

from trainguard.backdoor.data_detectors import (
    ActivationClustering,
    ClassReport,
    PoisonScan,
    SpectralSignatures,
)
from trainguard.backdoor.neural_cleanse import NeuralCleanseResult, neural_cleanse
from trainguard.backdoor.neuron_stimulation import (
    NeuronCandidate,
    StimulationResult,
    neuron_stimulation_scan,
)
from trainguard.backdoor.poison import (
    PoisonedDataset,
    attack_labels,
    attack_success_rate,
    backdoor_test_set,
    poison_dataset,
    stamp_dataset,
    trigger_success,
)
from trainguard.backdoor.repair import (
    BackdoorMetrics,
    RepairResult,
    backdoor_metrics,
    fine_prune,
    unlearn,
)
from trainguard.backdoor.reversed import (
    ReversedTrigger,
    choose_reversed_triggers,
    rank_reversed_triggers,
    reverse_triggers,
    reversed_triggers,
    unlearn_residual,
)
from trainguard.backdoor.strip import Strip
from trainguard.backdoor.triggers import (
    ImageTrigger,
    TextTrigger,
    badnets_trigger,
    blended_trigger,
    image_trigger,
    phrase_trigger,
    rare_token_trigger,
    reversed_patch,
    sig_trigger,
)

__all__ = [
    "ActivationClustering",
    "BackdoorMetrics",
    "ClassReport",
    "ImageTrigger",
    "NeuralCleanseResult",
    "NeuronCandidate",
    "PoisonScan",
    "PoisonedDataset",
    "RepairResult",
    "ReversedTrigger",
    "SpectralSignatures",
    "StimulationResult",
    "Strip",
    "TextTrigger",
    "attack_labels",
    "attack_success_rate",
    "backdoor_metrics",
    "backdoor_test_set",
    "badnets_trigger",
    "blended_trigger",
    "choose_reversed_triggers",
    "fine_prune",
    "image_trigger",
    "neural_cleanse",
    "neuron_stimulation_scan",
    "phrase_trigger",
    "poison_dataset",
    "rank_reversed_triggers",
    "rare_token_trigger",
    "reverse_triggers",
    "reversed_patch",
    "reversed_triggers",
    "sig_trigger",
    "stamp_dataset",
    "trigger_success",
    "unlearn",
    "unlearn_residual",
]
