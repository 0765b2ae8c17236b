"""Tool policies from YAML, and the engine that applies policies to every call.

The rules of :mod:`trainguard.policy.rules` load from YAML with :func:`parse_policies`
or :func:`load_policies`::

    version: 1
    tools:
      send_email:
        any_of:
          - trusted: [recipients]
          - readable_by: {principals: recipients, data: [subject, body, attachments]}
      send_money:
        sources: {args: [recipient, amount], allowed: [user]}
      create_file: allow

:class:`PolicyEngine` denies side-effecting tools that have no policy (default deny),
records every decision in an :class:`~trainguard.policy.audit.AuditLog`, and on a
denial raises :class:`~trainguard.policy.errors.FlowViolation` with the data-flow path,
or asks a confirmation callback (Debenedetti et al., 2025, section 5.4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from trainguard.core.errors import ConfigError
from trainguard.policy.audit import AuditLog, Outcome
from trainguard.policy.errors import FlowViolation
from trainguard.policy.rules import (
    AllOf,
    Allow,
    AnyOf,
    ConfirmFn,
    Decision,
    Deny,
    Policy,
    ReadableBy,
    Sources,
    rule_arguments,
    trusted,
)
from trainguard.policy.tools import Toolbox, ToolCall

_RULE_KEYS = ("allow", "deny", "trusted", "sources", "readable_by", "any_of", "all_of")


def _names(node: Any, where: str) -> tuple[str, ...]:
    items = [node] if isinstance(node, str) else node
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items) or not items:
        raise ConfigError(f"{where}: expected an argument name or a list of names, got {node!r}")
    return tuple(items)


def _mapping(
    node: Any, where: str, required: Sequence[str], optional: Sequence[str]
) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(required)}")
    missing = [k for k in required if k not in node]
    unknown = [k for k in node if k not in (*required, *optional)]
    if missing or unknown:
        raise ConfigError(
            f"{where}: expected keys {', '.join(required)} (optional {', '.join(optional) or 'none'});"
            f" missing {missing or 'none'}, unknown {unknown or 'none'}"
        )
    return node


def parse_rule(node: Any, where: str = "rule") -> Policy:
    """Build a policy from one YAML rule node (see the module docstring for the forms)."""
    if node in ("allow", "deny"):
        return Allow() if node == "allow" else Deny()
    if not isinstance(node, dict) or len(node) != 1:
        raise ConfigError(
            f"{where}: expected 'allow', 'deny' or one of {', '.join(_RULE_KEYS[2:])}"
        )
    key, body = next(iter(node.items()))
    at = f"{where}.{key}"
    if key == "trusted":
        return trusted(*_names(body, at))
    if key == "sources":
        m = _mapping(body, at, ("args", "allowed"), ("control",))
        return Sources(
            _names(m["args"], at), _names(m["allowed"], at), bool(m.get("control", True))
        )
    if key == "readable_by":
        m = _mapping(body, at, ("principals", "data"), ("control",))
        if not isinstance(m["principals"], str):
            raise ConfigError(
                f"{at}.principals: expected one argument name, got {m['principals']!r}"
            )
        return ReadableBy(m["principals"], _names(m["data"], at), bool(m.get("control", True)))
    if key in ("any_of", "all_of"):
        if not isinstance(body, list) or not body:
            raise ConfigError(f"{at}: expected a non-empty list of rules")
        rules = tuple(parse_rule(r, f"{at}[{i}]") for i, r in enumerate(body))
        return AnyOf(rules) if key == "any_of" else AllOf(rules)
    raise ConfigError(f"{where}: unknown rule {key!r}; expected one of {', '.join(_RULE_KEYS)}")


def parse_policies(doc: Any, source: str = "policy") -> dict[str, Policy]:
    """Build ``{tool: policy}`` from a parsed YAML document ``{version: 1, tools: {...}}``."""
    m = _mapping(doc, source, ("version", "tools"), ())
    if m["version"] != 1:
        raise ConfigError(f"{source}: version must be 1, got {m['version']!r}")
    if not isinstance(m["tools"], dict):
        raise ConfigError(f"{source}: tools must be a mapping from tool name to rule")
    return {
        str(name): parse_rule(rule, f"{source}: tools.{name}") for name, rule in m["tools"].items()
    }


def parse_policies_yaml(text: str, source: str = "policy") -> dict[str, Policy]:
    """Build ``{tool: policy}`` from YAML text (see :func:`parse_policies`)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_policies(doc, source)


