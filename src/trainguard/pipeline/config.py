"""The ``pipeline.yaml`` schema: the data, the stages to run (with their options), the gates.

Errors name the file, the stage, the field and what was expected, for example
``pipeline.yaml: stages.train.epochs: Input should be a valid integer (got 'ten')``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainguard.core.configfile import describe_validation_error, read_yaml
from trainguard.core.datasets import DatasetSpec
from trainguard.core.errors import ConfigError
from trainguard.core.findings import Severity

LIFECYCLE = ("data_audit", "train", "attack", "ship", "serve")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PoisonSimulation(_Strict):
    """Red-teaming: plant a backdoor in the training split before the stages run.

    ``rate`` of the training rows get the image ``trigger`` (BadNets patch, blended
    noise or SIG signal) and the label ``target``; the data audit's poisoning check
    then reports its precision and recall, and the attack stage the attack success
    rate of the trigger on the trained model.
    """

    trigger: Literal["badnets", "blended", "sig"] = "badnets"
    rate: float = Field(default=0.05, gt=0.0, lt=0.5)
    target: int = Field(default=0, ge=0)
    seed: int = 0


class DataConfig(DatasetSpec):
    """The data set (see :class:`DatasetSpec`), how it is split, and an optional planted backdoor."""

    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    simulate_poisoning: PoisonSimulation | None = None


PoisonDetector = Literal["activation-clustering", "spectral-signatures"]


class PoisonCheckOptions(_Strict):
    """Activation Clustering and Spectral Signatures on a probe model of the training data."""

    enabled: bool = True
    expected_fraction: float = Field(default=0.1, gt=0.0, lt=0.5)
    epochs: int = Field(default=15, ge=1)
    lr: float = Field(default=3e-3, gt=0.0)
    batch_size: int = Field(default=32, ge=1)
    drop_flagged_by: list[PoisonDetector] = Field(default_factory=list)
    """Remove the rows every detector listed here flags before the train stage."""


class DataAuditConfig(_Strict):
    """Options of the data audit: ethics, safety and authenticity of the training data."""

    # ethics
    data_bias: bool = True
    max_toxic_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    # safety
    max_pii_rows: int = Field(default=0, ge=0)
    poison: PoisonCheckOptions = Field(default_factory=PoisonCheckOptions)
    scan_files: list[str] = Field(default_factory=list)
    """Folders or files shipped with the data (pickles, checkpoints) to scan without loading."""
    # authenticity
    manifest: str | None = None
    """A manifest written by ``trainguard data manifest``; the data is re-hashed against it."""
    public_key: str | None = None
    """With ``manifest``: the manifest's signature (``MANIFEST.sig``) is checked first."""
    manifest_data: str | None = None
    """The data the manifest covers (default: the file or folder named in the manifest)."""
    duplicates: bool = True
    label_errors: bool = True
    max_duplicate_fraction: float = Field(default=0.01, ge=0.0, le=1.0)
    max_label_error_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    max_class_ratio: float = Field(default=10.0, ge=1.0)


class TrainConfig(_Strict):
    """How the model is trained: plain, DP-SGD, adversarial or federated."""

    mode: Literal["plain", "dp", "adversarial", "federated"] = "plain"
    model: str | None = None
    epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    seed: int = 0
    min_accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    target_epsilon: float = Field(default=8.0, gt=0.0)
    delta: float | None = Field(default=None, gt=0.0, lt=1.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0)
    method: str = "fast"
    eps: float = Field(default=0.1, gt=0.0)
    eps_ramp: int = Field(default=0, ge=0)
    federated: dict[str, Any] = Field(default_factory=dict)
    """``mode: federated``: the sections of a federated config (all but ``data``)."""

    @model_validator(mode="after")
    def _ramp_within_training(self) -> TrainConfig:
        if self.eps_ramp > self.epochs:
            raise ValueError(
                f"'eps_ramp' ({self.eps_ramp}) must not exceed 'epochs' ({self.epochs})"
            )
        return self


class RobustnessOptions(_Strict):
    """Adversarial evaluation of the trained model (robustness package)."""

    enabled: bool = True
    epsilons: list[float] | None = None
    attack: str = "apgd-ce"
    steps: int = Field(default=50, ge=1)
    limit: int = Field(default=200, ge=10)
    checks: bool = True
    check_steps: int = Field(default=20, ge=1)
    min_robust_accuracy: float | None = Field(default=None, ge=0.0, le=1.0)


