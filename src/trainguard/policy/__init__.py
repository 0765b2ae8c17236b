"""Trusted/untrusted data-flow control for LLM agents, after CaMeL.

Every value carries a label (its sources and its readers); a privileged planner writes
a plan from the trusted request alone; a restricted interpreter runs it, propagating
labels through data and control flow; a quarantined model turns untrusted data into
schema-checked values that inherit the labels of what it read; tool policies decide
each call from the labels of its arguments, and every decision is an audit event.

Reference: E. Debenedetti, I. Shumailov, T. Fan, J. Hayes, N. Carlini, D. Fabian,
C. Kern, C. Shi, A. Terzis, F. Tramèr, "Defeating Prompt Injections by Design",
arXiv:2503.18813, 2025. The attack suite follows AgentDojo (Debenedetti et al., NeurIPS
2024 Datasets and Benchmarks).
"""

from trainguard.policy.agent import AgentRun, run_agent
from trainguard.policy.audit import AuditEvent, AuditLog
from trainguard.policy.errors import ExecutionLimit, FlowViolation, PlanError, PlanRejected
from trainguard.policy.interpreter import ExecutionResult, Interpreter
from trainguard.policy.labels import (
    PUBLIC,
    SYSTEM,
    USER,
    Label,
    Readers,
    Source,
    document_source,
    join,
    readers,
    tool_source,
)
from trainguard.policy.models import (
    LLM,
    OpenAICompatibleLLM,
    Planner,
    QuarantinedModel,
    trusted_request,
)
from trainguard.policy.policies import (
    PolicyEngine,
    combine,
    load_policies,
    parse_policies,
    parse_policies_yaml,
)
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
    trusted,
)
from trainguard.policy.sandbox import Limits, parse_plan
from trainguard.policy.tools import Tool, Toolbox, ToolCall, tool
from trainguard.policy.values import Labelled, deep_label, flow_path, literal, unwrap, wrap

__all__ = [
    "LLM",
    "PUBLIC",
    "SYSTEM",
    "USER",
    "AgentRun",
    "AllOf",
    "Allow",
    "AnyOf",
    "AuditEvent",
    "AuditLog",
    "ConfirmFn",
    "Decision",
    "Deny",
    "ExecutionLimit",
    "ExecutionResult",
    "FlowViolation",
    "Interpreter",
    "Label",
    "Labelled",
    "Limits",
    "OpenAICompatibleLLM",
    "PlanError",
    "PlanRejected",
    "Planner",
    "Policy",
    "PolicyEngine",
    "QuarantinedModel",
    "ReadableBy",
    "Readers",
    "Source",
    "Sources",
    "Tool",
    "ToolCall",
    "Toolbox",
    "combine",
    "deep_label",
    "document_source",
    "flow_path",
    "join",
    "literal",
    "load_policies",
    "parse_plan",
    "parse_policies",
    "parse_policies_yaml",
    "readers",
    "run_agent",
    "tool",
    "tool_source",
    "trusted",
    "trusted_request",
    "unwrap",
    "wrap",
]
