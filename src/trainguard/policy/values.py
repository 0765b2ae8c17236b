"""Labelled values: a raw Python value, its label, and where it came from.

Containers hold labelled elements (``list[Labelled]``, ``dict[str, Labelled]``), so
every e-mail in a list keeps its own sender and readers, as CaMeL's values do
(Debenedetti et al., 2025, section 5.3). Every derived value records the values it was
computed from (``parents``, including the conditions it was computed under), which
gives the data-flow graph :func:`flow_path` walks to explain a denied tool call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from trainguard.policy.errors import ExecutionLimit
from trainguard.policy.labels import USER_LABEL, Label, join

_PRIMITIVES = (str, int, float, bool, type(None))


class Labelled:
    """A value with its capabilities.

    Parameters
    ----------
    raw
        A primitive (str, int, float, bool, None), a ``list`` of :class:`Labelled`, a
        ``tuple`` of :class:`Labelled` or a ``dict`` from ``str`` to :class:`Labelled`.
    label
        The value's own label. For a container this covers its structure (which
        elements it has); the elements carry their own labels.
    origin
        How the value was produced, one short phrase (``"get_unread_emails()[2]"``).
    parents
        The values it was computed from, including control-flow conditions.
    """

    __slots__ = ("label", "origin", "parents", "raw")

    def __init__(
        self, raw: Any, label: Label, origin: str, parents: Sequence[Labelled] = ()
    ) -> None:
        self.raw = raw
        self.label = label
        self.origin = origin
        self.parents: tuple[Labelled, ...] = tuple(parents)

    def __repr__(self) -> str:
        return f"Labelled({unwrap(self)!r}, {self.label.describe()})"

    def children(self) -> list[Labelled]:
        """The elements of a container value (empty for a primitive)."""
        if isinstance(self.raw, list | tuple):
            return list(self.raw)
        if isinstance(self.raw, dict):
            return list(self.raw.values())
        return []


def wrap(obj: Any, label: Label, origin: str) -> Labelled:
    """Label a plain Python value, and everything inside it, with ``label``.

    A :class:`Labelled` found inside ``obj`` is kept as it is, with its own label.
    """
    if isinstance(obj, Labelled):
        return obj
    if isinstance(obj, _PRIMITIVES):
        return Labelled(obj, label, origin)
    if isinstance(obj, dict):
        return Labelled(
            {str(k): wrap(v, label, f"{origin}[{k!r}]") for k, v in obj.items()}, label, origin
        )
    if isinstance(obj, list | tuple):
        items = [wrap(x, label, f"{origin}[{i}]") for i, x in enumerate(obj)]
        return Labelled(items if isinstance(obj, list) else tuple(items), label, origin)
    raise TypeError(f"cannot label a value of type {type(obj).__name__}")


def literal(obj: Any, label: Label = USER_LABEL, origin: str = "constant") -> Labelled:
    """A value the user (or the plan written from the user's request) supplied."""
    return wrap(obj, label, origin)


def unwrap(value: Labelled, limit: int | None = None) -> Any:
    """The plain Python value, with every label removed (containers copied).

    With ``limit``, raise :class:`~trainguard.policy.errors.ExecutionLimit` once the copy
    would hold more than ``limit`` characters plus container items: shared elements are
    copied each time they appear, so a small nest of shared lists can unwrap to a huge
    value.
    """
    budget = [limit if limit is not None else -1]

    def spend(n: int) -> None:
        if budget[0] >= 0:
            budget[0] -= n
            if budget[0] < 0:
                raise ExecutionLimit(f"a value exceeds the size limit of {limit}")

    def copy(v: Labelled) -> Any:
        raw = v.raw
        if isinstance(raw, str | list | tuple | dict):
            spend(len(raw))
        if isinstance(raw, list):
            return [copy(x) for x in raw]
        if isinstance(raw, tuple):
            return tuple(copy(x) for x in raw)
        if isinstance(raw, dict):
            return {k: copy(x) for k, x in raw.items()}
        return raw

    return copy(value)


def deep_label(value: Labelled) -> Label:
    """The join of a value's label and the labels of everything inside it."""
    labels: list[Label] = []
    seen: set[int] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        labels.append(v.label)
        stack.extend(v.children())
    return join(*labels)


def structure_label(value: Labelled) -> Label:
    """The label of a container's shape: its own label and its top-level elements' labels.

    The number of elements (what ``len``, truthiness and loops depend on) changes when an
    element is added under a condition; that element carries the condition's label.
    """
    return join(value.label, *(x.label for x in value.children()))


def derive(
    raw: Any, inputs: Iterable[Labelled], origin: str, *, context: Sequence[Labelled] = ()
) -> Labelled:
    """A new value computed from ``inputs`` under the control ``context``.

    ``raw`` is a plain Python value (no :class:`Labelled` inside). Its label, and the
    label of every element inside it, is the join of the inputs' deep labels and the
    context's labels; its parents are the inputs and the context, so the flow graph
    records both data and control dependence.
    """
    parents = (*inputs, *context)
    return link(wrap(raw, join(*(deep_label(p) for p in parents)), origin), parents)


def link(value: Labelled, parents: Sequence[Labelled]) -> Labelled:
    """Record ``parents`` on ``value`` and on every element inside it; return ``value``."""
    stack = [value]
    while stack:
        v = stack.pop()
        v.parents = tuple(parents)
        stack.extend(v.children())
    return value


def flow_path(value: Labelled, offending: Callable[[Label], bool]) -> list[str]:
    """The data-flow path that made ``value``'s label offending.

    ``offending`` tests a label (an untrusted source in it, a reader missing from it)
    and must hold for a join whenever it holds for one of the joined labels. The walk
    follows the flow graph (parents and container elements) from ``value`` back to the
    value whose own label is offending while nothing it came from is, and returns the
    origins on the way: that value first (with its label), ``value`` last. Empty when
    ``value``'s deep label is not offending.
    """
    seen: set[int] = set()
    root: list[Label] = []

    def walk(v: Labelled) -> list[str] | None:
        seen.add(id(v))
        for nxt in (*v.parents, *v.children()):
            if id(nxt) not in seen and offending(deep_label(nxt)):
                sub = walk(nxt)
                if sub is not None:
                    return sub if sub[-1] == v.origin else [*sub, v.origin]
        if not offending(v.label):
            return None
        root.append(v.label)
        return [v.origin]

    if not offending(deep_label(value)):
        return []
    path = walk(value) or [value.origin]
    where = root[0] if root else deep_label(value)
    return [f"{path[0]} [{where.describe()}]", *path[1:]]


def joined(value: Labelled, extra: Sequence[Labelled], origin: str | None = None) -> Labelled:
    """``value`` with the labels of ``extra`` joined in.

    ``extra`` holds what else the value now depends on: the container it was taken from,
    the index, the conditions it was assigned under. Returns ``value`` itself when
    ``extra`` adds nothing; otherwise a new value sharing the same raw content, with
    ``value`` and ``extra`` as its parents.
    """
    label = join(value.label, *(e.label for e in extra))
    if label == value.label:
        return value
    return Labelled(value.raw, label, origin or value.origin, (value, *extra))
