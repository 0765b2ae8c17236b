"""The functions and methods a plan may call besides tools, with their label rules.

Pure functions (``len``, ``str``, ``sorted``, string methods...) run on the unwrapped
values and label their result with the join of every input (:func:`derive`). Functions
that only move elements (``enumerate``, ``zip``, ``list``, ``dict.get``, ``dict.items``)
keep each element's own label, joined with the container's. Methods that mutate a list
(``append``, ``extend``) join the control context into what they add, so a list filled
inside a branch on untrusted data is itself untrusted.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from trainguard.policy.errors import ExecutionLimit
from trainguard.policy.labels import join
from trainguard.policy.sandbox import Limits
from trainguard.policy.values import Labelled, derive, joined, literal, structure_label, unwrap

PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "float": float,
    "int": int,
    "len": len,
    "max": max,
    "min": min,
    "round": round,
    "sorted": sorted,
    "str": str,
    "sum": sum,
}
"""Builtins a plan may call; the result depends on all arguments."""

STR_METHODS = frozenset(
    {
        "capitalize", "count", "endswith", "find", "isalpha", "isdigit", "join", "lower",
        "lstrip", "replace", "rstrip", "split", "splitlines", "startswith", "strip", "title",
        "upper",
    }
)  # fmt: skip
"""String methods a plan may call (``format`` is left out: its templates reach attributes)."""
LIST_METHODS = frozenset({"append", "count", "extend", "index"})
DICT_METHODS = frozenset({"get", "items", "keys", "values"})

Context = tuple[Labelled, ...]


def check_size(obj: Any, max_length: int) -> None:
    """Raise :class:`ExecutionLimit` for an oversized string, container or integer.

    A string or container may hold ``max_length`` items, an integer 4096 bits.

    This bounds every value a step builds; nested and shared elements are bounded when
    a value is unwrapped (:func:`~trainguard.policy.values.unwrap` with a limit).
    """
    if isinstance(obj, str | list | tuple | dict | range) and len(obj) > max_length:
        raise ExecutionLimit(f"a value of {len(obj)} items exceeds the size limit of {max_length}")
    if isinstance(obj, int) and not isinstance(obj, bool) and obj.bit_length() > 4096:
        raise ExecutionLimit("an integer exceeds 4096 bits")


def index_of(key: Labelled) -> Any:
    """The raw value of an index or slice bound: a string, an integer or ``None``."""
    raw = key.raw
    if raw is None or (isinstance(raw, str | int) and not isinstance(raw, bool)):
        return raw
    raise TypeError(f"an index must be a string or an integer, not {type(raw).__name__}")


def elements(value: Labelled) -> list[Labelled]:
    """What a ``for`` loop over ``value`` yields, each joined with the container's label."""
    raw = value.raw
    if isinstance(raw, list | tuple):
        return [joined(x, [value]) for x in raw]
    if isinstance(raw, dict):
        return [literal(k, value.label, f"{value.origin} key") for k in raw]
    if isinstance(raw, str):
        return [derive(ch, [value], f"{value.origin} character") for ch in raw]
    raise TypeError(f"cannot iterate over {type(raw).__name__}")


def _structural(name: str, args: list[Labelled], ctx: Context) -> Labelled | None:
    """``enumerate``, ``zip`` and ``list``: keep each element's label. ``None`` for others."""
    if name == "list" and len(args) == 1:
        return Labelled(
            elements(args[0]), join(structure_label(args[0]), *(c.label for c in ctx)), "list()"
        )
    if name == "enumerate" and len(args) == 1:
        items = elements(args[0])
        shape = join(structure_label(args[0]), *(c.label for c in ctx))
        pairs = [
            Labelled((Labelled(i, shape, "enumerate index", (args[0],)), x), shape, "enumerate()")
            for i, x in enumerate(items)
        ]
        return Labelled(pairs, shape, "enumerate()", (args[0], *ctx))
    if name == "zip" and args:
        columns = [elements(a) for a in args]
        shape = join(*(structure_label(a) for a in args), *(c.label for c in ctx))
        rows = [Labelled(tuple(row), shape, "zip()") for row in zip(*columns, strict=False)]
        return Labelled(rows, shape, "zip()", tuple(args))
    return None


def call_method(
    recv: Labelled,
    name: str,
    args: list[Labelled],
    ctx: Context,
    max_length: int,
) -> Labelled:
    """Call an allowed method of a string, list or dict value."""
    raw = recv.raw
    if isinstance(raw, dict) and name in DICT_METHODS:
        return _dict_method(recv, name, args, ctx)
    if isinstance(raw, list) and name in ("append", "extend"):
        added = [args[0]] if name == "append" else elements(args[0])
        raw.extend(joined(x, ctx) for x in added)
        check_size(raw, max_length)
        recv.label = join(recv.label, *(c.label for c in ctx))
        return literal(None)
    allowed = (
        STR_METHODS
        if isinstance(raw, str)
        else LIST_METHODS
        if isinstance(raw, list)
        else frozenset()
    )
    if name not in allowed:
        raise TypeError(f"method {name!r} is not available on {type(raw).__name__} values")
    plain = [unwrap(a, max_length) for a in args]
    if name == "replace" and len(plain) >= 2:
        grown = raw.count(plain[0]) * max(len(str(plain[1])) - len(str(plain[0])), 0)
        if len(raw) + grown > max_length:
            raise ExecutionLimit(f"replace() would exceed the size limit of {max_length}")
    result = getattr(unwrap(recv, max_length), name)(*plain)
    check_size(result, max_length)
    return derive(result, [recv, *args], f"{recv.origin}.{name}()", context=ctx)


