"""``trainguard init``: write the commented starter ``pipeline.yaml``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from trainguard.core.atomic import atomic_write_text
from trainguard.core.errors import ConfigError


def starter_config() -> str:
    """The text of the commented starter pipeline."""
    return (
        files("trainguard.pipeline").joinpath("templates/pipeline.yaml").read_text(encoding="utf-8")
    )


def write_starter_config(path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the starter pipeline to ``path``; refuse to overwrite unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise ConfigError(f"{p}: already exists (use --force to overwrite)")
    return atomic_write_text(p, starter_config())
