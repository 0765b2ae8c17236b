"""Federated learning on Flower with a security layer: robust, DP and secure aggregation, attacks, evidence.

* :mod:`~trainguard.federated.config`: one :class:`FederatedConfig` (data,
  partition, model, rounds, strategy, attack, dp, secagg, engine) for both engines.
* :mod:`~trainguard.federated.client_app`, :mod:`~trainguard.federated.server_app`:
  the Flower ``ClientApp`` and ``ServerApp`` (Message API), built from a config.
* :mod:`~trainguard.federated.strategies`: Flower's FedAvg, FedProx, Krum,
  Multi-Krum, median, trimmed mean and Bulyan, the norm-bounding rule Flower lacks
  (:mod:`~trainguard.federated.robust`), Flower's DP wrappers and mods with the
  epsilon accounted (:mod:`~trainguard.federated.accounting`), and SecAgg+
  (:mod:`~trainguard.federated.secagg`).
* :mod:`~trainguard.federated.attacks`: label flipping, sign-flipped and scaled
  updates, model-replacement backdoors; :mod:`~trainguard.federated.anomaly`:
  per-round, per-client update scores as findings.
* Engines: :func:`run_simulation` (Flower's simulation engine on Ray) and
  :func:`run_deployment` (SuperLink and SuperNodes as processes, TLS, SuperNode
  authentication, certificates from :func:`make_certificates`);
  :func:`federated_stage` records a run's findings.

Flower is imported only by the modules that run it (``pip install 'trainguard[federated]'``).
"""

from trainguard.federated.anomaly import (
    AnomalyReport,
    ClientRoundScore,
    modified_z_scores,
    score_round,
)
from trainguard.federated.attacks import (
    attackers,
    flip_labels,
    malicious_clients,
    model_replacement,
    poison_with_trigger,
    scale_update,
    sign_flip,
    stamp_trigger,
)
from trainguard.federated.baselines import Baselines, baselines
from trainguard.federated.certs import CertificateSet, NodeKey, make_certificates, make_node_key
from trainguard.federated.config import FederatedConfig, load_config, parse_config
from trainguard.federated.deployment import Federation, run_deployment
from trainguard.federated.partition import (
    column_partition,
    dirichlet_partition,
    iid_partition,
    partition_dataset,
)
from trainguard.federated.results import DeploymentReport, FederatedResult, RoundRecord
from trainguard.federated.robust import norm_bounded_mean
from trainguard.federated.simulation import run_simulation
from trainguard.federated.stage import federated_stage, run_engine

__all__ = [
    "AnomalyReport",
    "Baselines",
    "CertificateSet",
    "ClientRoundScore",
    "DeploymentReport",
    "FederatedConfig",
    "FederatedResult",
    "Federation",
    "NodeKey",
    "RoundRecord",
    "attackers",
    "baselines",
    "column_partition",
    "dirichlet_partition",
    "federated_stage",
    "flip_labels",
    "iid_partition",
    "load_config",
    "make_certificates",
    "make_node_key",
    "malicious_clients",
    "model_replacement",
    "modified_z_scores",
    "norm_bounded_mean",
    "parse_config",
    "partition_dataset",
    "poison_with_trigger",
    "run_deployment",
    "run_engine",
    "run_simulation",
    "scale_update",
    "score_round",
    "sign_flip",
    "stamp_trigger",
]
