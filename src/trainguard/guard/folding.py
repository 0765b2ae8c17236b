"""Per-code-point folding of a text, in bulk, for :mod:`trainguard.guard.normalize`.

Each code point folds on its own: NFKC, Latin diacritics stripped, look-alike
characters folded to ASCII with the Unicode TR39 confusables table (from the
``confusable-homoglyphs`` package), format characters and combining marks removed,
lower case. The ASCII part of a text is handled as bytes (one byte per code point);
each distinct non-ASCII code point is folded once and cached, so the cost of the
Python work grows with the number of non-ASCII characters, not with the text. The
folded text itself is built only when asked for (the matching key needs only the
one-byte form).

Reference: Unicode Technical Standard #39, *Unicode Security Mechanisms*, section 4;
Unicode Standard Annex #15 (normalisation forms).
"""

from __future__ import annotations

import json
import operator
import unicodedata
from collections.abc import Callable
from functools import lru_cache, partial
from importlib import resources
from typing import AnyStr, NamedTuple

import numpy as np

from trainguard.guard.offsets import FoldMap

_INVISIBLE_CATEGORIES = ("Cf", "Mn", "Me")
_EMPTY = np.zeros(0, dtype=np.int64)
_SPARSE = 64
"""Texts with at most one ``?`` or non-ASCII character in this many take the sparse path."""


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Non-ASCII character -> ASCII letter or digit it is confusable with (TR39)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    table: dict[str, str] = {}
    for char, targets in json.loads(raw).items():
        if char.isascii():
            continue
        for t in targets:
            c = t["c"]
            if c.isascii() and c.isalnum():
                table[char] = c.lower()
                break
    return table


def fold_char(char: str) -> str:
    """Fold one code point: NFKC, strip Latin diacritics, TR39 confusables, lower case.

    Format characters (zero-width, bidi controls, tag characters) and combining marks
    fold to the empty string.
    """
    if char.isascii():
        return char.lower()
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return ""
    out = []
    for c in unicodedata.normalize("NFKC", char):
        if not c.isascii():
            base = unicodedata.normalize("NFD", c)[0]
            c = base if base.isascii() else _confusables().get(c, c)
        out.append(c)
    return "".join(out).lower()


def visible_char(char: str) -> str:
    """NFKC of one code point with case kept; format characters and marks give ``""``."""
    if char.isascii():
        return char
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return ""
    return unicodedata.normalize("NFKC", char)


class CharTable(dict[int, str]):
    """Code point -> replacement, computed by ``fn`` on first sight and cached."""

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, code: int) -> str:
        out = self.fn(chr(code))
        self[code] = out
        return out


FOLD = CharTable(fold_char)
VISIBLE = CharTable(visible_char)


class Folded(NamedTuple):
    """A folded text: its one-byte form, its non-ASCII characters and its offset map."""

    text: Callable[[], str]
    """Builds the folded text."""
    ascii: bytes
    """One byte per folded character: itself if ASCII, else ``?``. ASCII letters keep
    their case here (the matching key folds case itself); the folded text is lower case."""
    wide: np.ndarray
    """Offsets in the folded text of its non-ASCII characters."""
    wide_codes: np.ndarray
    """Their code points."""
    original: bytes
    """One byte per code point of the original text: itself if ASCII, else ``?``."""
    fold_map: FoldMap | None
    """Folded offset -> original offset (``None``: the identity)."""
    removed: int
    """How many code points folded to nothing."""
    non_ascii: np.ndarray = _EMPTY
    """Offsets in the original text of its non-ASCII code points."""


