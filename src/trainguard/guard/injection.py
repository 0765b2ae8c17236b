"""Prompt-injection and jailbreak heuristics, with hidden payloads decoded and re-scanned.

The heuristic layer matches a pattern library written for this project
(``data/injection_patterns.txt``: instruction override, role-play personas, system
prompt extraction, delimiter and format injection) on the folded text of
:mod:`trainguard.guard.normalize`. Each pattern has a weight ``w``; the score of a
text is the noisy-or ``1 - prod(1 - w)`` over the patterns that matched. Payloads
hidden in base64, hex, rot13 or Unicode tag characters are decoded and scanned
again, and invisible characters add evidence of their own.

The other layers are :mod:`trainguard.guard.embeddings` (similarity to attack
exemplars) and :mod:`trainguard.guard.textclf` (a classifier trained on the user's
labelled data).

References: F. Perez and I. Ribeiro, "Ignore Previous Prompt: Attack Techniques for
Language Models", 2022; K. Greshake et al., "Not what you've signed up for:
Compromising Real-World LLM-Integrated Applications with Indirect Prompt Injection",
AISec 2023; X. Shen et al., "Do Anything Now: Characterizing and Evaluating
In-The-Wild Jailbreak Prompts on Large Language Models", CCS 2024.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from trainguard.core.errors import DataError, require
from trainguard.guard.normalize import Normalized, decode_tag_characters, normalize
from trainguard.guard.textfiles import data_text, read_text, tsv_rows

INVISIBLE_WEIGHT = 0.5
"""Weight of three or more invisible characters (zero-width, bidi, tags) in a text."""

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[ :]?){12,}(?![0-9a-fA-F])")
_ROT13_WORDS = ("vtaber", "qvfertneq", "cerivbhf", "vafgehpgvbaf", "flfgrz", "cebzcg")
_ROT13_HINT = re.compile(rf"\b(?:{'|'.join(_ROT13_WORDS)})\b")


def _class_table(members: str) -> bytes:
    return bytes(ord("x") if chr(b) in members else ord(".") for b in range(256))


_DIGITS = "0123456789"
_BASE64_CHARS = _class_table(string.ascii_letters + _DIGITS + "+/")
_HEX_CHARS = _class_table(_DIGITS + "abcdefABCDEF :")


def _has_run(ascii_text: bytes, table: bytes, length: int) -> bool:
    """True when ``length`` consecutive characters of the text are in the table's class.

    A cheap necessary condition for the base64 and hex expressions (a run of 16
    base64 characters, 24 characters of hex digits and separators), tested before
    either scans the text. ``ascii_text`` has one byte per code point.
    """
    return b"x" * length in ascii_text.translate(table)


@dataclass(frozen=True)
class Pattern:
    """One heuristic: a category, a weight in (0, 1] and a compiled expression."""

    category: str
    weight: float
    regex: re.Pattern[str]


@dataclass(frozen=True)
class InjectionMatch:
    """A heuristic hit: the pattern's category, its weight and the original span."""

    category: str
    weight: float
    start: int
    end: int
    text: str
    via: str = "text"
    """Where it was found: ``text``, ``base64``, ``hex``, ``rot13`` or ``tags``."""


@dataclass
class InjectionScan:
    """The heuristic verdict on one text: a noisy-or score and the evidence."""

    score: float
    matches: list[InjectionMatch] = field(default_factory=list)
    invisible: int = 0

    @property
    def categories(self) -> list[str]:
        """Distinct categories that matched, in order of first appearance."""
        return list(dict.fromkeys(m.category for m in self.matches))


def parse_patterns(text: str, source: str) -> list[Pattern]:
    """Parse a pattern file: ``category<TAB>weight<TAB>regex`` per line, ``#`` comments."""
    out = []
    for n, (category, weight, expr) in tsv_rows(
        text, source, 3, "category, weight and regex separated by tabs"
    ):
        try:
            w = float(weight)
        except ValueError:
            raise DataError(
                f"{source}:{n}: weight must be a number in (0, 1]; got {weight!r}"
            ) from None
        if not 0 < w <= 1:
            raise DataError(f"{source}:{n}: weight must be in (0, 1]; got {w}")
        try:
            regex = re.compile(expr)
        except re.error as exc:
            raise DataError(f"{source}:{n}: invalid regular expression ({exc})") from None
        out.append(Pattern(category.strip(), w, regex))
    if not out:
        raise DataError(f"{source}: no patterns")
    return out


