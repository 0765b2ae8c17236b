"""Text normalisation for every guard check, with a map back to the original offsets.

Two strings come out of :func:`normalize`, of equal length and aligned character by
character:

``text``
    The folded form: Unicode compatibility decomposition (NFKC, applied per code
    point), Latin diacritics stripped, look-alike characters folded to ASCII with the
    Unicode TR39 confusables table (from the ``confusable-homoglyphs`` package),
    zero-width, bidi and other format characters and combining marks removed, lower
    case, letters spelled out with separators joined ("f.u.c.k", "f u c k" -> "fuck")
    and runs of three or more equal characters shortened to two ("fuuuuck" -> "fuuck").
``key``
    ``text`` with leetspeak digits and symbols read as letters and the ambiguous
    ``i``/``l``/``1``/``!``/``|`` class folded to ``i``. Keyword lists are matched
    in this space (:mod:`trainguard.guard.keywords` folds its entries the same way).

``index[i]`` is the offset in the original text of ``text[i]``, so a span found in
the normalised text lands on the original characters (:meth:`Normalized.to_original`).
ASCII text takes a fast path: lower-casing and one translation table, with numpy
only where letters are spelled out or repeated.

Reference: Unicode Technical Standard #39, *Unicode Security Mechanisms*, section 4
(confusable detection, skeletons); Unicode Standard Annex #15 (normalisation forms).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

LEET = {
    "0": "o",
    "1": "i",
    "!": "i",
    "|": "i",
    "l": "i",
    "2": "z",
    "3": "e",
    "4": "a",
    "@": "a",
    "$": "s",
    "5": "s",
    "7": "t",
    "+": "t",
    "8": "b",
    "9": "g",
    "6": "g",
}
"""Leetspeak and ambiguity folding applied in the matching key."""


def _key_table() -> np.ndarray:
    """ASCII code -> key code: letters and digits kept (leet folded), ``*`` kept, rest space."""
    lut = np.full(128, ord(" "), dtype=np.uint32)
    for c in range(128):
        ch = chr(c)
        if ch.isalnum() or ch == "*":
            lut[c] = ord(ch.lower())
    for src, dst in LEET.items():
        lut[ord(src)] = ord(dst)
    return lut


_KEY_LUT = _key_table()
_KEY_BYTES = _KEY_LUT.astype(np.uint8).tobytes() + bytes(range(128, 256))
_SPACE, _STAR, _BANG = ord(" "), ord("*"), ord("!")
_INVISIBLE_CATEGORIES = ("Cf", "Mn", "Me")
_TAG_BLOCK = range(0xE0000, 0xE0080)


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


class _CharTable(dict[int, str]):
    """Code point -> replacement, computed by ``fn`` on first sight and cached."""

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, code: int) -> str:
        out = self.fn(chr(code))
        self[code] = out
        return out


_FOLD = _CharTable(fold_char)
_VISIBLE = _CharTable(visible_char)


@dataclass(frozen=True)
class Normalized:
    """A text in folded and matching form, each with its map to original offsets."""

    original: str
    folded: str
    """Per-code-point folded text (NFKC, confusables, case; invisible characters removed)."""
    key: str
    """Matching key: ``folded`` with leet folded, punctuation as spaces, structural edits,
    and one space of padding at each end so that word entries can be written ``" term "``."""
    folded_index: np.ndarray | None
    """``folded_index[i]`` = original offset of ``folded[i]``; ``None`` means the identity."""
    key_index: np.ndarray
    """``key_index[i]`` = original offset of ``key[i]`` (the padding maps to the ends)."""
    invisible: int
    """How many format or combining characters were removed (zero-width, bidi, tags)."""

    def key_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the key span ``[start, end)`` to a span of the original text."""
        return self._span(self.key_index, start, end)

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` to a span of the original text."""
        if self.folded_index is None:
            return start, end
        return self._span(self.folded_index, start, end)

    def _span(self, index: np.ndarray, start: int, end: int) -> tuple[int, int]:
        """Original span from ``index[start]`` to where the next kept character begins.

        Characters dropped after the span (the third ``l`` of ``"killl"``, combining
        marks) are included; trailing whitespace is not.
        """
        n = len(self.original)
        if start >= end:
            o = int(index[start]) if start < len(index) else n
            return o, o
        o_start = int(index[start])
        o_end = int(index[end]) if end < len(index) else n
        o_end = max(o_end, int(index[end - 1]) + 1)
        while o_end > o_start + 1 and self.original[o_end - 1].isspace():
            o_end -= 1
        return o_start, min(o_end, n)


def _is_invisible(char: str) -> bool:
    return not char.isascii() and unicodedata.category(char) in _INVISIBLE_CATEGORIES


def _fold(text: str, table: _CharTable = _FOLD) -> tuple[str, np.ndarray | None, int]:
    """Fold every code point; return the folded text, its offset index and removed count.

    ASCII is only lower-cased (with the default table); each non-ASCII code point is
    mapped on its own, so the cost grows with the number of non-ASCII characters.
    """
    lower = table is _FOLD
    if text.isascii():
        return (text.lower() if lower else text), None, 0
    codes = _codes(text)
    positions = np.flatnonzero(codes > 127)
    uniq, inverse = np.unique(codes[positions], return_inverse=True)
    outs = [table[c] for c in uniq.tolist()]
    if all(len(o) == 1 for o in outs):  # one for one: replace the code points in bulk
        mapped = codes.copy()
        mapped[positions] = np.array([ord(o) for o in outs], dtype=np.uint32)[inverse]
        folded = mapped.tobytes().decode("utf-32-le")
        changed: list[tuple[int, int]] = []
    else:
        folded = _splice(text, positions.tolist(), table)
        changed = [(p, n) for p in positions.tolist() if (n := len(table[ord(text[p])])) != 1]
    folded = folded.lower() if lower else folded
    if not changed:
        return folded, None, 0
    lengths = np.ones(len(text), dtype=np.int32)
    pos = np.fromiter((p for p, _ in changed), dtype=np.int32, count=len(changed))
    lengths[pos] = np.fromiter((n for _, n in changed), dtype=np.int32, count=len(changed))
    index = np.repeat(np.arange(len(text), dtype=np.int32), lengths)
    removed = sum(1 for _, n in changed if n == 0)
    return folded, index, removed


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _key_array(padded: str) -> tuple[np.ndarray, dict[int, str]]:
    """Key codes of ``padded`` (folded text): leet folded, punctuation to space.

    Returns the codes and, for the byte form, the private bytes that stand for
    non-ASCII letters. Text whose non-ASCII letters are at most 127 distinct code
    points is translated as bytes (``uint8``, each letter as a byte from 128 up);
    other text as code points (``uint32``). A ``!`` reads as ``i`` only when a letter
    or digit follows its run.
    """
    letters: dict[int, str] = {}
    if padded.isascii():
        raw = padded.encode("ascii")
        k = np.frombuffer(raw.translate(_KEY_BYTES), dtype=np.uint8)
        if b"!" not in raw:
            return k, letters
        f = np.frombuffer(raw, dtype=np.uint8)
        k = k.copy()
    else:
        f = _codes(padded)
        other = np.flatnonzero(f > 127)
        uniq, inverse = np.unique(f[other], return_inverse=True)
        alnum = np.array([chr(c).isalnum() for c in uniq], dtype=bool)
        if alnum.sum() <= 127:
            raw = padded.encode("ascii", "replace")  # one "?" per non-ASCII code point
            k = np.frombuffer(raw.translate(_KEY_BYTES), dtype=np.uint8).copy()
            byte_of = np.full(len(uniq), _SPACE, dtype=np.uint8)
            byte_of[alnum] = 128 + np.arange(alnum.sum(), dtype=np.uint8)
            k[other] = byte_of[inverse]
            letters = {128 + i: chr(c) for i, c in enumerate(uniq[alnum].tolist())}
            f = np.frombuffer(raw, dtype=np.uint8)
        else:
            k = np.where(f < 128, _KEY_LUT[np.minimum(f, 127)], f)
            keyed = np.where(alnum, uniq, _SPACE).astype(np.uint32)
            k[other] = keyed[inverse]
    bang = f == _BANG
    if bang.any():
        n = len(f)
        not_bang_at = np.where(bang, n - 1, np.arange(n))
        next_other = np.minimum.accumulate(not_bang_at[::-1])[::-1]
        after = k[next_other]
        k[bang & ((after == _SPACE) | (after == _STAR))] = _SPACE
    return k, letters


def _splice(text: str, positions: list[int], table: dict[int, str]) -> str:
    """``text`` with the characters at ``positions`` replaced through ``table``."""
    pieces: list[str] = []
    last = 0
    for p in positions:
        pieces += (text[last:p], table[ord(text[p])])
        last = p + 1
    pieces.append(text[last:])
    return "".join(pieces)


def _separator_drop(k: np.ndarray) -> np.ndarray:
    """Mask of key positions to drop: repeated spaces and gaps in spelled-out words."""
    space = k == _SPACE
    sep = space | (k == _STAR)
    word = ~sep
    drop = np.zeros(len(k), dtype=bool)
    drop[1:] = space[1:] & space[:-1]
    padded = np.concatenate(([False], word, [False]))
    pos = np.flatnonzero(word & ~padded[:-2] & ~padded[2:])
    if len(pos) >= 3:
        sep_cum = np.concatenate(([0], np.cumsum(sep)))
        gaps = pos[1:] - pos[:-1] - 1
        linked = (gaps >= 1) & (gaps <= 3) & (sep_cum[pos[1:]] - sep_cum[pos[:-1] + 1] == gaps)
        # A chain of >= 2 consecutive links joins >= 3 single letters ("f.u.c.k").
        prev = np.concatenate(([False], linked[:-1]))
        nxt = np.concatenate((linked[1:], [False]))
        for j in np.flatnonzero(linked & (prev | nxt)):
            drop[pos[j] + 1 : pos[j + 1]] = True
    return drop


def _run_drop(k: np.ndarray) -> np.ndarray:
    """Mask of the third and later letters of runs of equal letters."""
    drop = np.zeros(len(k), dtype=bool)
    if len(k) >= 3:
        word = (k != _SPACE) & (k != _STAR)
        drop[2:] = (k[2:] == k[1:-1]) & (k[1:-1] == k[:-2]) & word[2:]
    return drop


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching and keep the maps back to its offsets.

    Parameters
    ----------
    text
        Any Unicode text.

    Returns
    -------
    Normalized
        The ``folded`` text and the matching ``key``, each with its offset index.
    """
    folded, index, removed = _fold(text)
    k, letters = _key_array(" " + folded + " ")
    if index is None:
        base = np.arange(-1, len(folded) + 1, dtype=np.int32)
        base[0], base[-1] = 0, len(text)
    else:
        base = np.concatenate(([0], index, [len(text)])).astype(np.int32)
    # Separators first, so that runs are shortened across a spelled-out word too.
    for step in (_separator_drop, _run_drop):
        drop = step(k)
        if drop.any():
            keep = np.flatnonzero(~drop)
            k, base = k[keep], base[keep]
    if k.dtype != np.uint8:
        key = k.tobytes().decode("utf-32-le")
    elif letters:
        key = _splice(k.tobytes().decode("latin-1"), np.flatnonzero(k > 127).tolist(), letters)
    else:
        key = k.tobytes().decode("ascii")
    return Normalized(
        original=text,
        folded=folded,
        key=key,
        folded_index=index,
        key_index=base,
        invisible=removed,
    )


_KEY_STR = {i: chr(int(c)) for i, c in enumerate(_KEY_LUT)}
_RUN3 = re.compile(r"([^ *])\1\1+")
_SPACES = re.compile(r" {2,}")


def key_of(term: str) -> str:
    """The matching key of a list entry (a word or phrase), without padding.

    Equal to ``normalize(term).key.strip()`` for entries that are not spelled out
    letter by letter, at a fraction of the cost (lists have 100k+ entries).
    """
    folded = _fold(term)[0]
    if not folded.isascii() or "!" in folded:
        return normalize(term).key.strip(" ")
    key = folded.translate(_KEY_STR)
    return _SPACES.sub(" ", _RUN3.sub(r"\1\1", key)).strip(" ")


def visible_text(text: str) -> tuple[str, np.ndarray | None]:
    """``text`` with NFKC per code point and invisible characters removed, case kept.

    The second value maps each character back to its original offset (``None`` when
    nothing moved). Formats that matter to PII (upper-case IBANs, keys) survive, while
    zero-width characters or full-width digits inside a number no longer hide it.
    """
    clean, index, _ = _fold(text, _VISIBLE)
    return clean, index


def decode_tag_characters(text: str) -> str:
    """Read Unicode tag characters (U+E0020..U+E007E) as the ASCII they shadow.

    Tag characters are invisible and have been used to smuggle instructions past
    reviewers ("ASCII smuggling"); an empty string means none were present.
    """
    return "".join(chr(ord(c) - 0xE0000) for c in text if ord(c) in _TAG_BLOCK)
