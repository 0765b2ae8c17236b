"""Compact offset maps from normalised text back to the original text.

Normalisation edits few positions of most texts: a handful of code points fold to no
character or to several (zero-width characters, ligatures), and some key positions are
dropped (repeated spaces, the gaps of spelled-out words, long letter runs). Rather
than one integer per character, the maps below keep only those edits and translate
offsets in bulk by binary search (:func:`numpy.searchsorted`), so a map costs
nothing until a span is asked for, and then one search per span end.
"""

from __future__ import annotations

import numpy as np

_NO_CHANGE = np.iinfo(np.int64).max


class FoldMap:
    """Folded offset -> original offset, from the code points whose fold is not one character.

    Parameters
    ----------
    positions
        Original offsets of those code points, increasing.
    lengths
        Their folded lengths (0: removed; 2 or more: expanded).
    """

    def __init__(self, positions: np.ndarray, lengths: np.ndarray) -> None:
        positions = positions.astype(np.int64)
        lengths = lengths.astype(np.int64)
        self.shift = np.concatenate(([0], np.cumsum(lengths - 1)))
        """``shift[m]``: folded minus original offset after the first ``m`` changes."""
        self.ends = positions + self.shift[:-1] + lengths
        """Folded offset where each changed code point's fold ends."""
        self.next = np.append(positions, _NO_CHANGE)

    def __call__(self, folded: np.ndarray) -> np.ndarray:
        """Original offsets of the folded offsets ``folded``."""
        m = np.searchsorted(self.ends, folded, side="right")
        # Inside an expansion the plain shift overshoots: clamp to the changed code point.
        return np.minimum(folded - self.shift[m], self.next[m])


class DropMap:
    """Kept offset -> offset before some positions were dropped.

    Parameters
    ----------
    dropped
        The dropped offsets, increasing and distinct.
    """

    def __init__(self, dropped: np.ndarray) -> None:
        self.dropped = dropped.astype(np.int64)
        self._gaps = self.dropped - np.arange(len(self.dropped))

    def __call__(self, kept: np.ndarray) -> np.ndarray:
        """Offsets before the drops of the kept offsets ``kept``."""
        return kept + np.searchsorted(self._gaps, kept, side="right")


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, e) for s, e in zip(starts, ends)])`` for non-empty ranges."""
    lengths = ends - starts
    before = np.cumsum(lengths) - lengths
    return np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))


def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted distinct values of two increasing integer arrays.

    A stable sort (timsort) of the two runs is a linear merge.
    """
    both = np.concatenate((a, b))
    both.sort(kind="stable")
    return both[np.concatenate(([True], both[1:] != both[:-1]))] if both.size else both
