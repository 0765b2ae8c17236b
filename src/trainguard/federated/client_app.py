"""The Flower ClientApp (Message API): local training, the simulated attacks, the client-side defences.

:func:`client_update` is the whole client computation as a plain function;
:func:`make_client_app` wraps it in a ``flwr.clientapp.ClientApp`` whose
``@app.train()`` handler answers the server, and whose mod applies the
client-side protection the config names: Flower's ``fixedclipping_mod`` or
``adaptiveclipping_mod`` (client-side DP), ``LocalDpMod`` (local DP) or
``secaggplus_mod`` (SecAgg+). A malicious client skips the clipping mods: it runs
its own software, which is exactly why client-side clipping trusts the clients.
"""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import LocalDpMod, adaptiveclipping_mod, fixedclipping_mod
from flwr.clientapp.typing import ClientAppCallable, Mod

from trainguard.core.training import dataset_tensors
from trainguard.federated.attacks import attacked_dataset, attacked_weights, attackers
from trainguard.federated.config import FederatedConfig
from trainguard.federated.robust import l2_norm, model_update
from trainguard.federated.runtime import config_from_context, number, partition_id
from trainguard.federated.strategies import CLIENT_RECORD, UNIT_WEIGHT
from trainguard.federated.task import (
    Weights,
    get_weights,
    global_model,
    load_federated_data,
    local_train,
    set_weights,
)

LEGACY_PARAMS = "fitins.parameters"
"""ArrayRecord key of a legacy FitIns message (only SecAgg+'s workflow sends those)."""


def client_seed(cfg: FederatedConfig, partition: int, server_round: int) -> int:
    """Seed of one client's local shuffling in one round."""
    return int(
        np.random.SeedSequence([cfg.train.seed, partition, server_round]).generate_state(1)[0]
    )


def client_update(
    cfg: FederatedConfig,
    partition: int,
    global_w: Weights,
    server_round: int,
    *,
    proximal_mu: float = 0.0,
) -> tuple[Weights, int, dict[str, float]]:
    """Train client ``partition`` from ``global_w``; return the weights it sends, its row count, metrics.

    A malicious client (see :func:`~trainguard.federated.attacks.attackers`) from
    ``attack.start_round`` on trains on its attacked data and sends attacked weights.
    """
    data = load_federated_data(cfg)
    tm = global_model(cfg, data)
    set_weights(tm.model, global_w)
    local = data.client(partition)
    n_rows = len(local)
    seed = client_seed(cfg, partition, server_round)
    evil = partition in attackers(cfg) and server_round >= cfg.attack.start_round
    if evil:
        local = attacked_dataset(local, cfg.attack, seed=seed)
    x, y = dataset_tensors(local, tm.vocab)
    loss = local_train(
        tm.model,
        x,
        y,
        epochs=cfg.train.local_epochs,
        batch_size=cfg.train.batch_size,
        lr=cfg.train.lr,
        proximal_mu=proximal_mu,
        seed=seed,
    )
    sent = get_weights(tm.model)
    if evil:
        sent = attacked_weights(global_w, sent, cfg.attack, clients_per_round=cfg.clients_per_round)
    return sent, n_rows, {"train-loss": loss}


def _message_reply(msg: Message, cfg: FederatedConfig, pid: int) -> Message:
    arrays = msg.content.array_records["arrays"]
    config = msg.content.config_records["config"]
    keys = list(arrays.keys())
    sent, n, metrics = client_update(
        cfg,
        pid,
        arrays.to_numpy_ndarrays(),
        int(number(config["server-round"], "config 'server-round'")),
        proximal_mu=number(config.get("proximal-mu", 0.0), "config 'proximal-mu'"),
    )
    content = RecordDict(
        {
            "arrays": ArrayRecord(
                {k: Array(np.asarray(w)) for k, w in zip(keys, sent, strict=True)}
            ),
            "metrics": MetricRecord({"num-examples": n, UNIT_WEIGHT: 1, **metrics}),
            CLIENT_RECORD: ConfigRecord({"partition-id": pid}),
        }
    )
    return Message(content, reply_to=msg)


def _legacy_reply(msg: Message, cfg: FederatedConfig, pid: int) -> Message:
    """Answer a legacy FitIns (SecAgg+ only exists for Flower's legacy workflow in 1.42)."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    server_round = int(number(fitins.config.get("server-round", 1), "fit config 'server-round'"))
    sent, n, metrics = client_update(
        cfg, pid, parameters_to_ndarrays(fitins.parameters), server_round
    )
    res = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(sent), n, dict(metrics))
    return Message(compat.fitres_to_recorddict(res, keep_input=True), reply_to=msg)


def _unclipped_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Skip client-side adaptive clipping, as a malicious client would, but still report a norm bit.

    The bit (was the update above the bound?) is computed on the real, unclipped
    update, so the reply has the shape the server's wrapper expects.
    """
    from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM, KEY_NORM_BIT

    sent = msg.content.array_records["arrays"].to_numpy_ndarrays()
    bound = number(msg.content.config_records["config"][KEY_CLIPPING_NORM], KEY_CLIPPING_NORM)
    out = call_next(msg, ctxt)
    if not out.has_error():
        back = out.content.array_records["arrays"].to_numpy_ndarrays()
        above = l2_norm(model_update(back, sent)) > bound
        out.content.metric_records["metrics"][KEY_NORM_BIT] = int(above)
    return out


def _protection_mod(cfg: FederatedConfig, pid: int) -> Mod | None:
    if cfg.secagg.enabled:
        from flwr.client.mod import secaggplus_mod

        return secaggplus_mod
    if pid in attackers(cfg):
        return _unclipped_mod if cfg.dp.mode == "client-adaptive" else None
    if cfg.dp.mode == "client-fixed":
        return fixedclipping_mod
    if cfg.dp.mode == "client-adaptive":
        return adaptiveclipping_mod
    if cfg.dp.mode == "local":
        from trainguard.federated.accounting import dp_delta

        c = cfg.dp.clipping_norm
        return LocalDpMod(c, c, cfg.dp.local_epsilon, dp_delta(cfg))
    return None


def make_client_app(cfg: FederatedConfig | None = None) -> ClientApp:
    """A ClientApp bound to ``cfg`` (simulation), or reading it from the run config (deployment)."""

    def protect(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        mod = _protection_mod(config_from_context(ctxt, cfg), partition_id(ctxt))
        return call_next(msg, ctxt) if mod is None else mod(msg, ctxt, call_next)

    app = ClientApp(mods=[protect])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        c = config_from_context(context, cfg)
        pid = partition_id(context)
        if LEGACY_PARAMS in msg.content.array_records:
            return _legacy_reply(msg, c, pid)
        return _message_reply(msg, c, pid)

    return app


app = make_client_app()
"""The ClientApp a deployment loads (``trainguard.federated.client_app:app``)."""
