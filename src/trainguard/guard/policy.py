"""Guard policies: which checks run on inputs and outputs, with their thresholds (YAML).

Example (the default, ``data/default_policy.yaml``)::

    input:  [toxicity, pii, injection]
    output: [toxicity, pii, factcheck]
    toxicity:
      keywords: {lists: [builtin], allow: [builtin], flag: low, mask: medium, block: critical}
      classifier: {model: profanity-check, flag: 0.5, block: 0.95, downgrade_below: 0.2}
    pii: {types: all, action: mask}
    injection: {flag: 0.4, block: 0.7, embeddings: false, embedding_threshold: 0.6}
    factcheck: {graph: builtin, action: flag}

Unknown keys are errors, so a typo cannot silently switch a check off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainguard.core.errors import ConfigError
from trainguard.core.findings import Severity

CheckName = Literal["toxicity", "pii", "injection", "factcheck"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeywordPolicy(_Strict):
    """Keyword stage: lists (``builtin`` or paths), allow-lists, severity per action."""

    lists: list[str] = Field(default_factory=lambda: ["builtin"])
    allow: list[str] = Field(default_factory=lambda: ["builtin"])
    flag: Severity = Severity.LOW
    mask: Severity = Severity.MEDIUM
    block: Severity = Severity.CRITICAL


class ClassifierPolicy(_Strict):
    """Classifier stage: ``profanity-check``, ``trained:DIR``, ``transformers:DIR`` or ``none``."""

    model: str = "profanity-check"
    flag: float = Field(default=0.5, ge=0, le=1)
    block: float = Field(default=0.95, ge=0, le=1)
    downgrade_below: float = Field(default=0.2, ge=0, le=1)
    """A keyword decision is lowered one step when the classifier is this sure it is benign."""


class ToxicityPolicy(_Strict):
    """Keyword automaton plus classifier."""

    keywords: KeywordPolicy = KeywordPolicy()
    classifier: ClassifierPolicy = ClassifierPolicy()


class PiiPolicy(_Strict):
    """PII types to find (``all`` or a list) and what to do with them."""

    types: Literal["all"] | list[str] = "all"
    action: Literal["flag", "mask", "block"] = "mask"


class InjectionPolicy(_Strict):
    """Heuristic score thresholds, optional embedding similarity and trained classifier."""

    patterns: str = "builtin"
    flag: float = Field(default=0.4, ge=0, le=1)
    block: float = Field(default=0.7, ge=0, le=1)
    embeddings: bool = False
    embedding_threshold: float = Field(default=0.6, ge=-1, le=1)
    classifier: str | None = None
    """``trained:DIR`` or ``transformers:DIR``: blocks at ``block``, flags at ``flag``."""


class FactcheckPolicy(_Strict):
    """Knowledge graph (``builtin`` or a SQLite/CSV/NT/JSON path) and the action on REFUTED."""

    graph: str = "builtin"
    action: Literal["flag", "block"] = "flag"


class AuditPolicy(_Strict):
    """What the guard service's audit log keeps of each text (it always keeps a SHA-256)."""

    store_text: bool = False
    """Keep the raw text in the log too."""


class Policy(_Strict):
    """A guard policy."""

    name: str = "default"
    input: list[CheckName] = ["toxicity", "pii", "injection"]
    output: list[CheckName] = ["toxicity", "pii", "factcheck"]
    toxicity: ToxicityPolicy = ToxicityPolicy()
    pii: PiiPolicy = PiiPolicy()
    injection: InjectionPolicy = InjectionPolicy()
    factcheck: FactcheckPolicy = FactcheckPolicy()
    audit: AuditPolicy = AuditPolicy()

    @field_validator("input", "output")
    @classmethod
    def _unique(cls, v: list[CheckName]) -> list[CheckName]:
        return list(dict.fromkeys(v))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Policy:
        """Load a policy file; a malformed one raises :class:`ConfigError` naming the field."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read policy ({exc.__class__.__name__})") from None
        return cls.from_text(text, source=str(p))

    @classmethod
    def from_text(cls, text: str, *, source: str = "policy") -> Policy:
        """Parse a YAML policy."""
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}: invalid YAML{where}") from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: a policy must be a mapping of settings")
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"{source}: {field}: {err['msg']}") from None
