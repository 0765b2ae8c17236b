"""Errors of the policy layer, all below :class:`~trainguard.core.errors.PolicyViolation`.

::

    PolicyViolation (trainguard.core.errors)
    ├── FlowViolation      a tool call's arguments carry data from a forbidden source or to a
    │                      forbidden reader; carries the offending data-flow path
    ├── PlanRejected       the plan uses syntax outside the restricted subset (imports, dunders,
    │                      while loops, function definitions) or the planner got untrusted text
    └── ExecutionLimit     the plan ran past its step, loop, size or time budget

    PlanError (TrainguardError)  the plan failed at run time (unknown name, bad index, tool error)
"""

from __future__ import annotations

from trainguard.core.errors import PolicyViolation, TrainguardError


class FlowViolation(PolicyViolation):
    """A tool call was denied because of where its arguments' data came from or may go.

    Attributes
    ----------
    tool
        The tool that was called.
    argument
        The argument whose data flow broke the rule (``"<control>"`` for a control
        dependence of the call itself).
    path
        The data-flow path from the value that introduced the offending source to the
        argument, one step per entry.
    """

    def __init__(self, message: str, *, tool: str, argument: str, path: list[str]) -> None:
        super().__init__(message)
        self.tool = tool
        self.argument = argument
        self.path = path


class PlanRejected(PolicyViolation):
    """The plan (or the planner's input) is outside what the interpreter accepts."""


class ExecutionLimit(PolicyViolation):
    """The plan exceeded a step, loop-iteration, size or wall-clock bound."""


class PlanError(TrainguardError):
    """The plan failed while running: a name, index, key or tool error."""
