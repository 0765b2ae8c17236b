"""Text normalisation for every guard check, with a map back to the original offsets.

Two strings come out of :func:`normalize`:

``folded``
    The folded form, one code point at a time: Unicode compatibility decomposition
    (NFKC), Latin diacritics stripped, look-alike characters folded to ASCII with the
    Unicode TR39 confusables table (from the ``confusable-homoglyphs`` package),
    zero-width, bidi and other format characters and combining marks removed, lower
    case.
``key``
    ``folded`` with leetspeak digits and symbols read as letters and the ambiguous
    ``i``/``l``/``1``/``!``/``|`` class folded to ``i``, punctuation as spaces,
    letters spelled out with separators joined ("f.u.c.k", "f u c k" -> "fuck") and
    runs of three or more equal letters shortened to two ("fuuuuck" -> "fuuck").
    Keyword lists are matched in this space (:mod:`trainguard.guard.keywords` folds
    its entries the same way).

Spans map back to the original text through compact maps that hold only the edits
(code points folded to no character or to several, dropped key positions) and
translate offsets in bulk by binary search (:meth:`Normalized.key_spans`,
:mod:`trainguard.guard.offsets`); dense per-character indexes are built only on
request (:attr:`Normalized.key_index`). The ASCII part of a text is folded as bytes
(lower-casing and one translation table for the key); each distinct non-ASCII code
point is looked up once, and numpy does the structural edits.

Reference: Unicode Technical Standard #39, *Unicode Security Mechanisms*, section 4
(confusable detection, skeletons); Unicode Standard Annex #15 (normalisation forms).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import AnyStr, NamedTuple

import numpy as np

from trainguard.guard.offsets import DropMap, FoldMap, concat_ranges, sorted_union

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
_KEY_CODES = np.frombuffer(_KEY_BYTES, dtype=np.uint8)
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
    """A text in folded and matching form, with compact maps back to original offsets."""

    original: str
    folded: str
    """Per-code-point folded text (NFKC, confusables, case; invisible characters removed)."""
    key: str
    """Matching key: ``folded`` with leet folded, punctuation as spaces, structural edits,
    and one space of padding at each end so that word entries can be written ``" term "``."""
    invisible: int
    """How many format or combining characters were removed (zero-width, bidi, tags)."""
    key_map: DropMap = field(repr=False, compare=False)
    """Key offset -> offset in the padded ``folded`` (the dropped positions)."""
    codes: np.ndarray = field(repr=False, compare=False)
    """Code points of ``original`` (``uint8`` when it is ASCII, else ``uint32``)."""
    fold_map: FoldMap | None = field(default=None, repr=False, compare=False)
    """Folded offset -> original offset; ``None`` means the identity."""

    @cached_property
    def folded_index(self) -> np.ndarray | None:
        """``folded_index[i]`` = original offset of ``folded[i]``; ``None`` means the identity."""
        if self.fold_map is None:
            return None
        return self.fold_map(np.arange(len(self.folded)))

    @cached_property
    def key_index(self) -> np.ndarray:
        """``key_index[i]`` = original offset of ``key[i]`` (the padding maps to the ends)."""
        return self._key_to_original(np.arange(len(self.key)))

    def key_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the key span ``[start, end)`` to a span of the original text."""
        s, e = self.key_spans(np.array([start]), np.array([end]))
        return int(s[0]), int(e[0])

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` to a span of the original text."""
        if self.fold_map is None:
            return start, end
        s, e = self._spans(self.fold_map, len(self.folded), np.array([start]), np.array([end]))
        return int(s[0]), int(e[0])

    def key_spans(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`key_span` of many spans at once (arrays of starts and ends)."""
        return self._spans(self._key_to_original, len(self.key), starts, ends)

    def _key_to_original(self, key_offsets: np.ndarray) -> np.ndarray:
        padded = self.key_map(key_offsets)
        size = len(self.folded)
        folded = np.clip(padded - 1, 0, max(size - 1, 0))
        out = folded if self.fold_map is None else self.fold_map(folded)
        out = np.where(padded == 0, 0, out)
        return np.where(padded > size, len(self.original), out)

    def _spans(
        self,
        to_original: Callable[[np.ndarray], np.ndarray],
        size: int,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Original spans from ``to_original(start)`` to where the next kept character begins.

        Characters dropped after a span (the third ``l`` of ``"killl"``, combining
        marks) are included; trailing whitespace is not.
        """
        n = len(self.original)
        if size == 0:
            return np.full(len(starts), n), np.full(len(starts), n)

        m = len(starts)
        mapped = to_original(np.clip(np.concatenate((starts, ends - 1, ends)), 0, size - 1))
        o_start = np.where(starts < size, mapped[:m], n)
        empty = ends <= starts
        at_end = np.where(ends < size, mapped[2 * m :], n)
        o_end = np.where(empty, o_start, np.maximum(at_end, mapped[m : 2 * m] + 1))
        live = np.flatnonzero(~empty)
        while live.size:  # trim trailing whitespace, one character per round
            live = live[o_end[live] > o_start[live] + 1]
            last_char = self.codes[np.minimum(o_end[live], n) - 1].astype(np.int64)
            live = live[_WHITESPACE[np.minimum(last_char, len(_WHITESPACE) - 1)]]
            o_end[live] -= 1
        return o_start, np.minimum(o_end, n)


_WHITESPACE = np.array([chr(c).isspace() for c in range(0x3002)], dtype=bool)
"""``_WHITESPACE[c]``: ``str.isspace`` of code point ``c`` (none lies above U+3000, so
higher code points read the last entry, which is false)."""


class _Folded(NamedTuple):
    """Folded text with its one-byte form and its non-ASCII characters."""

    text: str
    ascii: bytes
    """One byte per character of ``text``: itself if ASCII, else ``?``."""
    wide: np.ndarray
    """Offsets in ``text`` of its non-ASCII characters."""
    wide_codes: np.ndarray
    """Their code points."""
    codes: np.ndarray
    """Code points of the text that was folded."""
    fold_map: FoldMap | None
    removed: int


_EMPTY = np.zeros(0, dtype=np.int64)
_SPARSE = 64
"""Texts with at most one non-ASCII character in this many are spliced in Python."""


def _fold(text: str, table: _CharTable = _FOLD) -> _Folded:
    """Fold every code point (ASCII only lower-cased, with the default table).

    The ASCII part is handled in bulk as bytes; each distinct non-ASCII code point is
    looked up once, so the cost of the lookups grows with the number of distinct
    non-ASCII characters.
    """
    lower = table is _FOLD
    if text.isascii():
        out = text.lower() if lower else text
        return _Folded(out, out.encode("ascii"), _EMPTY, _EMPTY, _codes(text), None, 0)
    codes = _codes(text)
    positions = np.flatnonzero(codes > 127)
    uniq, inverse = np.unique(codes[positions], return_inverse=True)
    outs = [table[c] for c in uniq.tolist()]
    lengths = np.array([len(o) for o in outs], dtype=np.int64)[inverse]
    low = text.encode("ascii", "replace")  # one "?" per non-ASCII code point
    low = low.lower() if lower else low
    if (lengths == 1).all():
        mapped = np.array([ord(o) for o in outs], dtype=np.uint32)[inverse]
        one_byte = np.frombuffer(low, dtype=np.uint8).copy()
        wide = mapped > 127
        one_byte[positions] = np.where(wide, ord("?"), mapped)
        ascii_form = one_byte.tobytes()
        if not wide.any():
            return _Folded(ascii_form.decode("ascii"), ascii_form, _EMPTY, _EMPTY, codes, None, 0)
        if len(positions) * _SPARSE <= len(text):
            folded = _splice(
                low.decode("ascii"), positions.tolist(), [outs[i] for i in inverse.tolist()]
            )
        else:
            full = codes.copy()
            full[positions] = mapped
            if lower:
                full[(full >= ord("A")) & (full <= ord("Z"))] += 32
            folded = full.tobytes().decode("utf-32-le")
        return _Folded(folded, ascii_form, positions[wide], mapped[wide], codes, None, 0)
    # Some code points fold to no character or to several: splice their folds in.
    at, chosen = positions.tolist(), inverse.tolist()
    folded = _splice(low.decode("ascii"), at, [outs[i] for i in chosen])
    ascii_outs = [o.encode("ascii", "replace") for o in outs]
    ascii_form = _splice(low, at, [ascii_outs[i] for i in chosen])
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
    return _Folded(folded, ascii_form, wide_at, wide_codes, codes, fold_map, removed)


def _codes(text: str) -> np.ndarray:
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _key_array(folded: _Folded) -> tuple[np.ndarray, dict[int, str]]:
    """Key codes of the padded folded text: leet folded, punctuation to space.

    Returns the codes and, for the byte form, the private bytes that stand for
    non-ASCII letters. Text whose non-ASCII letters are at most 127 distinct code
    points is keyed as bytes (``uint8``, each letter as a byte from 128 up); other
    text as code points (``uint32``). A ``!`` reads as ``i`` only when a letter or
    digit follows its run.
    """
    raw = bytearray(b" ")
    raw += folded.ascii
    raw += b" "
    chars = np.frombuffer(raw, dtype=np.uint8)  # a writable view: edited before translation
    letters: dict[int, str] = {}
    wide_keys = None
    if folded.wide.size:
        wide = folded.wide + 1
        uniq, inverse = np.unique(folded.wide_codes, return_inverse=True)
        alnum = np.array([chr(c).isalnum() for c in uniq.tolist()], dtype=bool)
        if alnum.sum() <= 127:
            byte_of = np.full(len(uniq), _SPACE, dtype=np.uint8)
            byte_of[alnum] = 128 + np.arange(alnum.sum(), dtype=np.uint8)
            letters = {128 + i: chr(c) for i, c in enumerate(uniq[alnum].tolist())}
        else:  # a stand-in letter until the code points are written
            byte_of = np.where(alnum, ord("a"), _SPACE).astype(np.uint8)
            wide_keys = np.where(alnum, uniq, _SPACE).astype(np.uint32)[inverse]
        chars[wide] = byte_of[inverse]
    if b"!" in raw:
        bang = np.flatnonzero(chars == _BANG)
        run_last = np.flatnonzero(np.append(bang[1:] != bang[:-1] + 1, True))
        after = _KEY_CODES[
            chars[bang[run_last][np.searchsorted(run_last, np.arange(len(bang)))] + 1]
        ]
        chars[bang[(after == _SPACE) | (after == _STAR)]] = _SPACE
    k = np.frombuffer(raw.translate(_KEY_BYTES), dtype=np.uint8)
    if wide_keys is not None:
        k = k.astype(np.uint32)
        k[folded.wide + 1] = wide_keys
    return k, letters


def _splice(text: AnyStr, positions: list[int], replacements: list[AnyStr]) -> AnyStr:
    """``text`` with the characters at ``positions`` replaced by ``replacements``."""
    pieces: list[AnyStr] = []
    last = 0
    for p, r in zip(positions, replacements, strict=True):
        pieces += (text[last:p], r)
        last = p + 1
    pieces.append(text[last:])
    return text[:0].join(pieces)


def _separator_drops(k: np.ndarray) -> np.ndarray:
    """Key offsets to drop: repeated spaces and gaps in spelled-out words."""
    space = k == _SPACE
    sep = space | (k == _STAR)
    doubles = np.flatnonzero(space[1:] & space[:-1]) + 1
    single = ~sep  # single letters: separators (or an end) on both sides
    single[1:] &= sep[:-1]
    single[:-1] &= sep[1:]
    pos = np.flatnonzero(single)
    if len(pos) < 3:
        return doubles
    # Consecutive single letters at most 3 apart have only separators between them;
    # a chain of >= 2 such links joins >= 3 single letters ("f.u.c.k").
    linked = pos[1:] - pos[:-1] <= 4
    prev = np.concatenate(([False], linked[:-1]))
    nxt = np.concatenate((linked[1:], [False]))
    j = np.flatnonzero(linked & (prev | nxt))
    if not j.size:
        return doubles
    return sorted_union(doubles, concat_ranges(pos[j] + 1, pos[j + 1]))


def _run_drops(k: np.ndarray) -> np.ndarray:
    """Key offsets of the third and later letters of runs of equal letters."""
    if len(k) < 3:
        return _EMPTY
    tail = k[2:]
    run = (tail == k[1:-1]) & (k[1:-1] == k[:-2]) & (tail != _SPACE) & (tail != _STAR)
    return np.flatnonzero(run) + 2


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching and keep the maps back to its offsets.

    Parameters
    ----------
    text
        Any Unicode text.

    Returns
    -------
    Normalized
        The ``folded`` text and the matching ``key``, each with its offset map.
    """
    folded = _fold(text)
    k, letters = _key_array(folded)
    # Separators first, so that runs are shortened across a spelled-out word too.
    dropped = _separator_drops(k)
    if dropped.size:
        k = np.delete(k, dropped)
    runs = _run_drops(k)
    if runs.size:
        dropped = sorted_union(dropped, DropMap(dropped)(runs))
        k = np.delete(k, runs)
    if k.dtype != np.uint8:
        key = k.tobytes().decode("utf-32-le")
    elif letters:
        wide = np.flatnonzero(k > 127)
        key = _splice(
            k.tobytes().decode("latin-1"), wide.tolist(), [letters[c] for c in k[wide].tolist()]
        )
    else:
        key = k.tobytes().decode("ascii")
    return Normalized(
        text, folded.text, key, folded.removed, DropMap(dropped), folded.codes, folded.fold_map
    )


_KEY_STR = {i: chr(int(c)) for i, c in enumerate(_KEY_LUT)}
_RUN3 = re.compile(r"([^ *])\1\1+")
_SPACES = re.compile(r" {2,}")


def key_of(term: str) -> str:
    """The matching key of a list entry (a word or phrase), without padding.

    Equal to ``normalize(term).key.strip()`` for entries that are not spelled out
    letter by letter, at a fraction of the cost (lists have 100k+ entries).
    """
    folded = _fold(term).text
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
    clean = _fold(text, _VISIBLE)
    if clean.fold_map is None:
        return clean.text, None
    return clean.text, clean.fold_map(np.arange(len(clean.text)))


def decode_tag_characters(text: str) -> str:
    """Read Unicode tag characters (U+E0020..U+E007E) as the ASCII they shadow.

    Tag characters are invisible and have been used to smuggle instructions past
    reviewers ("ASCII smuggling"); an empty string means none were present.
    """
    return "".join(chr(ord(c) - 0xE0000) for c in text if ord(c) in _TAG_BLOCK)
