"""Parameter checks with one message format.

Every check raises :class:`~trainguard.core.errors.ParameterError` with a message of
the form used by scikit-learn's parameter validation::

    The 'eps' parameter of pgd must be a float in (0, inf). Got -1 instead.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeVar

from trainguard.core.errors import ParameterError

T = TypeVar("T")


def _fail(name: str, owner: str, expected: str, got: object) -> ParameterError:
    return ParameterError(
        f"The '{name}' parameter of {owner} must be {expected}. Got {got!r} instead."
    )


def check_real(
    value: object,
    name: str,
    owner: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it lies in the given interval."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    expected = f"a float in {left}{_fmt(low)}, {_fmt(high)}{right}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(name, owner, expected, value)
    v = float(value)
    if math.isnan(v):
        raise _fail(name, owner, expected, value)
    below = v <= low if low_open else v < low
    above = v >= high if high_open else v > high
    if below or above:
        raise _fail(name, owner, expected, value)
    return v


def check_positive(value: object, name: str, owner: str) -> float:
    """Return ``value`` as a float after checking it is finite and strictly positive."""
    return check_real(value, name, owner, low=0.0, high=math.inf, low_open=True, high_open=True)


def check_int(
    value: object, name: str, owner: str, *, low: int = 0, high: int | None = None
) -> int:
    """Return ``value`` after checking it is an int in ``[low, high]``."""
    expected = f"an int in [{low}, {'inf' if high is None else high}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, owner, expected, value)
    if value < low or (high is not None and value > high):
        raise _fail(name, owner, expected, value)
    return value


def check_choice(value: T, name: str, owner: str, choices: Collection[T]) -> T:
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in sorted(choices, key=str))
        raise _fail(name, owner, f"one of {{{options}}}", value)
    return value


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"
