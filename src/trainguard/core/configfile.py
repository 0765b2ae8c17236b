"""Reading YAML config files and turning pydantic errors into one-line messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trainguard.core.errors import ConfigError


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed YAML of ``path``; a missing file or malformed YAML raises :class:`ConfigError`.

    ``what`` names the file in the error (``no such pipeline file``); a YAML error
    gives the line.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such {what} file")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}: malformed YAML{where}") from None


def describe_validation_error(exc: ValidationError, source: str, prefix: str = "") -> str:
    """``source: field.path: what was expected (got value)`` for the first error of ``exc``."""
    e = exc.errors()[0]
    loc = prefix + ".".join(str(x) for x in e["loc"])
    msg = str(e["msg"]).removeprefix("Value error, ")
    got = e.get("input")
    shown = "" if isinstance(got, dict | list) or got is None or not loc else f" (got {got!r})"
    return f"{source}: {loc or 'top level'}: {msg}{shown}"
