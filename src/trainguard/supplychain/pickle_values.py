"""The values of the symbolic pickle machine and the hooks it reports to.

Imports become :class:`Global`, calls :class:`Call`, bytes :class:`Blob` (the data is
kept only when short), containers :class:`Seq`/:class:`Map` (bounded), and what only
the loader could supply (persistent ids, buffers, extension codes) :class:`Opaque`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MAX_ITEMS = 4096
"""Container items kept per value; the rest are only counted."""


@dataclass(frozen=True, slots=True)
class Global:
    """An import the unpickler would perform (``find_class(module, name)``)."""

    module: str
    name: str
    offset: int

    @property
    def qualname(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(eq=False, slots=True)
class Call:
    """A call the unpickler would make: ``func(*args)`` or ``cls.__new__(cls, *args)``."""

    func: object
    args: object
    offset: int
    kind: str
    state: object = None


@dataclass(eq=False, slots=True)
class Blob:
    """A bytes payload; ``data`` is ``None`` when it was skipped for being long."""

    offset: int
    length: int
    data: bytes | None


@dataclass(eq=False, slots=True)
class Seq:
    """A tuple, list, set or frozenset; items past the first few thousand are only counted."""

    kind: str
    items: list[object] = field(default_factory=list)
    dropped: int = 0

    def extend(self, values: list[object]) -> None:
        """Append ``values`` within the kept-items bound."""
        room = max(0, MAX_ITEMS - len(self.items))
        self.items.extend(values[:room])
        self.dropped += max(0, len(values) - room)


@dataclass(eq=False, slots=True)
class Map:
    """A dict; pairs past the first few thousand are only counted."""

    items: list[tuple[object, object]] = field(default_factory=list)
    dropped: int = 0

    def extend(self, pairs: list[tuple[object, object]]) -> None:
        """Add ``pairs`` within the kept-items bound."""
        room = max(0, MAX_ITEMS - len(self.items))
        self.items.extend(pairs[:room])
        self.dropped += max(0, len(pairs) - room)

    def get(self, key: str) -> object:
        """The last value stored under ``key`` (as a dict would hold), or ``None``."""
        found: object = None
        for k, v in self.items:
            if k == key:
                found = v
        return found


@dataclass(frozen=True, slots=True)
class Opaque:
    """A value that cannot be known without running the loader (persistent id, buffer)."""

    reason: str


class Hooks(Protocol):
    """What a policy wants to see while the machine runs."""

    def on_global(self, g: Global, proto: int) -> None:
        """An import."""
        ...

    def on_call(self, call: Call) -> None:
        """A call or instantiation (``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``)."""
        ...

    def on_build(self, target: object, state: object, offset: int) -> None:
        """``BUILD``: ``__setstate__`` or ``__dict__`` update on ``target``."""
        ...

    def on_mutation(self, target: object, op: str, offset: int) -> None:
        """``APPEND``/``SETITEM``/``ADDITEMS`` on something that is not a plain container."""
        ...

    def on_opaque(self, kind: str, value: object, offset: int) -> None:
        """A persistent id, extension code or out-of-band buffer."""
        ...
