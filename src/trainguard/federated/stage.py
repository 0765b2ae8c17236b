"""The ``federated`` stage: run a config on an engine, then record metrics, plots and findings in a run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from trainguard.core.findings import Finding, Severity
from trainguard.core.plots import line_plot
from trainguard.core.run import RunDir
from trainguard.core.stage import recorded_stage
from trainguard.federated.anomaly import AnomalyReport
from trainguard.federated.config import FederatedConfig, parse_config
from trainguard.federated.results import MODEL_FILE, FederatedResult

STAGE = "federated"
BACKDOOR_GATE = 0.10
"""Backdoor success above this share of triggered test rows fails the run."""


def run_engine(
    cfg: FederatedConfig,
    output: str | Path,
    *,
    engine: Literal["simulation", "deployment"] | None = None,
) -> FederatedResult:
    """Run ``cfg`` on ``engine`` (default ``cfg.engine.kind``), writing into ``output``."""
    kind = engine or cfg.engine.kind
    if kind == "deployment":
        from trainguard.federated.deployment import run_deployment

        return run_deployment(cfg, output)
    from trainguard.federated.simulation import run_simulation

    return run_simulation(cfg, output)


def _round_findings(run: RunDir, res: FederatedResult) -> list[Finding]:
    rounds = [float(r.round) for r in res.rounds]
    series = {"accuracy": [r.accuracy for r in res.rounds]}
    if all(r.auc is not None for r in res.rounds):
        series["AUC"] = [float(r.auc or 0.0) for r in res.rounds]
    if res.config.attack.kind == "backdoor":
        series["backdoor success"] = [float(r.backdoor_success or 0.0) for r in res.rounds]
    plot = line_plot(
        run,
        "federated_rounds",
        rounds,
        series,
        xlabel="round",
        ylabel="score",
        title="Global model per round",
    )
    final, gate = res.final, res.config.min_auc
    cfg = res.config
    findings = [
        Finding(
            stage=STAGE,
            check_id="global-model",
            title=f"Global model after {len(res.rounds) - 1} rounds ({cfg.strategy.name}, {res.engine})",
            severity=Severity.MEDIUM,
            passed=None if gate is None or final.auc is None else final.auc >= gate,
            threshold=gate,
            metrics={
                "auc": final.auc,
                "accuracy": final.accuracy,
                "loss": final.loss,
                "clients": float(cfg.partition.num_clients),
                "rounds": float(cfg.train.rounds),
                "seconds_per_round": sum(r.seconds for r in res.rounds[1:])
                / max(1, len(res.rounds) - 1),
            },
            message=f"{cfg.partition.num_clients} clients, {cfg.partition.scheme} partition of {cfg.data.source}",
            evidence=[plot, f"artifacts/{STAGE}/{MODEL_FILE}"],
            table=[r.model_dump(exclude_none=True) for r in res.rounds],
        )
    ]
    if cfg.attack.kind != "none":
        findings.append(
            Finding(
                stage=STAGE,
                check_id="attack-simulation",
                title=f"Simulated {cfg.attack.kind} attack by {len(res.malicious)} of {cfg.partition.num_clients} clients",
                metrics={
                    "malicious_clients": float(len(res.malicious)),
                    "fraction": cfg.attack.fraction,
                },
                message=f"malicious clients: {', '.join(map(str, res.malicious))}",
            )
        )
    if cfg.attack.kind == "backdoor" and final.backdoor_success is not None:
        findings.append(
            Finding(
                stage=STAGE,
                check_id="backdoor-success",
                title="Backdoor success rate of the global model (triggered test rows sent to the target)",
                severity=Severity.HIGH,
                passed=final.backdoor_success <= BACKDOOR_GATE,
                threshold=BACKDOOR_GATE,
                metrics={
                    "backdoor_success": final.backdoor_success,
                    "target_label": float(cfg.attack.target_label),
                },
                evidence=[plot],
            )
        )
    return findings


def _privacy_findings(run: RunDir, res: FederatedResult) -> list[Finding]:
    cfg = res.config
    out: list[Finding] = []
    if cfg.dp.mode != "none":
        eps = [r.epsilon or 0.0 for r in res.rounds]
        plot = line_plot(
            run,
            "federated_epsilon",
            [float(r.round) for r in res.rounds],
            {"epsilon": eps},
            xlabel="round",
            ylabel="epsilon",
            title=f"Client-level epsilon (RDP, delta={res.delta:g})",
        )
        out.append(
            Finding(
                stage=STAGE,
                check_id="dp-epsilon",
                title=f"Client-level differential privacy ({cfg.dp.mode})",
                severity=Severity.INFO,
                metrics={
                    "epsilon": eps[-1],
                    "delta": res.delta,
                    "noise_multiplier": cfg.dp.noise_multiplier,
                    "clipping_norm": res.final.clipping_norm or cfg.dp.clipping_norm,
                },
                message="epsilon by Renyi DP over the rounds, no amplification by client sampling",
                evidence=[plot],
            )
        )
    if res.secure_aggregation:
        out.append(
            Finding(
                stage=STAGE,
                check_id="secure-aggregation",
                title="Updates aggregated with SecAgg+ (the server saw only their masked sum)",
                metrics={
                    "clipping_range": cfg.secagg.clipping_range,
                    "quantization_range": float(cfg.secagg.quantization_range),
                },
                message="per-client anomaly scores are unavailable by design under secure aggregation",
            )
        )
    dep = res.deployment
    if dep is not None:
        out.append(
            Finding(
                stage=STAGE,
                check_id="node-authentication",
                title="Deployment: TLS, SuperNode authentication, unknown node refused",
                severity=Severity.HIGH,
                passed=dep.tls and dep.node_authentication and dep.intruder_refused is not False,
                metrics={
                    "registered_nodes": float(len(dep.registered_nodes)),
                    "intruder_exit_code": None
                    if dep.intruder_exit_code is None
                    else float(dep.intruder_exit_code),
                },
                message=f"SuperLink {dep.superlink}; unregistered node: {dep.intruder_message or 'not probed'}",
            )
        )
    return out


def _anomaly_findings(run: RunDir, res: FederatedResult) -> list[Finding]:
    if not res.scores:
        return []
    report = AnomalyReport(scores=res.scores, threshold=res.config.anomaly.threshold)
    rounds = sorted({s.round for s in res.scores})
    evidence = []
    for metric, label in (("norm", "update L2 norm"), ("cosine", "cosine to the aggregate")):
        series = {}
        for c in sorted({s.client for s in res.scores}):
            by_round = {s.round: getattr(s, metric) for s in res.scores if s.client == c}
            name = f"client {c}" + (" (malicious)" if c in res.malicious else "")
            series[name] = [by_round.get(r, float("nan")) for r in rounds]
        evidence.append(
            line_plot(
                run,
                f"federated_{metric}",
                [float(r) for r in rounds],
                series,
                xlabel="round",
                ylabel=label,
                title=f"Per-client {label}",
            )
        )
    return report.to_findings(STAGE, evidence)


def federated_stage(
    run: RunDir,
    config: FederatedConfig | dict[str, object],
    *,
    engine: Literal["simulation", "deployment"] | None = None,
) -> FederatedResult:
    """Run a federated config and add stage ``federated`` (metrics, plots, findings) to ``run``.

    The ServerApp's output (``result.json``, ``model.pt``) lands in
    ``artifacts/federated/``. With ``baselines: true`` in the config, the AUC of
    each client alone and of centralised training are measured beside it.
    """
    cfg = parse_config(config) if isinstance(config, dict) else config
    out = run.artifact_path(f"{STAGE}/{MODEL_FILE}").parent
    with recorded_stage(run, STAGE, "Federated learning") as stage:
        res = run_engine(cfg, out, engine=engine)
        stage.findings.extend(_round_findings(run, res))
        stage.findings.extend(_privacy_findings(run, res))
        stage.findings.extend(_anomaly_findings(run, res))
        if cfg.baselines:
            stage.findings.append(_baseline_finding(res))
        stage.artifacts = [run.relative(p) for p in sorted(out.rglob("*")) if p.is_file()]
        auc = "n/a" if res.final.auc is None else f"{res.final.auc:.3f}"
        flagged = len(AnomalyReport(scores=res.scores).flagged_rounds())
        stage.summary = (
            f"{res.engine}, {cfg.strategy.name}, final AUC {auc}, {flagged} client(s) flagged"
        )
    return res


def _baseline_finding(res: FederatedResult) -> Finding:
    from trainguard.federated.baselines import baselines

    b = baselines(res.config)
    fed, central, local = res.final.auc, b.central_auc, b.mean_local_auc
    return Finding(
        stage=STAGE,
        check_id="federation-gain",
        title="Federated AUC beside each client alone and centralised training",
        metrics={
            "auc_federated": fed,
            "auc_centralised": central,
            "auc_mean_single_client": local,
            "gain_over_single_client": None if fed is None or local is None else fed - local,
            "gap_to_centralised": None if fed is None or central is None else central - fed,
        },
        table=[{"client": i, "auc_alone": a} for i, a in enumerate(b.local_auc)],
    )


DEMO_CONFIG: dict[str, object] = {
    "name": "demo",
    "data": {"source": "synthetic-credit", "options": {"n_samples": 3000, "n_institutions": 4}},
    "partition": {"scheme": "column", "column": "institution", "num_clients": 4},
    "model": {"name": "logreg"},
    "train": {"rounds": 3, "lr": 0.1},
    "strategy": {"name": "median"},
    "engine": {"num_cpus": 1},
}


def federated_demo_stage(run: RunDir, *, attack: bool = True) -> FederatedResult:
    """The demo's federated stage: four banks train a credit model on Flower's simulation engine.

    Synthetic credit rows are split by institution (non-IID); the coordinate-wise
    median aggregates. With ``attack`` one bank sends sign-flipped updates
    (scaled by 4): the stage's anomaly findings name it and the rounds, and fail,
    while the median keeps the global AUC.
    """
    raw = dict(DEMO_CONFIG)
    if attack:
        raw["attack"] = {"kind": "sign-flip", "fraction": 0.25, "scale": 4.0}
    return federated_stage(run, parse_config(raw), engine="simulation")
