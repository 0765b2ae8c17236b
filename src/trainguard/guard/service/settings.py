"""Service settings: environment variables ``TRAINGUARD_SERVICE_*`` read by pydantic-settings.

Routes get them through the cached :func:`get_settings` dependency;
:func:`~trainguard.guard.service.app.create_app` overrides it when it is handed
settings directly (tests, embedding the service in another app). Several uvicorn
workers each build the app from the same environment, so ``trainguard guard serve``
passes its options to the workers as these variables.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trainguard.core.errors import ConfigError

ENV_PREFIX = "TRAINGUARD_SERVICE_"


class ServiceSettings(BaseSettings):
    """Everything the guard service is configured with (defaults in brackets in the docs)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    db: str = "trainguard-audit.db"
    """Audit database: a SQLite file path or a ``postgresql://`` URL."""
    policies: dict[str, str] = Field(default_factory=dict)
    """Policy name -> YAML path; ``default`` is the built-in policy unless given here."""
    upstream: str | None = None
    """Base URL of the OpenAI-compatible server the proxy forwards to (``.../v1``)."""
    upstream_api_key: str | None = None
    """Bearer token sent upstream (the client's trainguard key is never forwarded)."""
    upstream_timeout_s: float = Field(default=60.0, gt=0)
    """Connect/read timeout towards the upstream; exceeded -> 504."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """Longest a guard check may take before the request gets 503."""
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    """Larger request bodies get 413."""
    workers: int = Field(default=1, gt=0)
    """uvicorn worker processes; each enforces ``rate / workers`` of a key's rate limit."""
    stream_window: int = Field(default=512, gt=0)
    """Characters of already-sent answer the streamed output check sees as context."""
    stream_holdback: int = Field(default=128, gt=0)
    """Characters held back from the client until the next check (longest caught phrase)."""
    stream_step: int = Field(default=32, gt=0)
    """New characters gathered before the streamed answer is checked again."""
    inline_chars: int = Field(default=4000, ge=0)
    """Texts up to this length are checked on the event loop; longer ones in a thread."""
    key_cache_s: float = Field(default=5.0, ge=0)
    """How long a looked-up API key is cached (a revoked key stops working after this)."""
    commit_batch: int = Field(default=256, gt=0)
    """Most audit records committed in one durable transaction (group commit)."""
    checkpoint_records: int = Field(default=4096, gt=0)
    """Records a process's audit writer commits between two checkpoints of SQLite's log
    (run by a thread of their own, not inside a commit)."""
    switch_interval_ms: float = Field(default=0.25, gt=0)
    """The interpreter's thread switch interval in the service process (Python's default is 5 ms).

    The audit writer thread needs the interpreter lock for a moment after each commit
    step; while the event loop thread is busy checking texts it gets it only after this
    interval, so with the default 5 ms every commit, and every request waiting on it,
    would take several times 5 ms under load.
    """

    @field_validator("upstream")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v


@lru_cache
def get_settings() -> ServiceSettings:
    """The settings from the environment, read once per process (a FastAPI dependency)."""
    try:
        return ServiceSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {err['msg']}") from None
