"""Keyword stage: one Aho-Corasick automaton over a large list, matched in the normalised key.

Every entry is folded to the matching key of :mod:`trainguard.guard.normalize`. Word
entries are stored with a space on each side (``" bitch "``), so they match only at
word boundaries and never inside innocent words ("assassin", "cockpit"); substring
entries (``match = substring``) match anywhere, and an allow-list of innocent
carriers ("Scunthorpe") drops hits that lie inside an allowed word or phrase. One
pass of the automaton finds both. Hits on pure digits (``455`` reads as ``ass`` in
leetspeak) are dropped. Overlapping hits are merged into maximal spans that carry
the highest severity of what they contain.

Reference: A. V. Aho and M. J. Corasick, "Efficient string matching: an aid to
bibliographic search", Communications of the ACM 18(6), 1975 (the ``pyahocorasick``
package implements it).
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from trainguard.core.errors import DataError, require
from trainguard.core.findings import Severity
from trainguard.guard.lexicon import default_allow_list, default_entries
from trainguard.guard.normalize import Normalized, key_of, normalize
from trainguard.guard.textfiles import content_lines, read_text

_RANK = {s: s.rank for s in Severity}
_SEVERITY_NUMBERS = {"1": Severity.LOW, "2": Severity.MEDIUM, "3": Severity.HIGH}


@dataclass(frozen=True)
class KeywordEntry:
    """One list entry: the term, its category and severity, and how it matches."""

    term: str
    category: str = "profanity"
    severity: Severity = Severity.MEDIUM
    substring: bool = False
    base: str = ""
    """The base term it was generated from (the term itself when not generated)."""


@dataclass(frozen=True)
class KeywordHit:
    """A matched span of the original text."""

    start: int
    end: int
    text: str
    term: str
    category: str
    severity: Severity


def _severity(value: str, where: str) -> Severity:
    v = value.strip().lower()
    if v in _SEVERITY_NUMBERS:
        return _SEVERITY_NUMBERS[v]
    try:
        return Severity(v)
    except ValueError:
        raise DataError(
            f"{where}: severity must be low, medium, high, critical or 1-3; got {value!r}"
        ) from None


def _rows_from_table(text: str, path: Path, delimiter: str) -> list[KeywordEntry]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    term_col = next((f for f in ("term", "text", "word") if f in fields), None)
    if term_col is None:
        raise DataError(f"{path}: a keyword table needs a 'term' column; found {fields}")
    out = []
    for n, raw in enumerate(reader, 2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
        term = row[term_col].strip()
        if not term:
            continue
        sev = row.get("severity") or row.get("severity_rating") or "medium"
        if "." in sev:  # numeric ratings such as 2.4 round to 1-3
            sev = str(min(3, max(1, round(float(sev)))))
        match = row.get("match", "word").strip().lower() or "word"
        if match not in ("word", "substring"):
            raise DataError(f"{path}:{n}: match must be 'word' or 'substring'; got {match!r}")
        category = (row.get("category") or row.get("category_1") or "profanity").strip()
        out.append(
            KeywordEntry(
                term=term,
                category=category,
                severity=_severity(sev, f"{path}:{n}"),
                substring=match == "substring",
                base=term,
            )
        )
    return out


def load_keyword_file(
    path: str | Path, *, category: str = "profanity", severity: Severity = Severity.MEDIUM
) -> list[KeywordEntry]:
    """Load a keyword list.

    ``.txt``: one term per line (``#`` comments), all with ``category`` and
    ``severity``. ``.csv`` / ``.tsv``: a header with a ``term`` (or ``text``/``word``)
    column and optional ``category``, ``severity`` (name or 1-3) and ``match``
    (``word`` or ``substring``) columns.
    """
    p = Path(path)
    text = read_text(p, "keyword list")
    if p.suffix.lower() in (".csv", ".tsv"):
        entries = _rows_from_table(text, p, "\t" if p.suffix.lower() == ".tsv" else ",")
    elif p.suffix.lower() == ".txt":
        entries = [KeywordEntry(t, category, severity, base=t) for t in content_lines(text)]
    else:
        raise DataError(f"{p}: keyword lists must be .txt, .csv or .tsv files")
    if not entries:
        raise DataError(f"{p}: keyword list has no entries")
    return entries


def load_allow_file(path: str | Path) -> list[str]:
    """Load an allow-list: one innocent word or phrase per line (``#`` comments)."""
    return content_lines(read_text(path, "allow-list"))


def default_keyword_entries() -> list[KeywordEntry]:
    """The project's default list, expanded from its hand-written base (over 100k entries)."""
    return [
        KeywordEntry(term, row.category, row.severity, "s" in row.forms, row.term)
        for term, row in default_entries()
    ]


class KeywordMatcher:
    """An Aho-Corasick automaton over keyword entries and an allow-list.

    Parameters
    ----------
    entries
        The list to match; entries whose keys collide keep the highest severity.
    allow
        Innocent words and phrases; a hit inside one of them is dropped.
    """

    def __init__(self, entries: Iterable[KeywordEntry], allow: Iterable[str] = ()) -> None:
        require("ahocorasick", "guard")
        import ahocorasick

        allowed = {f" {k} " for k in map(key_of, allow) if k}
        self.entries: list[KeywordEntry] = []
        slots: dict[str, int] = {}
        automaton = ahocorasick.Automaton()
        for e in entries:
            k = key_of(e.term)
            key = k if e.substring else f" {k} "
            if not k.strip(" *") or key in allowed:  # the allow-list wins over the list
                continue
            i = slots.get(key)
            if i is None:
                slots[key] = len(self.entries)
                self.entries.append(e)
            elif e.severity > self.entries[i].severity:
                self.entries[i] = e
        if not self.entries:
            raise DataError("keyword list has no usable entries")
        for key, i in slots.items():
            automaton.add_word(key, (i, len(key)))
        for key in allowed:
            automaton.add_word(key, (-1, len(key)))
        self.n_allow = len(allowed)
        automaton.make_automaton()
        self._automaton = automaton

    @classmethod
    def default(cls) -> KeywordMatcher:
        """The matcher over the default expanded lexicon and allow-list (built once per process)."""
        return _default_matcher()

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str | Normalized) -> list[KeywordHit]:
        """Hits in ``text``, as maximal spans of the original text, in order."""
        norm = normalize(text) if isinstance(text, str) else text
        raw: list[tuple[int, int, int]] = []
        allowed: list[tuple[int, int]] = []
        for end, (i, length) in self._automaton.iter(norm.key):
            start = end + 1 - length
            if i < 0:
                allowed.append((start, end + 1))
            else:
                raw.append((start, end + 1, i))
        if not raw:
            return []
        return self._resolve(norm, raw, allowed)

    def _resolve(
        self, norm: Normalized, raw: list[tuple[int, int, int]], allowed: list[tuple[int, int]]
    ) -> list[KeywordHit]:
        """Drop allowed hits, merge overlapping ones, map to the original, drop pure digits."""
        allowed.sort()
        starts = [a for a, _ in allowed]
        reach = list(itertools.accumulate((b for _, b in allowed), max))
        spans: list[tuple[int, int, int]] = []
        key = norm.key
        for s, e, i in raw:
            if key[s] == " ":  # word entries carry their boundary spaces
                s, e = s + 1, e - 1
            j = bisect.bisect_right(starts, s)
            if j and reach[j - 1] >= e:  # inside an allowed word or phrase
                continue
            spans.append((s, e, i))
        spans.sort(key=lambda t: (t[0], -t[1]))
        hits: list[KeywordHit] = []
        group: list[tuple[int, int, int]] = []
        end = -1
        for span in [*spans, (1 << 62, 1 << 62, -1)]:
            if group and span[0] < end:
                group.append(span)
                end = max(end, span[1])
                continue
            if group:
                hit = self._merge(norm, group, end)
                if not norm.original[hit.start : hit.end].replace(" ", "").isdigit():
                    hits.append(hit)
            group, end = [span], span[1]
        return hits

    def _merge(self, norm: Normalized, group: list[tuple[int, int, int]], end: int) -> KeywordHit:
        if len(group) == 1:
            main = self.entries[group[0][2]]
            severity = main.severity
        else:
            main = self.entries[max(group, key=lambda t: t[1] - t[0])[2]]
            severity = max((self.entries[t[2]].severity for t in group), key=_RANK.__getitem__)
        o_s, o_e = norm.key_span(group[0][0], end)
        return KeywordHit(
            o_s, o_e, norm.original[o_s:o_e], main.base or main.term, main.category, severity
        )


@lru_cache(maxsize=1)
def _default_matcher() -> KeywordMatcher:
    return KeywordMatcher(default_keyword_entries(), default_allow_list())
