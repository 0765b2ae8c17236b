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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from trainguard.guard.folding import VISIBLE, Folded, fold_text, splice
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
    upper = np.arange(ord("A"), ord("Z") + 1)
    lut[upper] = lut[upper + 32]  # the folded bytes keep their case
    return lut


_KEY_LUT = _key_table()
_KEY_BYTES = _KEY_LUT.astype(np.uint8).tobytes() + bytes(range(128, 256))
_KEY_CODES = np.frombuffer(_KEY_BYTES, dtype=np.uint8)
_SPACE, _STAR, _BANG = ord(" "), ord("*"), ord("!")
_TAG_BLOCK = range(0xE0000, 0xE0080)
_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Normalized:
    """A text in folded and matching form, with compact maps back to original offsets."""

    original: str
    key: str
    """Matching key: ``folded`` with leet folded, punctuation as spaces, structural edits,
    and one space of padding at each end so that word entries can be written ``" term "``."""
    invisible: int
    """How many format or combining characters were removed (zero-width, bidi, tags)."""
    folded_length: int
    """``len(folded)``, known before ``folded`` is built."""
    key_map: DropMap = field(repr=False, compare=False)
    """Key offset -> offset in the padded ``folded`` (the dropped positions)."""
    one_byte: bytes = field(repr=False, compare=False)
    """One byte per code point of ``original``: itself if ASCII, else ``?``."""
    make_folded: Callable[[], str] = field(repr=False, compare=False)
    fold_map: FoldMap | None = field(default=None, repr=False, compare=False)
    """Folded offset -> original offset; ``None`` means the identity."""
    key_bytes: bytes = field(default=b"", repr=False, compare=False)
    """One byte per character of ``key``: itself if ASCII, else ``?`` (what the keyword
    stage's anchor prefilter reads)."""
    non_ascii: np.ndarray = field(default_factory=lambda: _NONE, repr=False, compare=False)
    """Offsets in ``original`` of its non-ASCII code points."""

    @cached_property
    def folded(self) -> str:
        """Per-code-point folded text (NFKC, confusables, case; invisible characters removed).

        Built on first use: the keyword stage needs only the key.
        """
        return self.make_folded()

    def texts(self, starts: np.ndarray, ends: np.ndarray) -> list[str]:
        """The original text of many spans ``[start, end)``.

        Many spans of a text that is not all ASCII are sliced from its one-byte form
        (slicing ASCII is faster), those holding a non-ASCII character from the text.
        """
        original = self.original
        spans = zip(starts.tolist(), ends.tolist(), strict=True)
        if len(starts) <= _FEW_SPANS or original.isascii():
            return [original[a:b] for a, b in spans]
        one_byte = self.one_byte.decode("ascii")
        out = [one_byte[a:b] for a, b in spans]
        wide = self.non_ascii
        for i in np.flatnonzero(np.searchsorted(wide, starts) < np.searchsorted(wide, ends)):
            out[i] = original[starts[i] : ends[i]]
        return out

    def code_points(self, offsets: np.ndarray) -> np.ndarray:
        """Code points of ``original`` at ``offsets``."""
        out = np.frombuffer(self.one_byte, dtype=np.uint8)[offsets].astype(np.int64)
        for i in np.flatnonzero(out == ord("?")).tolist():
            out[i] = ord(self.original[offsets[i]])
        return out

    @cached_property
    def folded_index(self) -> np.ndarray | None:
        """``folded_index[i]`` = original offset of ``folded[i]``; ``None`` means the identity."""
        if self.fold_map is None:
            return None
        return self.fold_map(np.arange(self.folded_length))

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
        s, e = self._spans(self.fold_map, self.folded_length, np.array([start]), np.array([end]))
        return int(s[0]), int(e[0])

    def key_spans(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`key_span` of many spans at once (arrays of starts and ends)."""
        return self._spans(self._key_to_original, len(self.key), starts, ends)

    def _key_to_original(self, key_offsets: np.ndarray) -> np.ndarray:
        padded = self.key_map(key_offsets)
        size = self.folded_length
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

        # Interleaved, the offsets of ordered spans are sorted: faster binary searches.
        offsets = np.stack((starts, ends - 1, ends), axis=1).ravel()
        mapped = to_original(np.clip(offsets, 0, size - 1)).reshape(-1, 3)
        o_start = np.where(starts < size, mapped[:, 0], n)
        empty = ends <= starts
        at_end = np.where(ends < size, mapped[:, 2], n)
        o_end = np.where(empty, o_start, np.maximum(at_end, mapped[:, 1] + 1))
        live = np.flatnonzero(~empty)
        while live.size:  # trim trailing whitespace, one character per round
            live = live[o_end[live] > o_start[live] + 1]
            last_char = self.code_points(np.minimum(o_end[live], n) - 1)
            live = live[_WHITESPACE[np.minimum(last_char, len(_WHITESPACE) - 1)]]
            o_end[live] -= 1
        return o_start, np.minimum(o_end, n)


_FEW_SPANS = 32
"""Up to this many spans are sliced from the original text directly."""
_WHITESPACE = np.array([chr(c).isspace() for c in range(0x3002)], dtype=bool)
"""``_WHITESPACE[c]``: ``str.isspace`` of code point ``c`` (none lies above U+3000, so
higher code points read the last entry, which is false)."""


def _key_array(folded: Folded) -> tuple[np.ndarray, dict[int, str]]:
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
    k = np.frombuffer(raw.translate(_KEY_BYTES), dtype=np.uint8)  # writable (a bytearray)
    if wide_keys is not None:
        k = k.astype(np.uint32)
        k[folded.wide + 1] = wide_keys
    return k, letters


def _separator_drops(k: np.ndarray, star: bool) -> np.ndarray:
    """Key offsets to drop: repeated spaces and gaps in spelled-out words.

    ``star``: whether the key may hold a ``*``.
    """
    space = k == _SPACE
    sep = space | (k == _STAR) if star else space
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
        return np.zeros(0, dtype=np.int64)
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
    folded = fold_text(text)
    k, letters = _key_array(folded)
    # Separators first, so that runs are shortened across a spelled-out word too.
    dropped = _separator_drops(k, b"*" in folded.ascii)
    if dropped.size:
        k = np.delete(k, dropped)
    runs = _run_drops(k)
    if runs.size:
        dropped = sorted_union(dropped, DropMap(dropped)(runs))
        k = np.delete(k, runs)
    if k.dtype != np.uint8:
        key = k.tobytes().decode("utf-32-le")
        key_bytes = np.where(k > 127, ord("?"), k).astype(np.uint8).tobytes()
    elif letters:
        wide = np.flatnonzero(k > 127)
        letter = [letters[c] for c in k[wide].tolist()]
        key = splice(k.tobytes().decode("latin-1"), wide.tolist(), letter)
        k[wide] = ord("?")
        key_bytes = k.tobytes()
    else:
        key_bytes = k.tobytes()
        key = key_bytes.decode("ascii")
    return Normalized(text, key, folded.removed, len(folded.ascii), DropMap(dropped),
                      folded.original, folded.text, folded.fold_map, key_bytes,
                      folded.non_ascii)  # fmt: skip


_KEY_STR = {i: chr(int(c)) for i, c in enumerate(_KEY_LUT)}
_RUN3 = re.compile(r"([^ *])\1\1+")
_SPACES = re.compile(r" {2,}")


def key_of(term: str) -> str:
    """The matching key of a list entry (a word or phrase), without padding.

    Equal to ``normalize(term).key.strip()`` for entries that are not spelled out
    letter by letter, at a fraction of the cost (lists have 100k+ entries).
    """
    folded = fold_text(term).text()
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
    clean = fold_text(text, VISIBLE)
    if clean.fold_map is None:
        return clean.text(), None
    return clean.text(), clean.fold_map(np.arange(len(clean.ascii)))


def decode_tag_characters(text: str) -> str:
    """Read Unicode tag characters (U+E0020..U+E007E) as the ASCII they shadow.

    Tag characters are invisible and have been used to smuggle instructions past
    reviewers ("ASCII smuggling"); an empty string means none were present.
    """
    return "".join(chr(ord(c) - 0xE0000) for c in text if ord(c) in _TAG_BLOCK)