def load_policies(path: str | Path) -> dict[str, Policy]:
    """Read a YAML policy file (see :func:`parse_policies`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read policy file ({exc.strerror})") from None
    return parse_policies_yaml(text, str(p))


def combine(*maps: Mapping[str, Policy]) -> dict[str, Policy]:
    """Merge policy maps; a tool named in several gets all of its rules (:class:`AllOf`)."""
    out: dict[str, list[Policy]] = {}
    for m in maps:
        for name, pol in m.items():
            out.setdefault(name, []).append(pol)
    return {k: v[0] if len(v) == 1 else AllOf(tuple(v)) for k, v in out.items()}


class PolicyEngine:
    """Applies tool policies to calls, records each decision, denies by default.

    Parameters
    ----------
    policies
        ``{tool name: policy}``. Read-only tools without a policy are allowed;
        side-effecting tools without one are denied.
    confirm
        Asked on a denial; when it returns ``True`` the call runs (outcome
        ``confirmed``). Without it a denial raises :class:`FlowViolation`.
    audit
        Where decisions are recorded (a new log by default).
    enforce
        ``False`` records every call as allowed without checking (the undefended agent).
    """

    def __init__(
        self,
        policies: Mapping[str, Policy] | None = None,
        *,
        confirm: ConfirmFn | None = None,
        audit: AuditLog | None = None,
        enforce: bool = True,
    ) -> None:
        self.policies = dict(policies or {})
        self.confirm = confirm
        self.audit = audit if audit is not None else AuditLog()
        self.enforce = enforce

    def validate(self, tools: Toolbox) -> None:
        """Raise :class:`ConfigError` for a policy naming an unknown tool or argument."""
        for name, pol in self.policies.items():
            if name not in tools:
                raise ConfigError(
                    f"policy for unknown tool {name!r}; tools: {', '.join(sorted(tools))}"
                )
            params = set(tools[name].signature.parameters)
            unknown = rule_arguments(pol) - params
            if unknown:
                raise ConfigError(
                    f"policy for {name} names unknown arguments {sorted(unknown)}; "
                    f"{name} takes {', '.join(sorted(params))}"
                )

    def decide(self, call: ToolCall) -> Decision:
        """The decision for ``call``, without recording or raising."""
        if not self.enforce:
            return Decision(True, "not-enforced")
        policy = self.policies.get(call.name)
        if policy is not None:
            return policy(call)
        if call.tool.side_effect:
            return Decision(False, "default-deny", f"{call.name} has side effects and no policy")
        return Decision(True, "read-only")

    def check(self, call: ToolCall) -> Decision:
        """Decide, record, and raise :class:`FlowViolation` unless allowed or confirmed."""
        d = self.decide(call)
        path = list(d.path)
        if d.allowed:
            self.audit.record(call, "allowed", d.rule, d.reason)
            return d
        if self.confirm is not None and self.confirm(call, d):
            self.audit.record(call, "confirmed", d.rule, d.reason, argument=d.argument, path=path)
            return d
        outcome: Outcome = "declined" if self.confirm is not None else "denied"
        self.audit.record(call, outcome, d.rule, d.reason, argument=d.argument, path=path)
        raise FlowViolation(
            f"{call.name} {outcome}: {d.reason}"
            + (f" (path: {' -> '.join(path)})" if path else ""),
            tool=call.name,
            argument=d.argument or "",
            path=path,
        )