@lru_cache(maxsize=1)
def default_patterns() -> tuple[Pattern, ...]:
    """The project's heuristic library (``data/injection_patterns.txt``)."""
    source = "trainguard/guard/data/injection_patterns.txt"
    return tuple(parse_patterns(data_text("injection_patterns.txt"), source))


def load_patterns(path: str | Path) -> list[Pattern]:
    """Load a user pattern file in the format of :func:`parse_patterns`."""
    return parse_patterns(read_text(path, "pattern file"), str(path))


def noisy_or(weights: list[float]) -> float:
    """``1 - prod(1 - w)``: the chance that at least one independent piece of evidence holds."""
    p = 1.0
    for w in weights:
        p *= 1.0 - w
    return 1.0 - p


def _printable(data: bytes) -> str | None:
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 8 or sum(c.isprintable() or c.isspace() for c in s) < 0.9 * len(s):
        return None
    return s


def hidden_payloads(text: str) -> list[tuple[str, int, int, str]]:
    """Decoded payloads hidden in ``text``: ``(encoding, start, end, decoded)``.

    Base64 and hex runs that decode to printable UTF-8, the rot13 reading of the text
    when it contains rot13-encoded instruction words, and Unicode tag characters.
    """
    out = []
    one_byte = text.encode("ascii", "replace")
    for m in _BASE64.finditer(text) if _has_run(one_byte, _BASE64_CHARS, 16) else ():
        raw = m.group()
        try:
            decoded = _printable(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True))
        except (binascii.Error, ValueError):
            decoded = None
        if decoded:
            out.append(("base64", m.start(), m.end(), decoded))
    for m in _HEX.finditer(text) if _has_run(one_byte, _HEX_CHARS, 24) else ():
        try:
            decoded = _printable(bytes.fromhex(re.sub(r"[ :]", "", m.group())))
        except ValueError:
            decoded = None
        if decoded:
            out.append(("hex", m.start(), m.end(), decoded))
    lower = text.lower()
    if any(w in lower for w in _ROT13_WORDS) and _ROT13_HINT.search(lower):
        out.append(("rot13", 0, len(text), codecs.encode(text, "rot13")))
    tags = "" if text.isascii() else decode_tag_characters(text)
    if tags:
        out.append(("tags", 0, len(text), tags))
    return out


def _split_top(expr: str) -> tuple[list[str], int]:
    """Alternatives of ``expr`` at nesting depth 0, up to the first unmatched ``)``."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expr):
        c = expr[i]
        if c == "\\":
            i += 1
        elif c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                break
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(expr[start:i])
            start = i + 1
        i += 1
    parts.append(expr[start:i])
    return parts, i


def anchors(expr: str) -> tuple[str, ...]:
    r"""Words one of which a pattern's match must start with (empty: no such words).

    Read from a leading ``\b(?:word...|word...)`` or ``\bword`` of an expression
    without top-level alternation; a trailing optional letter (``warnings?``) is
    dropped from the anchor, and a leading group or literal that may be skipped
    (``(?:...)?``, ``<?``) gives none. An expression starting with ``(?:^|\n)``
    has the newline as anchor (its match may also start at the start of the text).
    """
    if len(_split_top(expr)[0]) > 1:
        return ()
    if expr.startswith(_LINE_START):
        return ("\n",)  # and the start of the text (see InjectionHeuristics._matches)
    for literal, anchor in (("<", "<"), ("\\[", "["), ("```", "```")):
        if expr.startswith(literal):
            return () if expr[len(literal) : len(literal) + 1] in _OPTIONAL else (anchor,)
    if not expr.startswith("\\b"):
        return ()
    body = expr[2:]
    if body.startswith("(?:"):
        alts, end = _split_top(body[3:])
        if body[3 + end + 1 : 3 + end + 2] in _OPTIONAL:
            return ()
    else:
        alts = [body]
    out = []
    for alt in alts:
        lead = re.match(r"[a-z0-9']+", alt)
        if lead is None:
            return ()
        word = lead.group()
        after = alt[len(word) : len(word) + 1]
        if after == "{":
            return ()
        if after in ("?", "*"):
            word = word[:-1]
        if not word:
            return ()
        out.append(word)
    return tuple(out)


_LINE_START = "(?:^|\\n)"
_OPTIONAL = ("?", "*", "{")
"""What after an anchor's last character may make it optional."""


