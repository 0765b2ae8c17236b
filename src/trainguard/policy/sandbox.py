"""The syntax half of the restricted interpreter: what a plan may contain, and its bounds.

:func:`parse_plan` parses a plan and rejects, before anything runs, every construct
outside the subset: imports, ``while`` loops (unbounded), function, lambda and class
definitions, comprehensions, ``break``/``continue``, ``try``/``with``/``raise``,
attribute access other than an allowed method call, and any name or attribute that
starts with ``_`` (no dunder escapes such as ``().__class__.__mro__``). :class:`Limits`
bounds what a run may spend.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainguard.policy.errors import PlanRejected

BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Pass, ast.Name,
    ast.Load, ast.Store, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Attribute, ast.Subscript,
    ast.Slice, ast.JoinedStr, ast.FormattedValue, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    *BINOPS, *CMPOPS,
)  # fmt: skip
_REJECTED: dict[tuple[type[ast.AST], ...], str] = {
    (ast.Import, ast.ImportFrom): "imports are not allowed",
    (
        ast.While,
    ): "while loops are not allowed (they may never end); use for over a list or range()",
    (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef): (
        "defining functions, lambdas or classes is not allowed"
    ),
    (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp): (
        "comprehensions are not supported; use a for loop"
    ),
    (ast.Break, ast.Continue): "break and continue are not supported; guard the loop body with if",
}


@dataclass(frozen=True)
class Limits:
    """Bounds on one plan run.

    Parameters
    ----------
    max_steps
        Statements plus expressions evaluated.
    max_iterations
        Loop iterations, all loops together (also the largest ``range``).
    max_seconds
        Wall-clock time.
    max_length
        Characters of a string, items of a list or dict.
    max_code_chars
        Length of the plan's source.
    """

    max_steps: int = 200_000
    max_iterations: int = 10_000
    max_seconds: float = 5.0
    max_length: int = 1_000_000
    max_code_chars: int = 50_000


def _reject(line: int, message: str) -> PlanRejected:
    return PlanRejected(f"line {line}: {message}")


def parse_plan(code: str, limits: Limits = Limits()) -> ast.Module:
    """Parse ``code`` and check it stays inside the restricted subset.

    Raises
    ------
    PlanRejected
        For a syntax error or any construct outside the subset, naming the line.
    """
    if len(code) > limits.max_code_chars:
        raise PlanRejected(f"plan of {len(code)} characters exceeds {limits.max_code_chars}")
    try:
        tree = ast.parse(code, mode="exec")
    except SyntaxError as exc:
        raise PlanRejected(f"line {exc.lineno}: syntax error ({exc.msg})") from None
    methods = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, line = stack.pop()
        line = getattr(node, "lineno", line)
        _check_node(node, methods, line)
        stack.extend((child, line) for child in ast.iter_child_nodes(node))
    return tree


def _check_node(node: ast.AST, methods: set[int], line: int) -> None:
    for kinds, message in _REJECTED.items():
        if isinstance(node, kinds):
            raise _reject(line, message)
    if not isinstance(node, _ALLOWED_NODES):
        raise _reject(line, f"{type(node).__name__} is not allowed in a plan")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise _reject(line, f"names starting with '_' are not allowed ({node.id!r})")
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise _reject(line, f"access to attribute {node.attr!r} is not allowed")
        if id(node) not in methods:
            raise _reject(
                line,
                f"attribute access ('.{node.attr}') is allowed only to call a method; use x['key']",
            )
    if isinstance(node, ast.Constant) and not isinstance(
        node.value, str | int | float | bool | type(None)
    ):
        raise _reject(line, f"constants of type {type(node.value).__name__} are not allowed")
    if isinstance(node, ast.For) and node.orelse:
        raise _reject(line, "for ... else is not supported")
    if isinstance(node, ast.keyword) and node.arg is None:
        raise _reject(line, "**kwargs is not allowed")
    if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name | ast.Attribute):
        raise _reject(line, "only named functions and methods can be called")
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        if not (
            isinstance(spec, ast.JoinedStr)
            and all(isinstance(v, ast.Constant) for v in spec.values)
        ):
            raise _reject(line, "format specs must be constants")