BackdoorDetector = Literal["neural-cleanse", "neuron-stimulation"]
_DEFAULT_DETECTORS: tuple[BackdoorDetector, ...] = ("neural-cleanse",)


class BackdoorOptions(_Strict):
    """Model-side backdoor scan (Neural Cleanse, neuron stimulation); image models only."""

    enabled: bool = True
    detectors: list[BackdoorDetector] = Field(default_factory=lambda: list(_DEFAULT_DETECTORS))
    steps: int = Field(default=200, ge=10)
    limit: int = Field(default=300, ge=20)
    max_planted_success: float = Field(default=0.2, ge=0.0, le=1.0)
    """With ``data.simulate_poisoning``: the highest acceptable success of the planted trigger."""


class MembershipOptions(_Strict):
    """Membership-inference audit of the trained model (training rows vs held-out rows)."""

    enabled: bool = True
    limit: int = Field(default=500, ge=20)


class FairnessOptions(_Strict):
    """Fairness of the trained model's test predictions (needs sensitive attributes)."""

    enabled: bool = True
    sensitive: list[str] | None = None
    positive: int = 1


class AttackConfig(_Strict):
    """Attack testing of the trained model; each part runs where it applies to the data."""

    robustness: RobustnessOptions = Field(default_factory=RobustnessOptions)
    backdoor: BackdoorOptions = Field(default_factory=BackdoorOptions)
    membership: MembershipOptions = Field(default_factory=MembershipOptions)
    fairness: FairnessOptions = Field(default_factory=FairnessOptions)
    seed: int = 0


class ShipConfig(_Strict):
    """Supply-chain checks before shipping: scan, vulnerabilities, SBOM, encryption, signing."""

    scan: bool = True
    advisories: str | None = None
    allow: list[str] = Field(default_factory=lambda: ["sklearn"])
    provenance: bool = True
    watermark: bool = False
    seed: int = 0


class ServeConfig(_Strict):
    """Run-time guarding: write the guard policy for the service and smoke-test it."""

    guard_policy: str | None = None
    claims: int = Field(default=200, ge=10)
    agent_policy_suite: bool = True


class Gate(_Strict):
    """A threshold on a finding's metric or severity; a failed gate makes the run exit 1.

    ``finding`` is ``stage/check_id`` (shell wildcards allowed: ``ship/scan-*``).
    """

    finding: str
    metric: str | None = None
    min: float | None = None
    max: float | None = None
    max_severity: Severity | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Gate:
        if "/" not in self.finding:
            raise ValueError("'finding' must be 'stage/check_id'")
        if self.max_severity is None and (self.min is None and self.max is None):
            raise ValueError("give 'min' or 'max' (with 'metric'), or 'max_severity'")
        if (self.min is not None or self.max is not None) and self.metric is None:
            raise ValueError("'min'/'max' need 'metric'")
        return self


class PipelineConfig(_Strict):
    """A whole ``pipeline.yaml``."""

    name: str = "pipeline"
    data: DataConfig
    stages: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    gates: list[Gate] = Field(default_factory=list)
    runs: str = "runs"
    cache: str | None = ".trainguard-cache"

    @model_validator(mode="after")
    def _known_stages(self) -> PipelineConfig:
        unknown = [s for s in self.stages if s not in LIFECYCLE]
        if unknown:
            raise ValueError(
                f"unknown stage {unknown[0]!r}; expected some of {', '.join(LIFECYCLE)}"
            )
        return self

    def stage_options(self, name: str) -> dict[str, Any]:
        """The options given for stage ``name`` (empty when the stage has none)."""
        return dict(self.stages.get(name) or {})


def validate_stage_options(
    model: type[BaseModel], options: dict[str, Any], stage: str, source: str
) -> Any:
    """Validate one stage's options; the error names the stage and the field."""
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc, source, prefix=f"stages.{stage}.")
        ) from None


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a ``pipeline.yaml``; paths in it are relative to its folder."""
    p = Path(path)
    raw = read_yaml(p, "pipeline")
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(p))) from None
    return cfg
