"""Strategy names -> Flower's Message-API strategies, the DP wrappers, and anomaly scoring.

:data:`AGGREGATORS` maps the config's ``strategy.name`` to Flower's own
``FedAvg``, ``FedProx``, ``Krum``, ``MultiKrum``, ``FedMedian``,
``FedTrimmedAvg`` and ``Bulyan``, and to :class:`NormBoundedFedAvg` (the one rule
Flower lacks). :func:`build_strategy` wraps the result in Flower's
differential-privacy wrapper the config names, then in :class:`ScoredStrategy`,
which scores every client's raw update before anything clips or averages it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import (
    Bulyan,
    DifferentialPrivacyClientSideAdaptiveClipping,
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideAdaptiveClipping,
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
    Strategy,
)

from trainguard.core.registry import Registry
from trainguard.federated.anomaly import ClientRoundScore, score_round
from trainguard.federated.config import FederatedConfig
from trainguard.federated.robust import model_update, norm_bounded_mean
from trainguard.federated.runtime import number

CLIENT_RECORD = "client"
"""Key of the ConfigRecord in which a client names its partition id in every reply."""
UNIT_WEIGHT = "unit-weight"
"""Metric every client sends as 1, so DP runs average updates uniformly (the noise assumes it)."""
CENTRAL_DP = ("server-fixed", "server-adaptive", "client-fixed", "client-adaptive")


class NormBoundedFedAvg(FedAvg):
    """FedAvg over updates clipped to ``max_norm``, plus optional noise (Sun et al. 2019).

    Aggregation is :func:`~trainguard.federated.robust.norm_bounded_mean` over the
    updates ``reply - global``; the noise generator is seeded with ``(seed, round)``.
    """

    def __init__(
        self, *, max_norm: float, noise_std: float = 0.0, seed: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.max_norm = max_norm
        self.noise_std = noise_std
        self.seed = seed
        self._current = ArrayRecord()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Remember the global arrays, then sample clients as FedAvg does."""
        self._current = arrays
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Global arrays plus the norm-bounded mean of the clients' updates."""
        valid, _ = self._check_and_log_replies(replies, is_train=True)
        if not valid:
            return None, None
        contents = [m.content for m in valid]
        current = self._current.to_numpy_ndarrays()
        updates = [
            model_update(next(iter(c.array_records.values())).to_numpy_ndarrays(), current)
            for c in contents
        ]
        weights = [
            number(
                next(iter(c.metric_records.values()))[self.weighted_by_key], self.weighted_by_key
            )
            for c in contents
        ]
        mean = norm_bounded_mean(
            updates,
            weights,
            max_norm=self.max_norm,
            noise_std=self.noise_std,
            rng=np.random.default_rng([self.seed, server_round]),
        )
        arrays = ArrayRecord(
            {
                k: Array(np.asarray(g + u, dtype=g.dtype))
                for k, g, u in zip(self._current.keys(), current, mean, strict=True)
            }
        )
        return arrays, self.train_metrics_aggr_fn(contents, self.weighted_by_key)


AGGREGATORS: Registry[Strategy] = Registry("aggregation strategy")
"""Factories ``(cfg, common_kwargs) -> Strategy`` by ``strategy.name``."""