class InjectionHeuristics:
    """The heuristic layer: pattern library, decoded payloads and invisible characters.

    A pattern with :func:`anchors` is tried only where one of its anchor words
    starts (all found in one Aho-Corasick pass over the text, Aho and Corasick,
    CACM 1975), with ``regex.match`` at each such position in order: the same first
    match as ``regex.search``, which would try every position of the text.

    Parameters
    ----------
    patterns
        Heuristics to apply (default: :func:`default_patterns`).
    """

    def __init__(self, patterns: list[Pattern] | tuple[Pattern, ...] | None = None) -> None:
        self.patterns = tuple(default_patterns() if patterns is None else patterns)
        self._anchors = [anchors(p.regex.pattern) for p in self.patterns]
        self._line_start = [p.regex.pattern.startswith(_LINE_START) for p in self.patterns]
        self._automaton = _anchor_automaton(self._anchors)

    def _starts(self, text: str) -> dict[int, list[int]]:
        """Pattern index -> positions where one of its anchor words starts."""
        out: dict[int, list[int]] = {}
        if self._automaton is None:
            return out
        for end, (length, indices) in self._automaton.iter(text):
            start = end - length + 1
            for i in indices:
                if i in out:
                    out[i].append(start)
                else:
                    out[i] = [start]
        return out

    def _matches(self, norm: Normalized, via: str) -> list[InjectionMatch]:
        out = []
        text = norm.folded
        starts = self._starts(text)
        for i, p in enumerate(self.patterns):
            if self._line_start[i]:
                m = _first_match(p.regex, text, [0, *starts.get(i, ())])
            elif self._anchors[i]:
                m = _first_match(p.regex, text, starts.get(i, ()))
            else:
                m = p.regex.search(text)
            if m:
                s, e = norm.folded_span(*m.span())
                out.append(InjectionMatch(p.category, p.weight, s, e, norm.original[s:e], via))
        return out

    def scan(self, text: str | Normalized) -> InjectionScan:
        """Score ``text`` in [0, 1] with the evidence that produced the score."""
        norm = normalize(text) if isinstance(text, str) else text
        matches = self._matches(norm, "text")
        seen = {id(m) for m in matches}
        for via, start, end, decoded in hidden_payloads(norm.original):
            for m in self._matches(normalize(decoded), via):
                matches.append(
                    InjectionMatch(m.category, m.weight, start, end, norm.original[start:end], via)
                )
        weights = [m.weight for m in matches]
        hidden = [m for m in matches if id(m) not in seen]
        if hidden:
            weights.append(INVISIBLE_WEIGHT)  # hiding an instruction is evidence of intent
        if norm.invisible >= 3:
            weights.append(INVISIBLE_WEIGHT)
        return InjectionScan(noisy_or(weights), matches, norm.invisible)


def _anchor_automaton(words: list[tuple[str, ...]]) -> Any:
    """Aho-Corasick automaton: anchor word -> (its length, indices of the patterns it anchors)."""
    by_word: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in dict.fromkeys(ws):
            by_word.setdefault(w, []).append(i)
    if not by_word:
        return None
    require("ahocorasick", "guard")
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for w, indices in by_word.items():
        automaton.add_word(w, (len(w), tuple(indices)))
    automaton.make_automaton()
    return automaton


def _first_match(regex: re.Pattern[str], text: str, starts: Iterable[int]) -> re.Match[str] | None:
    """The match of ``regex`` at the first of ``starts`` where it matches (``None``: none)."""
    for pos in sorted(set(starts)):
        m = regex.match(text, pos)
        if m:
            return m
    return None
