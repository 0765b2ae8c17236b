"""The federated run configuration: data, partition, model, rounds, strategy, attack, DP, SecAgg+, engine.

One :class:`FederatedConfig` drives both engines. It is plain pydantic, so a YAML
file, a dict or keyword arguments build it, and it travels to every ClientApp
(pickled into the simulation's workers, or as a JSON file named in the deployment
run config). Errors name the file and the field: ``fed.yaml: strategy.name: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainguard.core.configfile import describe_validation_error, read_yaml
from trainguard.core.datasets import DatasetSpec
from trainguard.core.errors import ConfigError

StrategyName = Literal[
    "fedavg", "fedprox", "krum", "multikrum", "median", "trimmed-mean", "bulyan", "norm-bound"
]
ROBUST_STRATEGIES: tuple[str, ...] = (
    "krum",
    "multikrum",
    "median",
    "trimmed-mean",
    "bulyan",
    "norm-bound",
)
AttackKind = Literal["none", "label-flip", "sign-flip", "scale", "backdoor"]
DPMode = Literal[
    "none", "server-fixed", "server-adaptive", "client-fixed", "client-adaptive", "local"
]
EngineKind = Literal["simulation", "deployment"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(DatasetSpec):
    """The data set (see :class:`~trainguard.core.datasets.DatasetSpec`) and the server's test share.

    The server keeps a stratified ``test_fraction`` of the rows for central
    evaluation; the rest is partitioned over the clients.
    """

    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)


class PartitionSection(_Strict):
    """How the training rows are split over the clients.

    ``iid``: uniformly at random. ``column``: one client per value of a column of
    ``meta`` or ``sensitive`` (``institution`` for synthetic credit), so
    ``num_clients`` must equal the number of values. ``dirichlet``: label shares per
    client drawn from Dirichlet(``alpha``) (Hsu, Qi, Brown 2019); small ``alpha`` is
    more skewed.
    """

    scheme: Literal["iid", "column", "dirichlet"] = "iid"
    num_clients: int = Field(default=5, ge=2, le=1000)
    column: str | None = None
    alpha: float = Field(default=0.5, gt=0.0)
    min_size: int = Field(default=10, ge=1)
    seed: int = 0


class ModelSection(_Strict):
    """The zoo model (``logreg``, ``mlp``, ``cnn``, ``text``; default by data kind) and its options."""

    name: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class TrainSection(_Strict):
    """Rounds and local training: SGD for ``local_epochs`` epochs per round."""

    rounds: int = Field(default=5, ge=1)
    local_epochs: int = Field(default=1, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=0.05, gt=0.0)
    fraction_train: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0


class StrategySection(_Strict):
    """The aggregation rule.

    ``num_malicious`` is the number of Byzantine clients the robust rules assume
    (Krum, Multi-Krum, Bulyan); by default the attack's count. ``num_selected`` is
    Multi-Krum's ``m`` (default: clients minus ``num_malicious``). ``trim_beta`` is
    the fraction cut at each end by the trimmed mean. ``max_norm`` and
    ``noise_std`` belong to ``norm-bound`` (Sun et al. 2019).
    """

    name: StrategyName = "fedavg"
    proximal_mu: float = Field(default=0.01, ge=0.0)
    num_malicious: int | None = Field(default=None, ge=0)
    num_selected: int | None = Field(default=None, ge=1)
    trim_beta: float = Field(default=0.2, gt=0.0, lt=0.5)
    max_norm: float = Field(default=1.0, gt=0.0)
    noise_std: float = Field(default=0.0, ge=0.0)


class AttackSection(_Strict):
    """Malicious clients: which attack, how many, and its parameters.

    ``fraction`` of the clients (chosen with ``seed``) are malicious. ``scale``
    multiplies the update for ``sign-flip`` (default 1) and ``scale`` (default 10);
    for ``backdoor`` it is the model-replacement factor gamma (default: the number
    of clients per round, Bagdasaryan et al. 2020, Eq. 3). Backdoored rows carry the
    trigger (``trigger_features`` set to ``trigger_value`` on tables, a bright
    corner patch on images, the token ``trigger_token`` on text) and the label
    ``target_label``; ``poison_fraction`` of the attacker's rows are poisoned.
    """

    kind: AttackKind = "none"
    fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    scale: float | None = Field(default=None, gt=0.0)
    target_label: int = Field(default=0, ge=0)
    trigger_features: list[int] | None = None
    trigger_value: float = 5.0
    trigger_token: str = "cf"
    poison_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    start_round: int = Field(default=1, ge=1)
    seed: int = 0


class DPSection(_Strict):
    """Differential privacy of the clients' updates (user-level, McMahan et al. 2018).

    ``server-*``: the server clips and adds noise (Flower's
    ``DifferentialPrivacyServerSide*Clipping``); ``client-*``: clients clip with
    Flower's ``fixedclipping_mod``/``adaptiveclipping_mod`` and the server adds noise
    (``DifferentialPrivacyClientSide*Clipping``); ``*-adaptive`` tracks the
    ``target_quantile`` of update norms (Andrew et al. 2021). ``local``: each client
    adds Gaussian noise for ``local_epsilon`` per round (Flower's ``LocalDpMod``).
    ``delta`` defaults to the power of ten below ``1 / num_clients``.
    """

    mode: DPMode = "none"
    noise_multiplier: float = Field(default=1.0, gt=0.0)
    clipping_norm: float = Field(default=1.0, gt=0.0)
    delta: float | None = Field(default=None, gt=0.0, lt=1.0)
    target_quantile: float = Field(default=0.5, gt=0.0, lt=1.0)
    clip_lr: float = Field(default=0.2, gt=0.0)
    clipped_count_stddev: float | None = Field(default=None, gt=0.0)
    local_epsilon: float = Field(default=10.0, gt=0.0)


class SecAggSection(_Strict):
    """Secure aggregation with Flower's SecAgg+ (Bell et al. 2020).

    ``num_shares`` and ``reconstruction_threshold`` are counts, or fractions of the
    sampled clients when below 1. Parameters are clipped to ``clipping_range`` and
    quantised to ``quantization_range`` levels before masking.
    """

    enabled: bool = False
    num_shares: float = Field(default=1.0, gt=0.0)
    reconstruction_threshold: float = Field(default=0.67, gt=0.0)
    clipping_range: float = Field(default=8.0, gt=0.0)
    quantization_range: int = Field(default=2**22, ge=2)
    timeout: float | None = Field(default=120.0, gt=0.0)


class AnomalySection(_Strict):
    """Per-round, per-client scoring of updates; ``threshold`` on the modified z-score."""

    enabled: bool = True
    threshold: float = Field(default=3.5, gt=0.0)


class EngineSection(_Strict):
    """Which Flower engine runs the rounds, and its resources.

    ``num_cpus`` and ``client_cpus`` size the simulation's Ray pool. The deployment
    engine starts a SuperLink and one SuperNode per client on ``host`` with TLS and
    SuperNode authentication, using the certificates in ``certs`` (made on the fly
    when absent).
    """

    kind: EngineKind = "simulation"
    num_cpus: int = Field(default=2, ge=1)
    client_cpus: float = Field(default=1.0, gt=0.0)
    host: str = "127.0.0.1"
    certs: str | None = None
    timeout: float = Field(default=900.0, gt=0.0)


class FederatedConfig(_Strict):
    """A whole federated run (see the section classes for each part).

    ``min_auc`` gates the final global model's test AUC; ``baselines`` also trains
    each client alone and the pooled data, for the gain of federation.
    """

    name: str = "federated"
    data: DataSection = Field(default_factory=lambda: DataSection(source="synthetic-credit"))
    partition: PartitionSection = Field(default_factory=PartitionSection)
    model: ModelSection = Field(default_factory=ModelSection)
    train: TrainSection = Field(default_factory=TrainSection)
    strategy: StrategySection = Field(default_factory=StrategySection)
    attack: AttackSection = Field(default_factory=AttackSection)
    dp: DPSection = Field(default_factory=DPSection)
    secagg: SecAggSection = Field(default_factory=SecAggSection)
    anomaly: AnomalySection = Field(default_factory=AnomalySection)
    engine: EngineSection = Field(default_factory=EngineSection)
    min_auc: float | None = Field(default=None, ge=0.0, le=1.0)
    baselines: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FederatedConfig:
        n = self.partition.num_clients
        if self.attack.kind != "none" and self.num_attackers == 0:
            raise ValueError(
                f"attack.fraction {self.attack.fraction} of {n} clients selects no attacker"
            )
        f = self.assumed_malicious
        if self.strategy.name == "bulyan" and n < 4 * f + 3:
            raise ValueError(
                f"strategy 'bulyan' needs num_clients >= 4*num_malicious + 3 = {4 * f + 3}; got {n}"
            )
        if self.strategy.name in ("krum", "multikrum") and n < 2 * f + 3:
            raise ValueError(
                f"strategy {self.strategy.name!r} needs num_clients >= 2*num_malicious + 3 = {2 * f + 3}; got {n}"
            )
        if self.secagg.enabled:
            if self.strategy.name != "fedavg":
                raise ValueError(
                    "secagg hides individual updates, so it works with strategy 'fedavg' only "
                    f"(robust rules need them); got {self.strategy.name!r}"
                )
            if self.dp.mode != "none":
                raise ValueError(
                    "secagg cannot be combined with dp in this version; set dp.mode 'none'"
                )
            if n < 3:
                raise ValueError(f"secagg needs at least 3 clients; got {n}")
        if self.partition.scheme == "column" and not self.partition.column:
            raise ValueError("partition.scheme 'column' needs partition.column")
        return self

    @property
    def num_attackers(self) -> int:
        """Number of malicious clients: ``round(fraction * num_clients)``."""
        if self.attack.kind == "none":
            return 0
        return round(self.attack.fraction * self.partition.num_clients)

    @property
    def assumed_malicious(self) -> int:
        """The ``f`` the robust rules assume: ``strategy.num_malicious`` or the attacker count."""
        if self.strategy.num_malicious is not None:
            return self.strategy.num_malicious
        return self.num_attackers

    @property
    def clients_per_round(self) -> int:
        """Clients sampled each round: ``max(2, int(num_clients * fraction_train))``."""
        return max(2, int(self.partition.num_clients * self.train.fraction_train))


def parse_config(raw: Any, source: str = "config") -> FederatedConfig:
    """Validate a mapping into a :class:`FederatedConfig`; errors name ``source`` and the field."""
    if isinstance(raw, FederatedConfig):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return FederatedConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def load_config(path: str | Path) -> FederatedConfig:
    """Read and validate a federated YAML (or JSON) config file."""
    p = Path(path)
    raw = read_yaml(p, "federated config")
    if isinstance(raw, dict):
        _resolve_paths(raw, p.parent)
    return parse_config(raw, str(p))


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Make the data source and the certificate folder relative to the config file absolute."""
    from trainguard.core.datasets.spec import BUILTIN, FOLDER_FORMATS

    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("source"), str):
        src: str = data["source"]
        fmt, sep, rest = src.partition(":")
        if sep and fmt in FOLDER_FORMATS and not Path(rest).is_absolute():
            data["source"] = f"{fmt}:{base / rest}"
        elif src not in BUILTIN and not sep and not Path(src).is_absolute():
            data["source"] = str(base / src)
    engine = raw.get("engine")
    if isinstance(engine, dict) and isinstance(engine.get("certs"), str):
        engine["certs"] = str(base / engine["certs"])
