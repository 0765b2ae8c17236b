"""A restricted interpreter for plans: a small Python subset that propagates labels.

The planner writes a plan as Python source; this interpreter walks its AST (never
``exec``) so that every value carries a :class:`~trainguard.policy.labels.Label` and
every tool call passes the :class:`~trainguard.policy.policies.PolicyEngine` first, as
in CaMeL's interpreter (Debenedetti et al., 2025, "Defeating Prompt Injections by
Design", section 5).

The accepted subset and the run bounds are in :mod:`trainguard.policy.sandbox`; the
builtins and methods, with their label rules, in :mod:`trainguard.policy.builtins`.

Control flow taints: the conditions of the enclosing ``if``/``for`` form the *control
context*; every value computed or assigned under it joins its labels, and every tool
call made under it carries it to the policy.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainguard.core.errors import ConfigError, TrainguardError
from trainguard.policy.builtins import (
    BUILTIN_NAMES,
    call_builtin,
    call_method,
    check_size,
    elements,
    format_piece,
    index_of,
    list_binop,
    slice_of,
    subscript,
)
from trainguard.policy.errors import ExecutionLimit, PlanError
from trainguard.policy.labels import USER_LABEL, Label, join
from trainguard.policy.policies import PolicyEngine
from trainguard.policy.sandbox import BINOPS, CMPOPS, Limits, parse_plan
from trainguard.policy.tools import Toolbox, bind_call, run_tool
from trainguard.policy.values import (
    Labelled,
    deep_label,
    derive,
    joined,
    literal,
    structure_label,
    unwrap,
)

Helper = Callable[[list[Labelled], dict[str, Labelled], tuple[Labelled, ...]], Labelled]
"""A function plans may call with labelled arguments and the control context (for
example the quarantined model's ``extract``)."""


@dataclass
class ExecutionResult:
    """What a plan run produced: its printed output and its final variables."""

    output: list[Labelled] = field(default_factory=list)
    variables: dict[str, Labelled] = field(default_factory=dict)
    steps: int = 0
    iterations: int = 0

    @property
    def text(self) -> str:
        """The printed output as one string, one line per ``print``."""
        return "\n".join(str(unwrap(o)) for o in self.output)


class Interpreter:
    """Runs plans against a toolbox under a policy engine.

    Parameters
    ----------
    tools
        The tools plans may call.
    engine
        Judges every tool call; by default an engine with no policies (read-only tools
        allowed, side-effecting tools denied).
    helpers
        Extra functions plans may call (``extract`` from the quarantined model).
    limits
        Step, loop, size and time bounds.
    """

    def __init__(
        self,
        tools: Toolbox,
        engine: PolicyEngine | None = None,
        *,
        helpers: Mapping[str, Helper] | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.tools = tools
        self.engine = engine if engine is not None else PolicyEngine()
        self.helpers = dict(helpers or {})
        self.limits = limits

    def run(self, code: str, variables: Mapping[str, Labelled] | None = None) -> ExecutionResult:
        """Check and run ``code``; return its output and variables.

        Raises
        ------
        PlanRejected
            The code is outside the subset (nothing ran).
        FlowViolation
            A tool call was denied (the run stopped before that call).
        ExecutionLimit
            A bound was exceeded.
        PlanError
            The plan failed at run time.
        """
        tree = parse_plan(code, self.limits)
        run = _Run(self, dict(variables or {}))
        try:
            run.block(tree.body)
        except RecursionError:
            raise ExecutionLimit(f"line {run.line}: values nest too deeply") from None
        return ExecutionResult(run.output, run.variables, run.steps, run.iterations)


class _Run:
    """The state of one plan run: variables, control context, counters, output."""

    def __init__(self, interp: Interpreter, variables: dict[str, Labelled]) -> None:
        self.interp = interp
        self.limits = interp.limits
        self.variables = variables
        self.pc: list[Labelled] = []
        self.output: list[Labelled] = []
        self.steps = 0
        self.iterations = 0
        self.deadline = time.monotonic() + self.limits.max_seconds
        self.line = 0

    # --- bookkeeping -------------------------------------------------------------------
    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        self.line = getattr(node, "lineno", self.line)
        if self.steps > self.limits.max_steps:
            raise ExecutionLimit(f"line {self.line}: plan exceeded {self.limits.max_steps} steps")
        if time.monotonic() > self.deadline:
            raise ExecutionLimit(f"line {self.line}: plan exceeded {self.limits.max_seconds} s")

    def plain(self, value: Labelled) -> Any:
        """``value`` unwrapped, within the size limit."""
        return unwrap(value, self.limits.max_length)

    def fail(self, message: str) -> PlanError:
        return PlanError(f"line {self.line}: {message}")

    @property
    def ctx(self) -> tuple[Labelled, ...]:
        return tuple(self.pc)

    def under_pc(self, *labels: Label) -> Label:
        """``labels`` joined with the control context's labels."""
        return join(*labels, *(c.label for c in self.pc))

    def truth(self, value: Labelled, what: str) -> Labelled:
        """A boolean marker for a condition, labelled by what its truth depends on."""
        shape = structure_label(value) if value.children() else deep_label(value)
        return Labelled(
            bool(value.raw),
            self.under_pc(shape),
            f"{what} (line {self.line})",
            (value, *self.pc),
        )

    # --- statements --------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.statement(stmt)

    def statement(self, node: ast.stmt) -> None:
        self.tick(node)
        if isinstance(node, ast.Expr):
            self.eval(node.value)
        elif isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            target = (
                ast.Name(node.target.id, ast.Load())
                if isinstance(node.target, ast.Name)
                else node.target
            )
            self.assign(node.target, self.binop(node.op, self.eval(target), self.eval(node.value)))
        elif isinstance(node, ast.If):
            self.pc.append(self.truth(self.eval(node.test), "if condition"))
            try:
                self.block(node.body if self.pc[-1].raw else node.orelse)
            finally:
                self.pc.pop()
        elif isinstance(node, ast.For):
            self.loop(node)

    def loop(self, node: ast.For) -> None:
        iterable = self.eval(node.iter)
        try:
            items = elements(iterable)
        except TypeError as exc:
            raise self.fail(str(exc)) from None
        shape = self.under_pc(structure_label(iterable))
        self.pc.append(Labelled(len(items), shape, f"loop (line {node.lineno})", (iterable,)))
        try:
            for item in items:
                self.iterations += 1
                if self.iterations > self.limits.max_iterations:
                    raise ExecutionLimit(
                        f"line {node.lineno}: plan exceeded {self.limits.max_iterations} loop iterations"
                    )
                self.assign(node.target, item)
                self.block(node.body)
        finally:
            self.pc.pop()

    def assign(self, target: ast.expr, value: Labelled) -> None:
        value = joined(value, self.ctx)
        if isinstance(target, ast.Name):
            self.variables[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            parts = value.raw if isinstance(value.raw, list | tuple) else None
            if parts is None or len(parts) != len(target.elts):
                raise self.fail(f"cannot unpack into {len(target.elts)} names")
            for t, part in zip(target.elts, parts, strict=True):
                self.assign(t, joined(part, [value]))
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            key = self.eval(target.slice)
            try:
                container.raw[index_of(key)] = value
            except (TypeError, IndexError) as exc:
                raise self.fail(f"cannot assign item: {exc}") from None
            container.label = self.under_pc(container.label, key.label)
            check_size(container.raw, self.limits.max_length)
        else:
            raise self.fail(f"cannot assign to {type(target).__name__}")

    # --- expressions -------------------------------------------------------------------
    def eval(self, node: ast.expr) -> Labelled:
        self.tick(node)
        method = getattr(self, f"ev_{type(node).__name__}", None)
        if method is None:  # pragma: no cover - parse_plan rejects every other node
            raise self.fail(f"{type(node).__name__} is not supported")
        result: Labelled = method(node)
        check_size(result.raw, self.limits.max_length)
        return result

    def ev_Constant(self, node: ast.Constant) -> Labelled:
        return literal(node.value, USER_LABEL, f"constant {node.value!r:.40} (line {node.lineno})")

    def ev_Name(self, node: ast.Name) -> Labelled:
        try:
            return self.variables[node.id]
        except KeyError:
            raise self.fail(f"unknown name {node.id!r}") from None

    def ev_List(self, node: ast.List | ast.Tuple) -> Labelled:
        items = [self.eval(e) for e in node.elts]
        raw = items if isinstance(node, ast.List) else tuple(items)
        kind = type(node).__name__.lower()
        return Labelled(raw, self.under_pc(USER_LABEL), f"{kind} (line {node.lineno})", self.ctx)

    ev_Tuple = ev_List

    def ev_Dict(self, node: ast.Dict) -> Labelled:
        keys = [self.eval(k) if k is not None else None for k in node.keys]
        if any(k is None or not isinstance(k.raw, str) for k in keys):
            raise self.fail("dict keys must be strings")
        label = self.under_pc(USER_LABEL, *(k.label for k in keys if k))
        raw = {k.raw: self.eval(v) for k, v in zip(keys, node.values, strict=True) if k}
        return Labelled(raw, label, f"dict (line {node.lineno})", self.ctx)

    def ev_BinOp(self, node: ast.BinOp) -> Labelled:
        return self.binop(node.op, self.eval(node.left), self.eval(node.right))

    def binop(self, op: ast.operator, left: Labelled, right: Labelled) -> Labelled:
        if isinstance(op, ast.Mult) and isinstance(right.raw, list | str):
            left, right = right, left  # n * seq is seq * n
        limit = self.limits.max_length
        try:
            if isinstance(left.raw, list):
                return list_binop(op, left, right, self.ctx, limit)
            a, b = self.plain(left), self.plain(right)
            if isinstance(op, ast.Mult) and isinstance(a, str) and isinstance(b, int):
                check_size(range(len(a) * b), limit)  # the length, before building it
            result = BINOPS[type(op)](a, b)
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise self.fail(str(exc)) from None
        check_size(result, limit)
        op_name = f"{type(op).__name__.lower()} (line {self.line})"
        return derive(result, [left, right], op_name, context=self.ctx)

    def ev_UnaryOp(self, node: ast.UnaryOp) -> Labelled:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            marker = self.truth(value, "not")
            return derive(not marker.raw, [marker], f"not (line {node.lineno})")
        try:
            result = -self.plain(value) if isinstance(node.op, ast.USub) else +self.plain(value)
        except TypeError as exc:
            raise self.fail(str(exc)) from None
        return derive(result, [value], f"sign (line {node.lineno})", context=self.ctx)

    def ev_BoolOp(self, node: ast.BoolOp) -> Labelled:
        is_and = isinstance(node.op, ast.And)
        depth = len(self.pc)
        try:
            for i, operand in enumerate(node.values):
                value = self.eval(operand)
                marker = self.truth(value, "and/or operand")
                if i == len(node.values) - 1 or marker.raw != is_and:
                    return joined(value, self.pc[depth:])
                self.pc.append(marker)
        finally:
            del self.pc[depth:]
        raise AssertionError("unreachable")  # pragma: no cover

    def ev_Compare(self, node: ast.Compare) -> Labelled:
        values = [self.eval(node.left), *(self.eval(c) for c in node.comparators)]
        raw = [self.plain(v) for v in values]
        try:
            result = all(CMPOPS[type(op)](raw[i], raw[i + 1]) for i, op in enumerate(node.ops))
        except TypeError as exc:
            raise self.fail(str(exc)) from None
        return derive(result, values, f"comparison (line {node.lineno})", context=self.ctx)

    def ev_IfExp(self, node: ast.IfExp) -> Labelled:
        marker = self.truth(self.eval(node.test), "conditional expression")
        self.pc.append(marker)
        try:
            return joined(self.eval(node.body if marker.raw else node.orelse), [marker])
        finally:
            self.pc.pop()

    def ev_Subscript(self, node: ast.Subscript) -> Labelled:
        container = self.eval(node.value)
        try:
            if isinstance(node.slice, ast.Slice):
                parts = (node.slice.lower, node.slice.upper, node.slice.step)
                bounds = [literal(None) if b is None else self.eval(b) for b in parts]
                return slice_of(container, bounds, self.ctx)
            return subscript(container, self.eval(node.slice), self.ctx)
        except KeyError as exc:
            raise self.fail(f"key {exc} not found") from None
        except (IndexError, TypeError) as exc:
            raise self.fail(f"cannot index {container.origin}: {exc}") from None

    def ev_JoinedStr(self, node: ast.JoinedStr) -> Labelled:
        parts: list[str] = []
        inputs: list[Labelled] = []
        for piece in node.values:
            if isinstance(piece, ast.FormattedValue):
                inputs.append(self.eval(piece.value))
                try:
                    parts.append(format_piece(piece, inputs[-1], self.limits.max_length))
                except (TypeError, ValueError) as exc:
                    raise self.fail(f"bad format spec: {exc}") from None
            elif isinstance(piece, ast.Constant):
                parts.append(str(piece.value))
        return derive("".join(parts), inputs, f"f-string (line {node.lineno})", context=self.ctx)

    def ev_Call(self, node: ast.Call) -> Labelled:
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        if isinstance(node.func, ast.Attribute):
            recv = self.eval(node.func.value)
            if kwargs:
                raise self.fail("methods take positional arguments only")
            try:
                return call_method(recv, node.func.attr, args, self.ctx, self.limits.max_length)
            except (TypeError, ValueError, IndexError) as exc:
                raise self.fail(str(exc)) from None
        assert isinstance(node.func, ast.Name)
        return self.call_function(node.func.id, args, kwargs)

    def call_function(
        self, name: str, args: list[Labelled], kwargs: dict[str, Labelled]
    ) -> Labelled:
        interp = self.interp
        if name in interp.tools or name in interp.helpers:
            for value in (*args, *kwargs.values()):  # what the callee will unwrap
                self.plain(value)
        if name in interp.tools:
            try:
                call = bind_call(interp.tools[name], args, kwargs, self.ctx)
            except ConfigError as exc:
                raise self.fail(str(exc)) from None
            interp.engine.check(call)
            try:
                return run_tool(call)
            except TrainguardError:
                raise
            except Exception as exc:
                raise self.fail(f"tool {name} failed: {exc}") from None
        if name in interp.helpers:
            try:
                return interp.helpers[name](args, kwargs, self.ctx)
            except ConfigError as exc:
                raise self.fail(f"{name}(): {exc}") from None
        if name == "print":
            text = " ".join(str(self.plain(a)) for a in args)
            self.output.append(derive(text, args, f"print (line {self.line})", context=self.ctx))
            return literal(None)
        try:
            return call_builtin(name, args, kwargs, self.ctx, self.limits)
        except KeyError:
            known = sorted({*interp.tools, *interp.helpers, *BUILTIN_NAMES, "print"})
            raise self.fail(f"unknown function {name!r}; available: {', '.join(known)}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise self.fail(f"{name}(): {exc}") from None
