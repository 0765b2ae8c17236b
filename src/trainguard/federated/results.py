"""What a federated run leaves behind: per-round metrics, anomaly scores, privacy spent, the model.

The ServerApp writes a :class:`FederatedResult` as ``result.json`` next to the
final model (``model.pt``) in its output folder, in both engines; the stage and
the command line read it back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from trainguard.core.atomic import atomic_write_text
from trainguard.core.errors import DataError
from trainguard.federated.anomaly import ClientRoundScore
from trainguard.federated.config import FederatedConfig

RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"


class RoundRecord(BaseModel):
    """The global model after one round (round 0: the initial model), evaluated by the server."""

    round: int
    auc: float | None
    accuracy: float
    loss: float
    backdoor_success: float | None = None
    epsilon: float | None = None
    clipping_norm: float | None = None
    seconds: float = 0.0


class DeploymentReport(BaseModel):
    """How a deployment ran: where, with TLS and SuperNode authentication, and the intruder probe.

    ``intruder_refused`` says whether a SuperNode with an unregistered key was
    turned away (``None`` when no probe ran); ``intruder_message`` is its last log line.
    """

    superlink: str
    tls: bool
    node_authentication: bool
    registered_nodes: list[int] = Field(default_factory=list)
    intruder_refused: bool | None = None
    intruder_exit_code: int | None = None
    intruder_message: str = ""


class FederatedResult(BaseModel):
    """A finished federated run."""

    config: FederatedConfig
    engine: str
    rounds: list[RoundRecord] = Field(default_factory=list)
    scores: list[ClientRoundScore] = Field(default_factory=list)
    malicious: list[int] = Field(default_factory=list)
    client_sizes: list[int] = Field(default_factory=list)
    delta: float | None = None
    secure_aggregation: bool = False
    seconds: float = 0.0
    deployment: DeploymentReport | None = None

    @property
    def final(self) -> RoundRecord:
        """The last round's record."""
        return self.rounds[-1]

    def save(self, folder: str | Path) -> Path:
        """Write ``result.json`` into ``folder`` atomically."""
        return atomic_write_text(Path(folder) / RESULT_FILE, self.model_dump_json(indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> FederatedResult:
        """Read ``result.json`` from ``folder``; :class:`DataError` when it is missing or malformed."""
        f = Path(folder) / RESULT_FILE
        if not f.is_file():
            raise DataError(f"{f}: no federated result (did the ServerApp fail? see its log)")
        try:
            return cls.model_validate_json(f.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(
                f"{f}: malformed federated result ({str(exc).splitlines()[0]})"
            ) from None
