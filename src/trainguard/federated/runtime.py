"""How a ClientApp or ServerApp finds its config: bound at build time, or named in the run config.

The simulation engine builds apps bound to a :class:`FederatedConfig` object.
In a deployment, Flower loads the apps by module path inside fresh processes, so
the config travels as a JSON file named by the run-config key
``trainguard-config`` (and the server's output folder as ``trainguard-output``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from trainguard.core.errors import ConfigError
from trainguard.federated.config import FederatedConfig

if TYPE_CHECKING:
    from flwr.app import Context

CONFIG_KEY = "trainguard-config"
OUTPUT_KEY = "trainguard-output"


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime: float) -> FederatedConfig:
    return FederatedConfig.model_validate_json(Path(path).read_text(encoding="utf-8"))


def config_from_context(context: Context, bound: FederatedConfig | None = None) -> FederatedConfig:
    """``bound`` when given, else the config file named by the run config's ``trainguard-config``."""
    if bound is not None:
        return bound
    path = context.run_config.get(CONFIG_KEY)
    if not isinstance(path, str) or not Path(path).is_file():
        raise ConfigError(
            f"run config '{CONFIG_KEY}' must name a federated config JSON file; got {path!r}"
        )
    return _read(path, Path(path).stat().st_mtime)


def output_from_context(context: Context, bound: str | Path | None = None) -> Path:
    """``bound`` when given, else the folder named by the run config's ``trainguard-output``."""
    out = bound if bound is not None else context.run_config.get(OUTPUT_KEY)
    if not isinstance(out, str | Path) or not str(out):
        raise ConfigError(f"run config '{OUTPUT_KEY}' must name the output folder; got {out!r}")
    return Path(out)


def partition_id(context: Context) -> int:
    """The ``partition-id`` of the SuperNode running this app, from its node config."""
    pid = context.node_config.get("partition-id")
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise ConfigError(f"node config 'partition-id' must be an integer; got {pid!r}")
    return pid


def number(value: object, what: str) -> float:
    """A record value as a float; ConfigError naming ``what`` when it is not a single number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number; got {value!r}")
    return float(value)
