"""Runtime text guards: normalisation, toxicity, PII, prompt injection, fact-checking.

The entry point is :class:`Guard` with a :class:`Policy`::

    from trainguard.guard import Guard, Policy
    result = Guard(Policy()).check("some text", direction="input")
"""

from trainguard.guard.guard import Guard
from trainguard.guard.keywords import KeywordEntry, KeywordHit, KeywordMatcher, load_keyword_file
from trainguard.guard.normalize import Normalized, normalize
from trainguard.guard.pii import PII_TYPES, PiiMatch, find_pii
from trainguard.guard.policy import Policy
from trainguard.guard.result import CheckResult, Decision, GuardResult, Span

__all__ = [
    "PII_TYPES",
    "CheckResult",
    "Decision",
    "Guard",
    "GuardResult",
    "KeywordEntry",
    "KeywordHit",
    "KeywordMatcher",
    "Normalized",
    "PiiMatch",
    "Policy",
    "Span",
    "find_pii",
    "load_keyword_file",
    "normalize",
]