@AGGREGATORS.register("fedavg")
def _fedavg(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return FedAvg(**kw)


@AGGREGATORS.register("fedprox")
def _fedprox(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return FedProx(proximal_mu=cfg.strategy.proximal_mu, **kw)


@AGGREGATORS.register("krum")
def _krum(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return Krum(num_malicious_nodes=cfg.assumed_malicious, **kw)


@AGGREGATORS.register("multikrum")
def _multikrum(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    m = cfg.strategy.num_selected or cfg.clients_per_round - cfg.assumed_malicious
    return MultiKrum(num_malicious_nodes=cfg.assumed_malicious, num_nodes_to_select=m, **kw)


@AGGREGATORS.register("median")
def _median(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return FedMedian(**kw)


@AGGREGATORS.register("trimmed-mean")
def _trimmed(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return FedTrimmedAvg(beta=cfg.strategy.trim_beta, **kw)


@AGGREGATORS.register("bulyan")
def _bulyan(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return Bulyan(num_malicious_nodes=cfg.assumed_malicious, **kw)


@AGGREGATORS.register("norm-bound")
def _norm_bound(cfg: FederatedConfig, kw: dict[str, Any]) -> Strategy:
    return NormBoundedFedAvg(
        max_norm=cfg.strategy.max_norm, noise_std=cfg.strategy.noise_std, seed=cfg.train.seed, **kw
    )


def adaptive_count_stddev(cfg: FederatedConfig) -> float:
    """Noise on the clipped-update count of adaptive clipping.

    ``dp.clipped_count_stddev`` when given, else ``max(m / 20, z)`` for ``m``
    clients per round and noise multiplier ``z``: Andrew et al. (2021) suggest
    ``m / 20``, and their split of ``z`` needs ``z < 2 * stddev``.
    """
    given = cfg.dp.clipped_count_stddev
    return (
        given if given is not None else max(cfg.clients_per_round / 20.0, cfg.dp.noise_multiplier)
    )


def _with_dp(inner: Strategy, cfg: FederatedConfig) -> Strategy:
    dp, m = cfg.dp, cfg.clients_per_round
    if dp.mode in ("server-fixed", "client-fixed"):
        fixed = (
            DifferentialPrivacyServerSideFixedClipping
            if dp.mode == "server-fixed"
            else DifferentialPrivacyClientSideFixedClipping
        )
        return fixed(inner, dp.noise_multiplier, dp.clipping_norm, m)
    adaptive = (
        DifferentialPrivacyServerSideAdaptiveClipping
        if dp.mode == "server-adaptive"
        else DifferentialPrivacyClientSideAdaptiveClipping
    )
    return adaptive(
        inner,
        dp.noise_multiplier,
        m,
        initial_clipping_norm=dp.clipping_norm,
        target_clipped_quantile=dp.target_quantile,
        clip_norm_lr=dp.clip_lr,
        clipped_count_stddev=adaptive_count_stddev(cfg),
    )


class ScoredStrategy(Strategy):
    """Any strategy, with every round's client updates scored before aggregation.

    The scores (:class:`~trainguard.federated.anomaly.ClientRoundScore`) collect
    in :attr:`scores`; ``malicious`` is the simulated ground truth, if any.
    """

    def __init__(
        self, inner: Strategy, *, threshold: float = 3.5, malicious: frozenset[int] | None = None
    ) -> None:
        self.inner = inner
        self.threshold = threshold
        self.malicious = malicious
        self.scores: list[ClientRoundScore] = []
        self._current = ArrayRecord()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Remember the global arrays; the inner strategy configures the round."""
        self._current = arrays
        return self.inner.configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Score the raw updates, then let the inner strategy aggregate."""
        replies = list(replies)
        ok = [m for m in replies if not m.has_error() and len(m.content.array_records) == 1]
        current = self._current.to_numpy_ndarrays()
        updates = [
            model_update(next(iter(m.content.array_records.values())).to_numpy_ndarrays(), current)
            for m in ok
        ]
        clients = [
            int(number(m.content.config_records[CLIENT_RECORD]["partition-id"], "partition-id"))
            for m in ok
        ]
        arrays, metrics = self.inner.aggregate_train(server_round, replies)
        aggregate = None if arrays is None else model_update(arrays.to_numpy_ndarrays(), current)
        if updates:
            self.scores.extend(
                score_round(
                    server_round,
                    clients,
                    updates,
                    aggregate,
                    threshold=self.threshold,
                    malicious=self.malicious,
                )
            )
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Delegate to the inner strategy."""
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Delegate to the inner strategy."""
        return self.inner.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        """Delegate to the inner strategy."""
        self.inner.summary()


def build_strategy(
    cfg: FederatedConfig, *, malicious: frozenset[int] | None = None
) -> tuple[Strategy, Strategy]:
    """The strategy ``cfg`` asks for; returns ``(outer, dp_wrapper_or_aggregator)``.

    The outer strategy is :class:`ScoredStrategy` when anomaly scoring is on. The
    second element is the DP wrapper (whose ``clipping_norm`` adaptive clipping
    moves) or, without DP, the aggregation strategy itself.
    """
    dp_central = cfg.dp.mode in CENTRAL_DP
    common: dict[str, Any] = {
        "fraction_train": cfg.train.fraction_train,
        "fraction_evaluate": 0.0,
        "min_train_nodes": cfg.clients_per_round,
        "min_evaluate_nodes": 0,
        "min_available_nodes": cfg.partition.num_clients,
        "weighted_by_key": UNIT_WEIGHT if dp_central else "num-examples",
    }
    strategy = AGGREGATORS.get(cfg.strategy.name)(cfg, common)
    if dp_central:
        strategy = _with_dp(strategy, cfg)
    core = strategy
    if cfg.anomaly.enabled:
        strategy = ScoredStrategy(strategy, threshold=cfg.anomaly.threshold, malicious=malicious)
    return strategy, core