def fold_text(text: str, table: CharTable = FOLD) -> Folded:
    """Fold every code point of ``text`` (ASCII is only lower-cased, with ``FOLD``)."""
    lower = table is FOLD
    original = text.encode("ascii", "replace")  # one "?" per non-ASCII code point
    if text.isascii():
        return Folded(partial(_decoded, original, lower), original, _EMPTY, _EMPTY,
                      original, None, 0)  # fmt: skip
    positions, points, codes = _non_ascii(text, original)
    uniq, inverse = np.unique(points, return_inverse=True)
    outs = [table[c] for c in uniq.tolist()]
    lengths = np.array([len(o) for o in outs], dtype=np.int64)[inverse]
    at, chosen = positions.tolist(), inverse.tolist()

    def spliced() -> str:
        return splice(_decoded(original, lower), at, [outs[i] for i in chosen])

    if (lengths == 1).all():
        mapped = np.array([ord(o) for o in outs], dtype=np.uint32)[inverse]
        one_byte = np.frombuffer(original, dtype=np.uint8).copy()
        wide = mapped > 127
        one_byte[positions] = np.where(wide, ord("?"), mapped)
        ascii_form = one_byte.tobytes()
        if not wide.any():
            return Folded(partial(_decoded, ascii_form, lower), ascii_form, _EMPTY, _EMPTY,
                          original, None, 0, positions)  # fmt: skip
        if codes is not None:  # dense: replace the code points in bulk
            spliced = partial(_replaced, codes, positions, mapped, lower)
        return Folded(
            spliced, ascii_form, positions[wide], mapped[wide], original, None, 0, positions
        )
    # Some code points fold to no character or to several: splice their folds in.
    ascii_outs = [o.encode("ascii", "replace") for o in outs]
    ascii_form = splice(original, at, [ascii_outs[i] for i in chosen])
    changed = lengths != 1
    fold_map = FoldMap(positions[changed], lengths[changed])
    # Non-ASCII characters of the folds, at their folded offsets.
    wide_in = [[(j, ord(c)) for j, c in enumerate(o) if ord(c) > 127] for o in outs]
    starts = positions + np.cumsum(lengths - 1) - (lengths - 1)
    found = [
        (f + j, c) for f, i in zip(starts.tolist(), chosen, strict=True) for j, c in wide_in[i]
    ]
    wide_at = np.array([w[0] for w in found], dtype=np.int64)
    wide_codes = np.array([w[1] for w in found], dtype=np.uint32)
    removed = int((lengths == 0).sum())
    return Folded(spliced, ascii_form, wide_at, wide_codes, original, fold_map, removed, positions)


def _non_ascii(text: str, original: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Offsets and code points of the non-ASCII characters of ``text``.

    The third value holds all the code points of a text dense in ``?`` or non-ASCII
    characters (found in bulk); a sparse text's few candidates are read at once.
    """
    marks = np.flatnonzero(np.frombuffer(original, dtype=np.uint8) == ord("?"))
    if len(marks) * _SPARSE > len(text):
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        positions = np.flatnonzero(codes > 127)
        return positions, codes[positions], codes
    chars = operator.itemgetter(*marks.tolist())(text) if len(marks) > 1 else text[marks[0]]
    points = np.frombuffer("".join(chars).encode("utf-32-le"), dtype=np.uint32)
    real = points != ord("?")
    return marks[real], points[real], None


def _decoded(data: bytes, lower: bool) -> str:
    """ASCII ``data`` as text, lower-cased if ``lower``."""
    return (data.lower() if lower else data).decode("ascii")


def _replaced(codes: np.ndarray, positions: np.ndarray, mapped: np.ndarray, lower: bool) -> str:
    """The text of ``codes`` with the code points at ``positions`` replaced, ASCII lowered."""
    full = codes.copy()
    full[positions] = mapped
    if lower:
        full[(full >= ord("A")) & (full <= ord("Z"))] += 32
    return full.tobytes().decode("utf-32-le")


def splice(text: AnyStr, positions: list[int], replacements: list[AnyStr]) -> AnyStr:
    """``text`` with the characters at ``positions`` replaced by ``replacements``."""
    pieces: list[AnyStr] = []
    last = 0
    for p, r in zip(positions, replacements, strict=True):
        pieces += (text[last:p], r)
        last = p + 1
    pieces.append(text[last:])
    return text[:0].join(pieces)
