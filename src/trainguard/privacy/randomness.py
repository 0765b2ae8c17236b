"""Sources of randomness for DP noise: a seeded generator for tests, the OS CSPRNG for production.

Every sampler in :mod:`trainguard.privacy` draws raw bytes from a source and turns
them into uniform floats or integers itself, so the seeded NumPy generator and the
cryptographically secure source follow exactly the same code path. ``rng=None``
means the secure source (:class:`SecureRandom`, backed by :func:`os.urandom`); an
``int`` seeds a :class:`numpy.random.Generator`. No function here touches a global
random state.
"""

from __future__ import annotations

import os
from typing import Protocol, TypeAlias

import numpy as np

from trainguard.core.errors import ParameterError


class ByteSource(Protocol):
    """Anything that returns ``n`` random bytes (``numpy.random.Generator`` does)."""

    def bytes(self, length: int) -> bytes:
        """Return ``length`` random bytes."""
        ...


class SecureRandom:
    """Cryptographically secure randomness from the operating system (:func:`os.urandom`).

    Use it (or ``rng=None``) for releases; a seeded generator only for tests.
    """

    def bytes(self, length: int) -> bytes:
        """Return ``length`` bytes from the OS CSPRNG."""
        return os.urandom(length)


RandomState: TypeAlias = int | np.random.Generator | SecureRandom | None
"""What every stochastic function accepts as ``rng``: a seed, a generator, or None (secure)."""


def as_source(rng: RandomState) -> np.random.Generator | SecureRandom:
    """The byte source for ``rng``: secure for ``None``, seeded NumPy for an ``int``."""
    if rng is None:
        return SecureRandom()
    if isinstance(rng, bool) or not isinstance(rng, int | np.random.Generator | SecureRandom):
        raise ParameterError(
            "The 'rng' parameter must be an int seed, a numpy Generator, a SecureRandom "
            f"or None. Got {rng!r} instead."
        )
    if isinstance(rng, int):
        return np.random.default_rng(rng)
    return rng


def uniform(source: ByteSource, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Uniform floats in the open interval (0, 1) with 53 random bits each.

    The value ``(k + 0.5) / 2**53`` for a uniform 53-bit ``k`` never hits 0 or 1, so
    inverse-CDF transforms stay finite.
    """
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    words = np.frombuffer(source.bytes(8 * n), dtype=np.uint64) >> np.uint64(11)
    return ((words.astype(np.float64) + 0.5) * 2.0**-53).reshape(shape)


def randbelow(source: ByteSource, n: int) -> int:
    """A uniform integer in ``[0, n)`` for any positive Python ``int`` (rejection sampling)."""
    if n <= 1:
        return 0
    bits = (n - 1).bit_length()
    nbytes = (bits + 7) // 8
    mask = (1 << bits) - 1
    while True:
        k = int.from_bytes(source.bytes(nbytes), "little") & mask
        if k < n:
            return k
