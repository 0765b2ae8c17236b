"""Anchor prefilter for the keyword automaton: walk only the text that can hold a match.

Every key of the automaton gets one *anchor*, a q-gram (q = 5) of the key at a
fixed offset. An occurrence of a key contains its anchor, so it lies in the window
from the anchor's occurrence back by the longest key prefix before that anchor and
forward by the longest rest, over the keys that share it. The automaton walks only
those windows, joined by a NUL (no key holds one, so the automaton is back at its
root at each window), and finds exactly the matches that a walk of the whole text
finds.

Anchors are rare in English: each key takes the q-gram with the fewest occurrences
in the English documentation that ships with CPython (``pydoc_data.topics``,
normalised like any text; ties go to the fewer occurrences of its two (q-1)-grams).
The texts being scanned never enter the choice. A key shorter than q is its own
anchor, followed by every byte that a key can hold. The text is read as integers
through unaligned numpy views of its key bytes: its 4-grams at even offsets are
hashed, in blocks that stay in cache, into a table of the anchors' two 4-grams (an
anchor starts at such an offset or one before), and the few q-grams that pass are
checked exactly.

References: X. Wang et al., "Hyperscan: a fast multi-pattern regex matcher for
modern CPUs", NSDI 2019 (a literal prefilter confirmed by an automaton);
L. Salmela, J. Tarhio and J. Kytojoki, "Multipattern string matching with
q-grams", ACM Journal of Experimental Algorithmics 11 (2006).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np

from trainguard.guard.normalize import normalize
from trainguard.guard.offsets import concat_ranges

Q = 5
"""Anchor length (bytes)."""
KEY_ALPHABET = b" *?abcdefghijklmnopqrstuvwxyz"
"""The bytes of a reduced key (``?`` stands for every other character)."""
_PAD = b"\0" * 8
_REDUCE = bytes(c if c in KEY_ALPHABET else ord("?") for c in range(256))
_HASH_BITS = 20
_MUL, _MUL32 = np.uint64(0x9E3779B97F4A7C15), np.uint32(0x9E3779B1)
_SHIFT = np.uint64(64 - 8 * Q)
_TOP, _TOP32 = np.uint64(64 - _HASH_BITS), np.uint32(32 - _HASH_BITS)
_MASK, _MASK4 = np.uint64((1 << (8 * Q)) - 1), np.uint64((1 << (8 * Q - 8)) - 1)
_BLOCK = 1 << 17
"""4-grams hashed per block (the block's arrays stay in the CPU cache)."""


def reduce_key(key: str) -> bytes:
    """One byte per character of a key: itself if in :data:`KEY_ALPHABET`, else ``?``."""
    return key.encode("ascii", "replace").translate(_REDUCE)


def _grams(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of ``data`` and the 8-byte little-endian integer at each of its offsets."""
    padded = np.frombuffer(data + _PAD, dtype=np.uint8)
    return padded, np.ndarray((len(data),), dtype="<u8", buffer=padded, strides=(1,))


@lru_cache(maxsize=1)
def _english() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Sorted distinct q-gram and (q-1)-gram codes of English text, with their counts."""
    try:
        from pydoc_data import topics
    except ImportError:  # pragma: no cover - a Python built without its docs
        english = ""
    else:
        english = "\n".join(topics.topics.values())
    grams = _grams(normalize(english).key_bytes)[1]
    return tuple(np.unique(grams & mask, return_counts=True) for mask in (_MASK, _MASK4))


def _count(table: tuple[np.ndarray, np.ndarray], codes: np.ndarray) -> np.ndarray:
    known, counts = table
    if not known.size:
        return np.zeros(codes.shape, dtype=np.int64)
    at = np.minimum(np.searchsorted(known, codes), len(known) - 1)
    return np.where(known[at] == codes, counts[at], 0)


def _rarest(grams: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Offset of the rarest in English of the ``count`` q-grams from each of ``first``.

    A q-gram's rarity is its English count, ties broken by its two (q-1)-grams' counts.
    """
    at = concat_ranges(first, first + count)
    five, four = _english()
    back = _count(four, grams[at] & _MASK4) + _count(four, grams[at + 1] & _MASK4)
    score = _count(five, grams[at] & _MASK) + back / (2.0 * back.max() + 1.0)
    owner = np.repeat(np.arange(len(first)), count)
    best = np.flatnonzero(score == np.minimum.reduceat(score, np.cumsum(count) - count)[owner])
    best = best[np.concatenate(([True], owner[best][1:] != owner[best][:-1]))]
    return at[best] - first


def _anchors(keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor codes of the keys, with the key offset of each and the key length."""
    flat = "".join(keys).encode("ascii", "replace").translate(_REDUCE)
    lengths = np.array([len(k) for k in keys], dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    grams = _grams(flat)[1]
    long = np.flatnonzero(lengths >= Q)
    none = np.zeros(0, dtype=np.int64)
    codes, offsets, sizes = [none.astype(np.uint64)], [none], [none]
    if long.size:
        offset = _rarest(grams, first[long], lengths[long] - Q + 1)
        codes.append(grams[first[long] + offset] & _MASK)
        offsets.append(offset)
        sizes.append(lengths[long])
    for i in np.flatnonzero(lengths < Q).tolist():  # a short key, then any key byte or the end
        key = flat[first[i] : first[i] + lengths[i]]
        tails = itertools.product(KEY_ALPHABET + b"\0", repeat=Q - len(key))
        grown = b"".join(key + bytes(t) + _PAD[Q:] for t in tails)
        codes.append(np.frombuffer(grown, dtype="<u8"))
        offsets.append(np.zeros(len(codes[-1]), dtype=np.int64))
        sizes.append(np.full(len(codes[-1]), len(key)))
    return np.concatenate(codes), np.concatenate(offsets), np.concatenate(sizes)


class AnchorFilter:
    """Anchors of a set of automaton keys and the windows of a text that may hold them.

    Parameters
    ----------
    keys
        The automaton's keys; each must be at least 3 characters long.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys or min(map(len, keys)) < 3:
            raise ValueError("anchor filter: keys must be at least 3 characters long")
        code, offset, size = _anchors(keys)
        order = np.argsort(code, kind="stable")
        code, offset, size = code[order], offset[order], size[order]
        first = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
        self.codes = code[first]
        """Distinct anchor codes (the q bytes, little-endian), sorted."""
        self.before = np.maximum.reduceat(offset, first)
        """Longest key prefix before each anchor."""
        self.after = np.maximum.reduceat(size - offset, first)
        """Longest rest of a key from each anchor on."""
        # Anchor index per hash bucket (-1: none, -2: several: searched for).
        self._slot = np.full(1 << _HASH_BITS, -1, dtype=np.int32)
        buckets = self._hash(self.codes)
        self._slot[buckets] = np.arange(len(self.codes), dtype=np.int32)
        shared, counts = np.unique(buckets, return_counts=True)
        self._slot[shared[counts > 1]] = -2
        # Hashed 4-grams of the anchors: bit 1 for their first, bit 2 for their second
        # (and as booleans: numpy takes from a boolean table faster).
        self._which = np.zeros(1 << _HASH_BITS, dtype=np.uint8)
        for bit, quads in enumerate((self.codes, self.codes >> np.uint64(8))):
            self._which[(quads.astype(np.uint32) * _MUL32) >> _TOP32] |= 1 << bit
        self._quads = self._which != 0

    @staticmethod
    def _hash(codes: np.ndarray) -> np.ndarray:
        return (((codes << _SHIFT) * _MUL) >> _TOP).view(np.int64)

    def _starts(self, padded: np.ndarray, n: int) -> np.ndarray:
        """Offsets below ``n`` where an anchor may start (a superset).

        The 4-grams at even offsets are hashed: an anchor starts at one whose hash
        matches its first 4-gram, or one before one that matches its second.
        """
        quads = np.ndarray(((n + 1) // 2,), dtype="<u4", buffer=padded, strides=(2,))
        size = min(len(quads), _BLOCK)
        hashed, index = np.empty(size, dtype=np.uint32), np.empty(size, dtype=np.int64)
        passed = np.empty(len(quads), dtype=bool)
        for i in range(0, len(quads), _BLOCK):
            block = quads[i : i + _BLOCK]
            h, at = hashed[: len(block)], index[: len(block)]
            np.multiply(block, _MUL32, out=h)
            np.right_shift(h, _TOP32, out=at, casting="unsafe")
            np.take(self._quads, at, out=passed[i : i + _BLOCK])
        even = np.flatnonzero(passed)
        found = self._which[(quads[even] * _MUL32) >> _TOP32]
        second = 2 * even[(found & 2) != 0] - 1
        return np.concatenate((2 * even[(found & 1) != 0], second[second >= 0]))

    def windows(self, key_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Disjoint windows ``[start, end)`` of a key that hold every key occurrence.

        ``key_bytes`` is the key reduced to one byte per character (:func:`reduce_key`).
        """
        n = len(key_bytes)
        padded, grams = _grams(key_bytes)
        pos = self._starts(padded, n)
        code = grams[pos] & _MASK
        at = self._slot[self._hash(code)]
        shared = np.flatnonzero(at == -2)
        at[shared] = np.minimum(np.searchsorted(self.codes, code[shared]), len(self.codes) - 1)
        exact = self.codes[at] == code
        pos, at = pos[exact], at[exact]
        start = np.maximum(pos - self.before[at], 0)
        end = np.minimum(pos + self.after[at], n)
        if not start.size:
            return start, end
        order = np.argsort(start, kind="stable")
        start, end = start[order], end[order]
        reach = np.maximum.accumulate(end)
        first = np.flatnonzero(np.concatenate(([True], start[1:] > reach[:-1])))
        return start[first], np.maximum.reduceat(end, first)


def walk_windows(
    walk: Callable[[str], np.ndarray], text: str | bytes, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """``walk`` (rows of end offset, value) over windows of ``text``, in ``text`` offsets.

    The windows are joined by NUL characters (which no key may hold). ``text`` as ASCII
    bytes is joined in bulk.
    """
    if not start.size:
        return np.zeros((0, 2), dtype=np.int64)
    where = concat_ranges(start, end + 1)  # each window and the NUL after it
    where[np.cumsum(end - start + 1) - 1] = len(text)  # the NUL appended below
    if isinstance(text, bytes):
        joined = np.frombuffer(text + b"\0", dtype=np.uint8)[where].tobytes().decode("ascii")
    else:
        pieces = [text[a:b] for a, b in zip(start.tolist(), end.tolist(), strict=True)]
        joined = "\0".join(pieces) + "\0"
    found = walk(joined)
    found[:, 0] = where[found[:, 0]]
    return found
