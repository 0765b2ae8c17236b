"""Tool-policy rules: data-flow conditions a tool call must meet, as plain callables.

A policy is any callable ``(ToolCall) -> Decision``. The rules here cover the
conditions CaMeL's security policies express (Debenedetti et al., 2025, "Defeating
Prompt Injections by Design", section 5.4):

- :class:`Sources`: the named arguments (and the call's control context) may depend
  only on the allowed sources, for example "a payment's IBAN and amount come from the
  user" (``Sources(("recipient", "amount"), allowed=("user",))``).
- :class:`ReadableBy`: every principal named by one argument (the e-mail's recipients)
  must be a reader of the data in the others (subject, body, attachments).
- :class:`AnyOf` / :class:`AllOf` combine rules; :class:`Allow` / :class:`Deny` end them.

A denial carries the offending data-flow path from :func:`~trainguard.policy.values.flow_path`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainguard.core.errors import ConfigError
from trainguard.policy.labels import Label, Source
from trainguard.policy.tools import ToolCall
from trainguard.policy.values import Labelled, deep_label, flow_path, unwrap


@dataclass(frozen=True)
class Decision:
    """The verdict on one call: allowed or not, the rule that decided, why, and the path."""

    allowed: bool
    rule: str
    reason: str = ""
    argument: str | None = None
    path: tuple[str, ...] = ()


Policy = Callable[[ToolCall], Decision]
"""A tool policy: a function of the labelled call."""
ConfirmFn = Callable[[ToolCall, Decision], bool]
"""Asked when a policy denies a call; returning ``True`` lets the call run."""

_SOURCE_SPECS = ("trusted", "user", "system", "tool", "document")


def _source_matcher(spec: str) -> Callable[[Source], bool]:
    kind, _, name = spec.partition(":")
    if kind not in _SOURCE_SPECS or (name and kind not in ("tool", "document")):
        raise ConfigError(
            f"unknown source {spec!r}; expected one of {', '.join(_SOURCE_SPECS)}, "
            "tool:NAME or document:NAME"
        )
    if kind == "trusted":
        return lambda s: s.trusted
    return lambda s: s.kind == kind and (not name or s.name == name)


def _violation(
    call: ToolCall,
    rule: str,
    argument: str,
    value: Labelled,
    bad: Callable[[Label], bool],
    why: str,
) -> Decision:
    where = (
        "the call itself (control dependence)"
        if argument == "<control>"
        else (f"argument '{argument}'")
    )
    path = (*flow_path(value, bad), f"{where} of {call.name}")
    return Decision(False, rule, f"{where} of {call.name} {why}", argument, path)


@dataclass(frozen=True)
class Sources:
    """Allow only when the named arguments depend on allowed sources alone.

    ``args`` may be ``("*",)`` for every argument. ``allowed`` entries are ``trusted``
    (any trusted source), ``user``, ``system``, ``tool``, ``document``, ``tool:NAME`` or
    ``document:NAME``. With ``control`` the conditions the call is nested under must
    satisfy the same rule.
    """

    args: tuple[str, ...]
    allowed: tuple[str, ...] = ("trusted",)
    control: bool = True

    def __post_init__(self) -> None:
        for spec in self.allowed:
            _source_matcher(spec)

    def __str__(self) -> str:
        return f"sources({', '.join(self.args)} <- {', '.join(self.allowed)})"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        matchers = [_source_matcher(s) for s in self.allowed]

        def bad(label: Label) -> bool:
            return any(not any(m(s) for m in matchers) for s in label.sources)

        names = list(call.args) if "*" in self.args else [a for a in self.args if a in call.args]
        checks = [(a, call.args[a]) for a in names]
        if self.control:
            checks += [("<control>", c) for c in call.context]
        for name, value in checks:
            label = deep_label(value)
            if bad(label):
                offending = ", ".join(
                    str(s) for s in sorted(label.sources) if not any(m(s) for m in matchers)
                )
                why = f"depends on {offending}; allowed: {', '.join(self.allowed)}"
                return _violation(call, str(self), name, value, bad, why)
        return Decision(True, str(self))


def rule_name(policy: Policy) -> str:
    """How a policy is named in decisions: its ``str`` for rules, the name of a function."""
    name = getattr(policy, "__name__", None)
    return name if isinstance(name, str) else str(policy)


def trusted(*args: str, control: bool = True) -> Sources:
    """The named arguments may depend only on trusted sources."""
    return Sources(tuple(args), ("trusted",), control)


def _principals(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return [str(x).lower() for x in items if x is not None]


@dataclass(frozen=True)
class ReadableBy:
    """Allow only when every principal in ``principals`` may read each ``data`` argument."""

    principals: str
    data: tuple[str, ...]
    control: bool = True

    def __str__(self) -> str:
        return f"readable_by({self.principals} -> {', '.join(self.data)})"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        if self.principals not in call.args:
            return Decision(True, str(self))
        who = _principals(unwrap(call.args[self.principals]))

        def bad(label: Label) -> bool:
            return not label.readers.allows(who)

        checks = [(a, call.args[a]) for a in self.data if a in call.args]
        if self.control:
            checks += [("<control>", c) for c in call.context]
        for name, value in checks:
            readers = deep_label(value).readers
            if not readers.allows(who):
                missing = sorted(set(who) - readers.principals)
                why = f"may not be read by {', '.join(missing)} (readers {readers})"
                return _violation(call, str(self), name, value, bad, why)
        return Decision(True, str(self))


@dataclass(frozen=True)
class AnyOf:
    """Allow when one of the rules allows; otherwise deny with every rule's reason."""

    rules: tuple[Policy, ...]

    def __str__(self) -> str:
        return "any_of(" + ", ".join(map(rule_name, self.rules)) + ")"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        denials = []
        for rule in self.rules:
            d = rule(call)
            if d.allowed:
                return d
            denials.append(d)
        first = denials[0] if denials else Decision(False, str(self))
        reason = " and ".join(d.reason for d in denials)
        return Decision(False, str(self), reason, first.argument, first.path)


@dataclass(frozen=True)
class AllOf:
    """Allow when every rule allows; the first denial decides."""

    rules: tuple[Policy, ...]

    def __str__(self) -> str:
        return "all_of(" + ", ".join(map(rule_name, self.rules)) + ")"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        for rule in self.rules:
            d = rule(call)
            if not d.allowed:
                return d
        return Decision(True, str(self))


@dataclass(frozen=True)
class Allow:
    """Always allow (a side-effecting tool that cannot leak or act for an attacker)."""

    def __str__(self) -> str:
        return "allow"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        return Decision(True, "allow")


@dataclass(frozen=True)
class Deny:
    """Always deny."""

    reason: str = "denied by policy"

    def __str__(self) -> str:
        return "deny"

    def __call__(self, call: ToolCall) -> Decision:
        """Judge ``call``."""
        return Decision(False, "deny", f"{call.name}: {self.reason}")


def rule_arguments(policy: Policy) -> set[str]:
    """The argument names a (declarative) policy mentions."""
    if isinstance(policy, Sources):
        return set(policy.args) - {"*"}
    if isinstance(policy, ReadableBy):
        return {policy.principals, *policy.data}
    if isinstance(policy, AnyOf | AllOf):
        return set().union(*(rule_arguments(r) for r in policy.rules))
    return set()
