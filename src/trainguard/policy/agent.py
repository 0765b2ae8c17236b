"""One request through the policy layer: plan from the trusted request, run it under policy.

:func:`run_agent` is the CaMeL loop without retries (Debenedetti et al., 2025, figure
5): the planner sees only the user's request; the interpreter runs the plan, with the
quarantined model as the ``extract`` helper, checking every tool call against the
policies. A denied call stops the run; the error and the audit log say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainguard.core.errors import TrainguardError
from trainguard.policy.audit import AuditLog
from trainguard.policy.interpreter import ExecutionResult, Interpreter
from trainguard.policy.models import Planner, QuarantinedModel
from trainguard.policy.policies import PolicyEngine
from trainguard.policy.sandbox import Limits
from trainguard.policy.tools import Toolbox
from trainguard.policy.values import Labelled


@dataclass
class AgentRun:
    """The outcome of one request: the plan, its result or the error that stopped it."""

    plan: str
    result: ExecutionResult | None
    error: TrainguardError | None
    audit: AuditLog

    @property
    def answer(self) -> str:
        """What the user is shown: the printed output, then why the run stopped."""
        text = self.result.text if self.result is not None else ""
        if self.error is not None:
            text = (text + "\n" if text else "") + f"stopped: {self.error}"
        return text


def run_agent(
    request: str | Labelled,
    *,
    planner: Planner,
    quarantined: QuarantinedModel,
    tools: Toolbox,
    engine: PolicyEngine,
    limits: Limits = Limits(),
) -> AgentRun:
    """Plan ``request`` and run the plan under ``engine``.

    Raises
    ------
    PlanRejected
        When ``request`` carries untrusted data (the planner refuses it).
    """
    plan = planner.plan(request)
    interpreter = Interpreter(tools, engine, helpers={"extract": quarantined.helper}, limits=limits)
    try:
        result = interpreter.run(plan)
    except TrainguardError as exc:
        return AgentRun(plan, None, exc, engine.audit)
    return AgentRun(plan, result, None, engine.audit)
