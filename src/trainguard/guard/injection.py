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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from trainguard.core.errors import DataError
from trainguard.guard.normalize import Normalized, decode_tag_characters, normalize
from trainguard.guard.textfiles import data_text, read_text, tsv_rows

INVISIBLE_WEIGHT = 0.5
"""Weight of three or more invisible characters (zero-width, bidi, tags) in a text."""

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[ :]?){12,}(?![0-9a-fA-F])")
_ROT13_HINT = re.compile(r"\b(?:vtaber|qvfertneq|cerivbhf|vafgehpgvbaf|flfgrz|cebzcg)\b")


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
    long_token = max(map(len, text.split()), default=0) >= 16
    for m in _BASE64.finditer(text) if long_token else ():
        raw = m.group()
        try:
            decoded = _printable(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True))
        except (binascii.Error, ValueError):
            decoded = None
        if decoded:
            out.append(("base64", m.start(), m.end(), decoded))
    for m in _HEX.finditer(text):
        try:
            decoded = _printable(bytes.fromhex(re.sub(r"[ :]", "", m.group())))
        except ValueError:
            decoded = None
        if decoded:
            out.append(("hex", m.start(), m.end(), decoded))
    if _ROT13_HINT.search(text.lower()):
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
    r"""Words one of which a pattern's match must start with (empty: no pre-check).

    Read from a leading ``\b(?:word...|word...)`` or ``\bword`` of an expression
    without top-level alternation; a trailing optional letter (``warnings?``) is
    dropped from the anchor.
    """
    if len(_split_top(expr)[0]) > 1:
        return ()
    for literal, anchor in (("<", "<"), ("\\[", "["), ("```", "```")):
        if expr.startswith(literal):
            return (anchor,)
    if not expr.startswith("\\b"):
        return ()
    body = expr[2:]
    if body.startswith("(?:"):
        alts, _ = _split_top(body[3:])
    else:
        alts = [body]
    out = []
    for alt in alts:
        lead = re.match(r"[a-z0-9']+", alt)
        if lead is None:
            return ()
        word = lead.group()
        if alt[len(word) : len(word) + 1] == "?":
            word = word[:-1]
        if not word:
            return ()
        out.append(word)
    return tuple(out)


class InjectionHeuristics:
    """The heuristic layer: pattern library, decoded payloads and invisible characters.

    Parameters
    ----------
    patterns
        Heuristics to apply (default: :func:`default_patterns`).
    """

    def __init__(self, patterns: list[Pattern] | tuple[Pattern, ...] | None = None) -> None:
        self.patterns = tuple(default_patterns() if patterns is None else patterns)
        self._anchors = [anchors(p.regex.pattern) for p in self.patterns]

    def _matches(self, norm: Normalized, via: str) -> list[InjectionMatch]:
        out = []
        text = norm.folded
        for p, words in zip(self.patterns, self._anchors, strict=True):
            if words and not any(w in text for w in words):
                continue  # none of the words the pattern starts with: it cannot match
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
