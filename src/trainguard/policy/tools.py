"""Tools a plan may call, how their output is labelled, and the call the policy judges.

A tool's output is labelled with the tool as its source (trusted only when the tool is
declared ``trusted_output``), joined with the labels of the arguments it was called
with and of the control context of the call. A ``labeller`` refines this per record
(each e-mail, file or event gets its own source and readers), as CaMeL's tool
annotations do (Debenedetti et al., 2025, section 5.3).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainguard.core.errors import ConfigError
from trainguard.policy.labels import EMPTY, PUBLIC, SYSTEM, Label, Readers, join, tool_source
from trainguard.policy.values import Labelled, deep_label, link, literal, unwrap, wrap

Labeller = Callable[[Any], Label | None]
"""Maps one raw record a tool returned to its own label (its source and readers, in place
of the tool's), or ``None`` to keep the tool's label. Applied to each element of a list
result, or to the whole result otherwise."""


@dataclass(frozen=True)
class Tool:
    """A function a plan may call.

    Parameters
    ----------
    name
        The name plans use.
    fn
        The implementation; it receives and returns plain Python values.
    side_effect
        Whether the tool changes state (sends, writes, pays, deletes). Side-effecting
        tools without a policy are denied.
    trusted_output
        Whether the output may steer actions (the user's own IBAN, today's date).
    readers
        Who may read the output unless the labeller says otherwise.
    labeller
        Per-record labels for the output (see :data:`Labeller`).
    """

    name: str
    fn: Callable[..., Any]
    side_effect: bool
    trusted_output: bool = False
    readers: Readers = PUBLIC
    labeller: Labeller | None = None
    signature: inspect.Signature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature", inspect.signature(self.fn))

    @property
    def description(self) -> str:
        """The first line of the implementation's docstring."""
        doc = inspect.getdoc(self.fn) or ""
        return doc.splitlines()[0] if doc else ""

    def describe(self) -> str:
        """``name(params) -- description``: one line for the planner's prompt."""
        params = str(self.signature).split(" -> ")[0]
        kind = " [side effect]" if self.side_effect else ""
        return f"{self.name}{params}{kind} -- {self.description}"


def tool(
    *,
    side_effect: bool,
    trusted_output: bool = False,
    readers: Readers = PUBLIC,
    labeller: Labeller | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., Any]], Tool]:
    """Decorator that turns a function into a :class:`Tool`."""

    def deco(fn: Callable[..., Any]) -> Tool:
        return Tool(
            name or fn.__name__,
            fn,
            side_effect=side_effect,
            trusted_output=trusted_output,
            readers=readers,
            labeller=labeller,
        )

    return deco


class Toolbox(Mapping[str, Tool]):
    """The tools available to one agent, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise ConfigError(f"tool {t.name!r} is defined twice")
            self._tools[t.name] = t

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def describe(self) -> str:
        """One line per tool, for the planner's prompt."""
        return "\n".join(self._tools[n].describe() for n in sorted(self._tools))


@dataclass(frozen=True)
class ToolCall:
    """A call a plan is about to make: the tool, its labelled arguments, its control context.

    ``context`` holds the conditions (``if`` tests, loop iterables) the call is nested
    under; a call inside a branch that depends on untrusted data is itself untrusted.
    """

    tool: Tool
    args: Mapping[str, Labelled]
    context: tuple[Labelled, ...] = ()

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.tool.name

    def context_label(self) -> Label:
        """The join of the control context's labels."""
        return join(EMPTY, *(c.label for c in self.context))

    def raw_args(self) -> dict[str, Any]:
        """The arguments as plain Python values."""
        return {k: unwrap(v) for k, v in self.args.items()}


def bind_call(
    t: Tool,
    args: list[Labelled],
    kwargs: dict[str, Labelled],
    context: tuple[Labelled, ...] = (),
) -> ToolCall:
    """Bind plan arguments to the tool's parameters (defaults labelled as system values)."""
    try:
        bound = t.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad arguments for tool {t.name}: {exc}") from None
    named: dict[str, Labelled] = dict(bound.arguments)
    for pname, param in t.signature.parameters.items():
        if pname not in named and param.default is not inspect.Parameter.empty:
            named[pname] = literal(param.default, Label(frozenset({SYSTEM})), "default")
    return ToolCall(t, named, context)


def run_tool(call: ToolCall) -> Labelled:
    """Call the tool on the unwrapped arguments and label its output.

    The output's label joins the tool's own source and readers with the arguments' deep
    labels and the control context. With a labeller, each record's own label replaces
    the tool's (a list then carries the join of its records' labels, since which records
    it holds depends on all of them).
    """
    t = call.tool
    raw = t.fn(**call.raw_args())
    own = Label(frozenset({tool_source(t.name, trusted=t.trusted_output)}), t.readers)
    inputs = join(EMPTY, *(deep_label(v) for v in call.args.values()), call.context_label())
    origin = f"{t.name}()"
    if t.labeller is None:
        out = wrap(raw, join(own, inputs), origin)
    elif isinstance(raw, list):
        items = [
            _label_record(x, own, inputs, t.labeller, f"{origin}[{i}]") for i, x in enumerate(raw)
        ]
        out = Labelled(items, join(inputs, *(x.label for x in items)), origin)
    else:
        out = _label_record(raw, own, inputs, t.labeller, origin)
    return link(out, (*call.args.values(), *call.context))


def _label_record(raw: Any, own: Label, inputs: Label, labeller: Labeller, origin: str) -> Labelled:
    record = labeller(raw)
    return wrap(raw, join(own if record is None else record, inputs), origin)
