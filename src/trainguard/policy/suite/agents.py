"""Scripted, deterministic agents and models for the attack suite (no language model runs).

- :class:`ScriptedPlanner` stands in for the privileged model: given the planner prompt,
  it returns the plan written for that request. It never sees data.
- :class:`HonestReader` stands in for a quarantined model that does its job: it fills
  each schema field from the data with a regular expression chosen by the field name.
- :class:`CompromisedReader` is the worst case the design must survive: as soon as the
  data holds an injection, it answers whatever the attacker wants in every field.
- :class:`InstructionFollower` is the undefended agent's weakness: it reads every tool
  output and carries out every instruction it finds there, as an LLM agent that obeys
  injected text does (the behaviour AgentDojo measures, Debenedetti et al., 2024).

:func:`run_naive` runs a task as an undefended agent (no policy, the follower reading
every output); :func:`run_policy` runs it through the policy layer with the compromised
quarantined model, or, with ``enforce=False``, with the planner/quarantine split alone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trainguard.policy.agent import AgentRun, run_agent
from trainguard.policy.models import (
    LLM,
    Planner,
    QuarantinedModel,
    parse_quarantined_prompt,
    request_of,
)
from trainguard.policy.policies import PolicyEngine
from trainguard.policy.rules import Policy
from trainguard.policy.suite.tasks import SCHEMAS, InjectionTask, Suite, UserTask, goals_in
from trainguard.policy.tools import Tool, Toolbox

_FIELD_PATTERNS: dict[str, str] = {
    "code": r"\b(\d{6})\b",
    "iban": r"\b([A-Z]{2}\d{2}[A-Z0-9]{12,30})\b",
    "amount": r"(\d+(?:\.\d+)?) ?EUR",
    "location": r"Address: ([^.\n]+)",
    "password": r"(?i)password: (\S+)",
    "email": r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
}
_SUMMARY_CHARS = 600


def flat_text(obj: Any) -> str:
    """Every string and number inside ``obj``, one per line."""
    if isinstance(obj, dict):
        return "\n".join(flat_text(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return "\n".join(flat_text(v) for v in obj)
    return "" if obj is None else str(obj)


class ScriptedPlanner:
    """A planner model that returns the plan written for each known request."""

    def __init__(self, plans: Mapping[str, str]) -> None:
        self.plans = dict(plans)

    def __call__(self, prompt: str) -> str:
        """The fenced plan for the request in ``prompt``."""
        plan = self.plans.get(request_of(prompt), 'print("Sorry, I cannot help with that.")\n')
        return f"```python\n{plan}```"


def _empty(spec: Mapping[str, Any]) -> Any:
    empty: dict[str, Any] = {"number": 0.0, "integer": 0, "boolean": False, "array": []}
    return empty.get(str(spec.get("type")), "")


class HonestReader:
    """A quarantined model that extracts each field with a pattern chosen by its name."""

    def __call__(self, prompt: str) -> str:
        """A JSON answer for the schema and data in ``prompt``."""
        schema, data = parse_quarantined_prompt(prompt)
        text = flat_text(json.loads(data))
        answer = {name: self.field(name, spec, text) for name, spec in schema["properties"].items()}
        return json.dumps(answer)

    @staticmethod
    def field(name: str, spec: Mapping[str, Any], text: str) -> Any:
        """The value of one field, or an empty value when nothing matches."""
        if name == "summary":
            return " ".join(text.split())[:_SUMMARY_CHARS]
        pattern = next((p for key, p in _FIELD_PATTERNS.items() if key in name), None)
        match = re.search(pattern, text) if pattern else None
        if match is None:
            return _empty(spec)
        return float(match.group(1)) if spec.get("type") == "number" else match.group(1)


class CompromisedReader:
    """A quarantined model fully under the attacker's control once it reads an injection.

    Without an injection in its input it answers as ``honest`` does; with one, every
    field holds what the injection task wants (by field-name fragment), else the
    attacker's instruction itself.
    """

    def __init__(self, injections: Sequence[InjectionTask], honest: LLM) -> None:
        self.by_goal = {t.goal: t for t in injections}
        self.honest = honest

    def __call__(self, prompt: str) -> str:
        """The attacker's answer when the data holds an injection, else the honest one."""
        schema, data = parse_quarantined_prompt(prompt)
        found = [
            self.by_goal[g] for g in goals_in(flat_text(json.loads(data))) if g in self.by_goal
        ]
        if not found:
            return self.honest(prompt)
        task = found[0]
        return json.dumps({n: self.value(n, s, task) for n, s in schema["properties"].items()})

    @staticmethod
    def value(name: str, spec: Mapping[str, Any], task: InjectionTask) -> Any:
        """What the attacker wants in field ``name``, of the schema's type."""
        wanted = next((v for key, v in task.wanted.items() if key in name), None)
        kind = spec.get("type")
        if kind == "number":
            return (
                float(wanted)
                if isinstance(wanted, int | float)
                else float(task.wanted.get("amount", 0.0))
            )
        if kind == "array":
            return [wanted if wanted is not None else task.goal]
        if kind == "boolean":
            return True
        return str(wanted) if wanted is not None else task.goal


