"""Capabilities: where a value came from (its sources) and who may read it (its readers).

A :class:`Label` is the pair CaMeL attaches to every value (Debenedetti et al., 2025,
"Defeating Prompt Injections by Design", arXiv:2503.18813, section 5): a set of
:class:`Source` entries and a :class:`Readers` set. Combining values combines their
labels with :func:`join`: the sources are united (the result depends on all of them)
and the readers are intersected (only someone allowed to read every input may read the
result). Labels are immutable and hashable.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

SourceKind = Literal["user", "system", "tool", "document"]
"""Who produced a value: the user's request, the system (the plan's own constants and
trusted clocks), a named tool, or a document (an email, a file, a web page)."""


@dataclass(frozen=True, order=True)
class Source:
    """One origin of a value.

    Parameters
    ----------
    kind
        ``"user"``, ``"system"``, ``"tool"`` or ``"document"``.
    name
        The tool name, or the document's identifier (``"email:7"``, ``"file:notes.txt"``).
    trusted
        Whether data from this source may steer actions. User and system sources are
        always trusted; a tool or document source is trusted only when its author is the
        user (a calendar event the user created, a file only the user can edit).
    """

    kind: SourceKind
    name: str = ""
    trusted: bool = False

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}" if self.name else self.kind
        return text if self.trusted or self.kind in ("user", "system") else f"{text} (untrusted)"


USER = Source("user", trusted=True)
"""The user's request, and the constants of a plan written from it alone."""
SYSTEM = Source("system", trusted=True)
"""The agent system itself: the interpreter's constants and trusted clocks."""


def tool_source(name: str, *, trusted: bool = False) -> Source:
    """The source of a tool's output (untrusted unless the tool is declared trusted)."""
    return Source("tool", name, trusted)


def document_source(name: str, *, trusted: bool = False) -> Source:
    """The source of a document (email, file, web page) a tool returned."""
    return Source("document", name, trusted)


@dataclass(frozen=True)
class Readers:
    """Who may read a value: everyone (``public``) or a set of principals (e-mail addresses).

    The meet of two reader sets is their intersection, with ``public`` as the top
    element: ``public & {a, b} == {a, b}``.
    """

    principals: frozenset[str] = frozenset()
    public: bool = False

    def __and__(self, other: Readers) -> Readers:
        if self.public:
            return other
        if other.public:
            return self
        return Readers(self.principals & other.principals)

    def allows(self, principals: Iterable[str]) -> bool:
        """True when every one of ``principals`` may read (always for public data)."""
        return self.public or set(principals) <= self.principals

    def __str__(self) -> str:
        return "public" if self.public else "{" + ", ".join(sorted(self.principals)) + "}"


PUBLIC = Readers(public=True)
"""Readable by anyone."""


def readers(*principals: str) -> Readers:
    """A reader set naming exactly ``principals`` (e-mail addresses, IBANs)."""
    return Readers(frozenset(p.lower() for p in principals))


@dataclass(frozen=True)
class Label:
    """The capabilities of one value: its sources and its readers."""

    sources: frozenset[Source] = field(default_factory=frozenset)
    readers: Readers = PUBLIC

    @property
    def trusted(self) -> bool:
        """True when every source is trusted (an empty source set is trusted)."""
        return all(s.trusted for s in self.sources)

    def untrusted_sources(self) -> list[Source]:
        """The sources that are not trusted, sorted."""
        return sorted(s for s in self.sources if not s.trusted)

    def describe(self) -> str:
        """One line: the sources and the readers."""
        return self._description

    @functools.cached_property
    def _description(self) -> str:
        src = ", ".join(str(s) for s in sorted(self.sources)) or "none"
        return f"sources [{src}], readers {self.readers}"


EMPTY = Label()
"""No sources, public: the label of the empty control context."""
USER_LABEL = Label(frozenset({USER}), PUBLIC)
"""The label of the user's request and of plan constants."""


def join(*labels: Label) -> Label:
    """Combine labels: the union of the sources and the intersection of the readers.

    Returns the first label itself when the others add nothing to it.
    """
    if not labels:
        return EMPTY
    first = labels[0]
    sources, result_readers = first.sources, first.readers
    for lab in labels[1:]:
        if lab is first:
            continue
        if not lab.sources <= sources:
            sources = sources | lab.sources
        if not lab.readers.public and lab.readers != result_readers:
            result_readers = result_readers & lab.readers
    if sources is first.sources and result_readers is first.readers:
        return first
    return Label(sources, result_readers)
