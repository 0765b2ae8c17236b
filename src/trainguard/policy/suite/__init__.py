"""An AgentDojo-style attack suite for the policy layer.

Simulated workspace and bank tools with in-memory state, user tasks, injection tasks,
scripted agents, and the runner that scores them.
"""

from trainguard.policy.suite.runner import (
    SUITES,
    AgentScore,
    Outcome,
    SuiteReport,
    policy_suite_stage,
    run_suite,
)

__all__ = ["SUITES", "AgentScore", "Outcome", "SuiteReport", "policy_suite_stage", "run_suite"]