def _dict_method(recv: Labelled, name: str, args: list[Labelled], ctx: Context) -> Labelled:
    raw: dict[str, Labelled] = recv.raw
    shape = join(recv.label, *(c.label for c in ctx))
    if name == "get":
        key = index_of(args[0])
        if key in raw:
            return joined(raw[key], [recv, args[0], *ctx])
        return (
            args[1] if len(args) > 1 else derive(None, [recv, args[0]], "dict.get()", context=ctx)
        )
    if name == "keys":
        return Labelled(
            [literal(k, shape, "key") for k in raw], shape, f"{recv.origin}.keys()", (recv,)
        )
    if name == "values":
        return Labelled(list(raw.values()), shape, f"{recv.origin}.values()", (recv,))
    pairs = [Labelled((literal(k, shape, "key"), v), shape, "item") for k, v in raw.items()]
    return Labelled(pairs, shape, f"{recv.origin}.items()", (recv,))


BUILTIN_NAMES = frozenset({*PURE_FUNCTIONS, "enumerate", "list", "range", "zip"})
"""The builtins :func:`call_builtin` knows (``print`` is the interpreter's own)."""


def call_builtin(
    name: str, args: list[Labelled], kwargs: dict[str, Labelled], ctx: Context, limits: Limits
) -> Labelled:
    """Call the builtin ``name``; :class:`KeyError` when there is none by that name."""
    if name == "range":
        bounds = [index_of(a) for a in args]
        if not 1 <= len(bounds) <= 3 or not all(isinstance(b, int) for b in bounds):
            raise TypeError("range() takes one to three integers")
        numbers = range(*bounds)
        if len(numbers) > limits.max_iterations:
            raise ExecutionLimit(f"range of {len(numbers)} exceeds {limits.max_iterations}")
        return derive(list(numbers), args, "range()", context=ctx)
    structural = _structural(name, args, ctx)
    if structural is not None:
        return structural
    fn = PURE_FUNCTIONS[name]
    limit = limits.max_length
    result = fn(
        *(unwrap(a, limit) for a in args), **{k: unwrap(v, limit) for k, v in kwargs.items()}
    )
    check_size(result, limits.max_length)
    return derive(result, [*args, *kwargs.values()], f"{name}()", context=ctx)


def subscript(container: Labelled, key: Labelled, ctx: Context) -> Labelled:
    """``container[key]``: the element keeps its label, joined with container's and key's."""
    k = index_of(key)
    origin = f"{container.origin}[{k!r}]"
    if isinstance(container.raw, str):
        return derive(container.raw[k], [container, key], origin, context=ctx)
    if isinstance(container.raw, list | tuple | dict):
        return joined(container.raw[k], [container, key, *ctx], origin)
    raise TypeError(f"{type(container.raw).__name__} values cannot be indexed")


def slice_of(container: Labelled, bounds: list[Labelled], ctx: Context) -> Labelled:
    """``container[a:b:c]`` of a list, tuple or string."""
    part = slice(*(index_of(b) for b in bounds))
    origin = f"{container.origin}[slice]"
    if isinstance(container.raw, list | tuple):
        label = join(container.label, *(b.label for b in bounds), *(c.label for c in ctx))
        return Labelled(container.raw[part], label, origin, (container, *bounds))
    if isinstance(container.raw, str):
        return derive(container.raw[part], [container, *bounds], origin, context=ctx)
    raise TypeError(f"{type(container.raw).__name__} values cannot be sliced")


def format_piece(piece: ast.FormattedValue, value: Labelled, max_length: int) -> str:
    """The text of one ``{value!conv:spec}`` of an f-string (the spec is a constant)."""
    spec = piece.format_spec
    fmt = ""
    if isinstance(spec, ast.JoinedStr):
        fmt = "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant))
    plain = unwrap(value, max_length)
    plain = repr(plain) if piece.conversion == ord("r") else plain
    return format(plain, fmt) if fmt else str(plain)


def list_binop(
    op: ast.operator, left: Labelled, right: Labelled, ctx: Context, limit: int
) -> Labelled:
    """``list + list`` and ``list * n``: the elements keep their labels (shared, not copied)."""
    if isinstance(op, ast.Add) and isinstance(right.raw, list):
        items = [*left.raw, *right.raw]
    elif (
        isinstance(op, ast.Mult) and isinstance(right.raw, int) and not isinstance(right.raw, bool)
    ):
        if len(left.raw) * right.raw > limit:
            raise ExecutionLimit(f"a value exceeds the size limit of {limit}")
        items = left.raw * right.raw
    else:
        raise TypeError(f"unsupported list operation with {type(right.raw).__name__}")
    label = join(left.label, right.label, *(c.label for c in ctx))
    return Labelled(items, label, f"list {type(op).__name__.lower()}", (left, right, *ctx))
