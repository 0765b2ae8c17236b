"""Per-round, per-client anomaly scores of model updates, and the findings an operator reads.

Each round every client's update gets two scores: its L2 norm and its cosine
similarity to the aggregated update. Both are turned into modified z-scores
(Iglewicz and Hoaglin 1993: ``0.6745 (x - median) / MAD``) across the round's
clients; an update is flagged when its norm's z-score is above the threshold
(boosted or replaced models) or its cosine's is below minus the threshold
(flipped or off-task directions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from trainguard.core.findings import Finding, Severity
from trainguard.core.validation import check_positive, check_real
from trainguard.federated.robust import cosine, flatten, l2_norm

NORM_SCALE_FLOOR = 0.1
"""MAD floor for norms, relative to the round's median norm (spread below 10% is not evidence)."""
COSINE_SCALE_FLOOR = 0.05
"""MAD floor for cosine similarities, in cosine units."""


def modified_z_scores(values: Sequence[float], *, min_scale: float = 0.0) -> np.ndarray:
    """Modified z-scores ``0.6745 (x - median) / MAD`` (Iglewicz and Hoaglin 1993).

    When the MAD is zero the mean absolute deviation takes its place (scaled by
    ``1.253314`` so both estimate the standard deviation the same way); the scale
    never drops below ``min_scale``; with no spread at all every score is 0.
    """
    x = np.asarray(values, dtype=np.float64)
    check_real(min_scale, "min_scale", "modified_z_scores", low=0.0)
    if x.size == 0:
        return x
    med = float(np.median(x))
    dev = np.abs(x - med)
    mad = float(np.median(dev))
    scale = mad / 0.6745 if mad > 0 else 1.253314 * float(dev.mean())
    scale = max(scale, min_scale)
    if scale <= 0:
        return np.zeros_like(x)
    return (x - med) / scale


class ClientRoundScore(BaseModel):
    """One client's update in one round: norm, cosine to the aggregate, their z-scores, the verdict."""

    round: int
    client: int
    norm: float
    cosine: float
    norm_z: float
    cosine_z: float
    flagged: bool
    malicious: bool | None = None


def score_round(
    server_round: int,
    clients: Sequence[int],
    updates: Sequence[Sequence[np.ndarray]],
    aggregate: Sequence[np.ndarray] | None,
    *,
    threshold: float = 3.5,
    malicious: frozenset[int] | None = None,
) -> list[ClientRoundScore]:
    """Score every client's update of one round against the round's aggregated update.

    ``aggregate`` is the update the server applied (``None`` when aggregation
    failed: cosines are then 0). ``malicious`` is the ground truth when known
    (simulated attacks), copied into the rows for the detection rates.
    """
    check_positive(threshold, "threshold", "score_round")
    flat = [flatten(u) for u in updates]
    norms = [l2_norm(u) for u in updates]
    agg = flatten(aggregate) if aggregate is not None else np.zeros(0)
    cos = [cosine(f, agg) if agg.size == f.size else 0.0 for f in flat]
    norm_z = modified_z_scores(
        norms, min_scale=NORM_SCALE_FLOOR * float(np.median(norms)) if norms else 0.0
    )
    cos_z = modified_z_scores(cos, min_scale=COSINE_SCALE_FLOOR)
    return [
        ClientRoundScore(
            round=server_round,
            client=int(c),
            norm=n,
            cosine=s,
            norm_z=float(nz),
            cosine_z=float(cz),
            flagged=bool(nz > threshold or cz < -threshold),
            malicious=None if malicious is None else int(c) in malicious,
        )
        for c, n, s, nz, cz in zip(clients, norms, cos, norm_z, cos_z, strict=True)
    ]


class AnomalyReport(BaseModel):
    """All rounds' scores, with the clients flagged and, when the truth is known, detection rates."""

    scores: list[ClientRoundScore]
    threshold: float = 3.5

    def flagged_rounds(self) -> dict[int, list[int]]:
        """Client id -> the rounds in which its update was flagged (only clients flagged at least once)."""
        out: dict[int, list[int]] = {}
        for s in self.scores:
            if s.flagged:
                out.setdefault(s.client, []).append(s.round)
        return out

    def detection_rates(self) -> dict[str, float] | None:
        """True- and false-positive rates of the flags over (round, client) pairs, when the truth is known."""
        known = [s for s in self.scores if s.malicious is not None]
        if not known:
            return None
        bad = [s for s in known if s.malicious]
        good = [s for s in known if not s.malicious]
        return {
            "true_positive_rate": sum(s.flagged for s in bad) / len(bad) if bad else float("nan"),
            "false_positive_rate": sum(s.flagged for s in good) / len(good)
            if good
            else float("nan"),
        }

    def to_findings(self, stage: str, evidence: Sequence[str] = ()) -> list[Finding]:
        """One summary finding (table of every score) and one failing finding per flagged client."""
        flagged = self.flagged_rounds()
        rates = self.detection_rates() or {}
        clients = sorted({s.client for s in self.scores})
        summary = Finding(
            stage=stage,
            check_id="update-anomalies",
            title="Per-round, per-client update anomaly scores (norm, cosine to the aggregate)",
            severity=Severity.HIGH,
            passed=not flagged,
            threshold=self.threshold,
            metrics={
                "clients": float(len(clients)),
                "rounds": float(len({s.round for s in self.scores})),
                "flagged_clients": float(len(flagged)),
                "flagged_updates": float(sum(len(r) for r in flagged.values())),
                **rates,
            },
            message=(
                f"clients flagged: {', '.join(str(c) for c in sorted(flagged))}"
                if flagged
                else "no client update stood out"
            ),
            evidence=list(evidence),
            table=[s.model_dump(exclude_none=True) for s in self.scores],
        )
        per_client = [
            Finding(
                stage=stage,
                check_id=f"client-{client}-anomalous-updates",
                title=f"Client {client} sent anomalous updates",
                severity=Severity.HIGH,
                passed=False,
                threshold=self.threshold,
                metrics=_client_metrics(self.scores, client, rounds),
                message=f"flagged in round(s) {', '.join(str(r) for r in rounds)}",
                location=f"client {client}",
            )
            for client, rounds in sorted(flagged.items())
        ]
        return [summary, *per_client]


def _client_metrics(
    scores: Sequence[ClientRoundScore], client: int, rounds: list[int]
) -> dict[str, float | None]:
    mine = [s for s in scores if s.client == client]
    return {
        "flagged_rounds": float(len(rounds)),
        "first_flagged_round": float(min(rounds)),
        "max_norm_z": max(s.norm_z for s in mine),
        "min_cosine_z": min(s.cosine_z for s in mine),
        "mean_cosine": float(np.mean([s.cosine for s in mine])),
    }