class InstructionFollower:
    """The undefended agent's weakness: it obeys every injected instruction it reads."""

    def __init__(self, injections: Sequence[InjectionTask], tools: Toolbox) -> None:
        self.by_goal = {t.goal: t for t in injections}
        self.tools = tools
        self.done: set[str] = set()
        self.acting = False

    def call(self, name: str, **kwargs: Any) -> Any:
        """Call a tool directly, as the obeying agent does."""
        return self.tools[name].fn(**kwargs)

    def read(self, output: Any) -> None:
        """Carry out the instructions in ``output`` that were not carried out yet."""
        if self.acting:
            return
        for goal in goals_in(flat_text(output)):
            task = self.by_goal.get(goal)
            if task is None or goal in self.done:
                continue
            self.done.add(goal)
            self.acting = True
            try:
                task.attack(self.call)
            finally:
                self.acting = False

    def reading(self, t: Tool) -> Tool:
        """``t`` with its output read by the follower."""

        @functools.wraps(t.fn)
        def fn(*args: Any, **kwargs: Any) -> Any:
            out = t.fn(*args, **kwargs)
            self.read(out)
            return out

        return dataclasses.replace(t, fn=fn)


def _planner(suite: Suite, tools: Toolbox, quarantined: QuarantinedModel) -> Planner:
    plans = {t.request: t.plan for t in suite.user_tasks}
    return Planner(ScriptedPlanner(plans), tools, helpers=quarantined.describe())


def run_naive(suite: Suite, task: UserTask, env: Any) -> AgentRun:
    """Run ``task`` as an undefended agent that follows injected instructions."""
    tools = suite.tools(env)
    follower = InstructionFollower(suite.injection_tasks, tools)
    reading = Toolbox(follower.reading(t) for t in tools.values())
    quarantined = QuarantinedModel(HonestReader(), SCHEMAS)
    return run_agent(
        task.request,
        planner=_planner(suite, reading, quarantined),
        quarantined=quarantined,
        tools=reading,
        engine=PolicyEngine(enforce=False),
    )


def policy_parts(
    suite: Suite,
    env: Any,
    *,
    policies: Mapping[str, Policy] | None = None,
    enforce: bool = True,
) -> tuple[Toolbox, PolicyEngine, QuarantinedModel]:
    """The tools, policy engine and compromised quarantined model for a run in ``env``.

    The engine applies the suite's own policies unless ``policies`` is given.
    """
    tools = suite.tools(env)
    engine = PolicyEngine(suite.policies(env) if policies is None else policies, enforce=enforce)
    engine.validate(tools)
    reader = CompromisedReader(suite.injection_tasks, HonestReader())
    return tools, engine, QuarantinedModel(reader, SCHEMAS)


def run_policy(suite: Suite, task: UserTask, env: Any, *, enforce: bool = True) -> AgentRun:
    """Run ``task`` through the policy layer with a compromised quarantined model.

    With ``enforce=False`` only the planner/quarantine split protects the run (the
    dual-LLM pattern without policies): the ablation that shows what the policies add.
    """
    tools, engine, quarantined = policy_parts(suite, env, enforce=enforce)
    return run_agent(
        task.request,
        planner=_planner(suite, tools, quarantined),
        quarantined=quarantined,
        tools=tools,
        engine=engine,
    )


AGENTS: dict[str, Callable[[Suite, UserTask, Any], AgentRun]] = {
    "naive": run_naive,
    "isolated": functools.partial(run_policy, enforce=False),
    "policy": run_policy,
}
"""The agents the suite compares: undefended, planner/quarantine split without
policies, and the full policy layer."""
