"""Checks shared by every privacy function: epsilon, delta, sensitivity, bounds, values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_positive, check_real


def check_epsilon(value: object, owner: str, name: str = "epsilon") -> float:
    """``epsilon`` as a float after checking it is finite and > 0."""
    return check_positive(value, name, owner)


def check_delta(value: object, owner: str, *, allow_zero: bool = True) -> float:
    """``delta`` as a float in ``[0, 1)`` (or ``(0, 1)`` when ``allow_zero`` is False)."""
    return check_real(
        value, "delta", owner, low=0.0, high=1.0, low_open=not allow_zero, high_open=True
    )


def check_sensitivity(value: object, owner: str) -> float:
    """``sensitivity`` as a float after checking it is finite and > 0."""
    return check_positive(value, "sensitivity", owner)


def check_bounds(bounds: Sequence[float], owner: str) -> tuple[float, float]:
    """``(lower, upper)`` as floats after checking both are finite and ``lower < upper``."""
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ParameterError(
            f"The 'bounds' parameter of {owner} must be a pair (lower, upper). Got {bounds!r} instead."
        ) from None
    if not (math.isfinite(lower) and math.isfinite(upper)) or lower >= upper:
        raise ParameterError(
            f"The 'bounds' parameter of {owner} must be finite with lower < upper. Got {bounds!r} instead."
        )
    return lower, upper


def as_values(values: object, owner: str, name: str = "values") -> np.ndarray:
    """``values`` as a float64 array after checking every entry is finite."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(
            f"The '{name}' parameter of {owner} must be numeric. Got {type(values).__name__} instead."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ParameterError(
            f"The '{name}' parameter of {owner} must contain only finite numbers. Got NaN or inf instead."
        )
    return arr
