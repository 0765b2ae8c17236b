"""A tiny named registry (``register`` / ``create``) with a clear error for unknown names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from trainguard.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory mapping for one kind of thing (attacks, detectors, aggregators)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a factory under ``name``."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = factory
            return factory

        return deco

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; :class:`ConfigError` names the known ones."""
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; expected one of {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)
