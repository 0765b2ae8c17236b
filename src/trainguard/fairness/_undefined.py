"""An explicit marker for a metric that does not exist on the given data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Undefined:
    """A metric value that is undefined on these inputs, with the reason.

    Returned instead of ``NaN`` (a true positive rate of a group without actual
    positives, a ratio whose denominator is zero), so a missing value is never
    mistaken for a number. It is falsy and compares equal only to another
    ``Undefined`` with the same reason.
    """

    reason: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"undefined ({self.reason})"


MetricValue = float | Undefined
"""A metric: a float, or :class:`Undefined` with the reason it does not exist."""


def as_optional(value: MetricValue) -> float | None:
    """``value`` as a float, or ``None`` when it is undefined (for findings and JSON)."""
    return None if isinstance(value, Undefined) else float(value)


def format_value(value: MetricValue, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or the undefined marker with its reason."""
    return str(value) if isinstance(value, Undefined) else f"{value:.{digits}f}"
