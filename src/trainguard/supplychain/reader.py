"""Bounded byte sources for the scanner: every read is checked against limits.

A hostile file can declare a length of ``2**63`` bytes, decompress to terabytes, or
nest archives a thousand levels deep. The scanner reads through a :class:`Source`
that never allocates more than it has checked against the bytes really present, and
a :class:`Budget` shared by one top-level file that stops the scan (with
:class:`LimitExceeded`) when a time, byte or depth limit is reached.
"""

from __future__ import annotations

import lzma
import time
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from trainguard.core.validation import check_int, check_positive

_CHUNK = 1 << 20
_BUFFER = 1 << 16


class ScanAborted(Exception):
    """The scan of one stream had to stop; the message says why (one line)."""


class Truncated(ScanAborted):
    """The stream ends before a declared length or a terminator."""


class LimitExceeded(ScanAborted):
    """A scan limit (time, bytes, depth, count) was reached."""


@dataclass(frozen=True)
class ScanLimits:
    """Bounds that keep a scan of hostile input small in memory and time.

    Parameters
    ----------
    max_seconds
        Wall-clock budget for one top-level file (archives and nested pickles included).
    max_decompressed_bytes
        Most bytes a compressed stream (zip member, gzip, joblib compression) may yield.
    max_compression_ratio
        Largest declared uncompressed/compressed ratio accepted for a zip member
        holding more than 1 MiB (zip bombs reach ratios above 1000).
    max_pickle_ops
        Most opcodes walked in one file; this also bounds the symbolic machine's memory
        (at most one stack or memo entry, some tens of bytes, per opcode).
    max_depth
        Deepest nesting of archives and nested pickles.
    max_members
        Most members read from one archive.
    max_files
        Most files visited by one directory scan.
    max_inline_bytes
        Strings and bytes up to this size are kept in memory; longer payloads are
        skipped (tensor data) and re-read only if a nested scan needs them.
    max_json_bytes
        Largest JSON header or config read (safetensors, Keras, ONNX metadata).
    """

    max_seconds: float = 120.0
    max_decompressed_bytes: int = 2 << 30
    max_compression_ratio: float = 200.0
    max_pickle_ops: int = 10_000_000
    max_depth: int = 4
    max_members: int = 100_000
    max_files: int = 100_000
    max_inline_bytes: int = 1 << 20
    max_json_bytes: int = 100_000_000

    def __post_init__(self) -> None:
        owner = "ScanLimits"
        check_positive(self.max_seconds, "max_seconds", owner)
        check_positive(self.max_compression_ratio, "max_compression_ratio", owner)
        for name in (
            "max_decompressed_bytes",
            "max_pickle_ops",
            "max_depth",
            "max_members",
            "max_files",
            "max_inline_bytes",
            "max_json_bytes",
        ):
            check_int(getattr(self, name), name, owner, low=1)


@dataclass
class Budget:
    """What one top-level file may still spend: a deadline and an opcode count."""

    limits: ScanLimits
    deadline: float = 0.0
    ops: int = 0
    bytes_read: int = 0
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.deadline = self.started + self.limits.max_seconds

    def tick(self, n_ops: int = 1) -> None:
        """Count ``n_ops`` opcodes; raise :class:`LimitExceeded` past a limit."""
        self.ops += n_ops
        if self.ops > self.limits.max_pickle_ops:
            raise LimitExceeded(f"more than {self.limits.max_pickle_ops} pickle opcodes")
        self.check_time()

    def check_time(self) -> None:
        """Raise :class:`LimitExceeded` once the deadline has passed."""
        if time.perf_counter() > self.deadline:
            raise LimitExceeded(f"time limit of {self.limits.max_seconds:g} s reached")


class Source(Protocol):
    """A sequential byte stream with bounded reads (offsets relative to its start)."""

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or :class:`Truncated`."""
        ...

    def read_at_most(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end)."""
        ...

    def readline(self, limit: int) -> bytes:
        r"""Bytes up to and including ``\\n``; :class:`Truncated` without one in ``limit``."""
        ...

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes, without consuming them."""
        ...

    def skip(self, n: int) -> None:
        """Move ``n`` bytes forward without keeping them."""
        ...

    def tell(self) -> int:
        """Current offset."""
        ...

    def remaining(self) -> int | None:
        """Bytes left, or ``None`` when unknown (a decompressing stream)."""
        ...

    def window(self, offset: int, length: int) -> Source | None:
        """A new source over ``[offset, offset + length)``, or ``None`` if not seekable."""
        ...


class FileWindow:
    """A seekable window ``[start, start + length)`` of an open binary file.

    Small reads are served from a 64 KiB buffer, so walking a pickle costs few system
    calls; skips only move the offset.
    """

    def __init__(self, fh: IO[bytes], start: int, length: int, budget: Budget) -> None:
        self._fh = fh
        self._start = start
        self._length = length
        self._pos = 0
        self._budget = budget
        self._buf = b""
        self._buf_at = 0

    @property
    def size(self) -> int:
        """Length of the window."""
        return self._length

    def _fill(self, n: int) -> None:
        """Make ``[pos, pos + n)`` available in the buffer (``n`` already bounds-checked)."""
        if self._buf_at <= self._pos and self._pos + n <= self._buf_at + len(self._buf):
            return
        want = min(max(n, _BUFFER), self._length - self._pos)
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(want)
        if len(data) < n:
            raise Truncated(f"file ended at offset {self._pos + len(data)}")
        self._buf, self._buf_at = data, self._pos
        self._budget.bytes_read += len(data)

    def _take(self, n: int) -> bytes:
        if n > _BUFFER:
            self._fh.seek(self._start + self._pos)
            data = self._fh.read(n)
            if len(data) != n:
                raise Truncated(f"file ended at offset {self._pos + len(data)}")
            self._budget.bytes_read += n
        else:
            self._fill(n)
            i = self._pos - self._buf_at
            data = self._buf[i : i + n]
        self._pos += n
        return data

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or :class:`Truncated`."""
        i = self._pos - self._buf_at
        if i >= 0 and n >= 0 and i + n <= len(self._buf) and self._pos + n <= self._length:
            self._pos += n  # the common case: served from the buffer
            return self._buf[i : i + n]
        if n < 0 or n > self._length - self._pos:
            raise Truncated(
                f"needs {n} bytes at offset {self._pos}, only {self._length - self._pos} left"
            )
        return self._take(n)

    def read_at_most(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end)."""
        return self._take(max(0, min(n, self._length - self._pos)))

    def readline(self, limit: int) -> bytes:
        """Bytes up to and including a newline, within ``limit``."""
        limit = min(limit, self._length - self._pos)
        self._fill(min(limit, _BUFFER))
        i = self._pos - self._buf_at
        cut = self._buf.find(b"\n", i, i + limit)
        if cut < 0:
            raise Truncated(f"no line end within {limit} bytes at offset {self._pos}")
        return self._take(cut + 1 - i)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes, without consuming them."""
        data = self.read_at_most(n)
        self._pos -= len(data)
        return data

    def skip(self, n: int) -> None:
        """Move ``n`` bytes forward without keeping them."""
        if n < 0 or n > self._length - self._pos:
            raise Truncated(
                f"needs {n} bytes at offset {self._pos}, only {self._length - self._pos} left"
            )
        self._pos += n

    def tell(self) -> int:
        """Current offset."""
        return self._pos

    def remaining(self) -> int | None:
        """Bytes left, or ``None`` when unknown."""
        return self._length - self._pos

    def window(self, offset: int, length: int) -> FileWindow | None:
        """A source over ``[offset, offset + length)``, or ``None``."""
        if offset < 0 or length < 0 or offset + length > self._length:
            return None
        return FileWindow(self._fh, self._start + offset, length, self._budget)


class StreamSource:
    """A forward-only stream (a decompressor), buffered; skipping reads and discards.

    At most ``limit`` bytes are ever taken from the stream; asking for more raises
    :class:`LimitExceeded`.
    """

    def __init__(self, stream: Any, budget: Budget, *, limit: int) -> None:
        self._stream = stream
        self._budget = budget
        self._limit = limit
        self._buf = b""
        self._i = 0  # unread data is self._buf[self._i:]
        self._pos = 0  # offset of self._buf[self._i]
        self._taken = 0  # bytes taken from the stream so far

    def _fill(self, n: int) -> int:
        """Buffer at least ``n`` unread bytes if the stream and the limit allow; return count."""
        have = len(self._buf) - self._i
        if have >= n:
            return have
        parts = [self._buf[self._i :]]
        while have < n and self._taken < self._limit:
            want = min(max(n - have, _BUFFER), self._limit - self._taken)
            try:
                chunk = self._stream.read(want)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise Truncated(f"corrupt compressed data near offset {self._pos}: {exc}") from None
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            self._taken += len(chunk)
            self._budget.bytes_read += len(chunk)
        self._buf, self._i = b"".join(parts), 0
        return have

    def _short(self, n: int) -> ScanAborted:
        if self._taken >= self._limit:
            return LimitExceeded(f"decompressed data exceeds {self._limit} bytes")
        return Truncated(f"needs {n} bytes at offset {self._pos}, stream ended")

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or :class:`Truncated`."""
        if n < 0:
            raise Truncated(f"negative length {n} at offset {self._pos}")
        if self._fill(n) < n:
            raise self._short(n)
        return self._consume(n)

    def _consume(self, n: int) -> bytes:
        data = self._buf[self._i : self._i + n]
        self._i += len(data)
        self._pos += len(data)
        return data

    def read_at_most(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end)."""
        return self._consume(min(max(0, n), self._fill(max(0, n))))

    def readline(self, limit: int) -> bytes:
        """Bytes up to and including a newline, within ``limit``."""
        have = self._fill(min(limit, _BUFFER))
        cut = self._buf.find(b"\n", self._i, self._i + min(have, limit))
        if cut < 0:
            raise Truncated(f"no line end within {limit} bytes at offset {self._pos}")
        return self._consume(cut + 1 - self._i)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes, without consuming them."""
        have = self._fill(n)
        return self._buf[self._i : self._i + min(n, have)]

    def skip(self, n: int) -> None:
        """Move ``n`` bytes forward without keeping them."""
        left = n
        while left > 0:
            step = min(left, max(_CHUNK, len(self._buf) - self._i))
            if self._fill(min(step, _CHUNK)) == 0:
                raise self._short(n)
            left -= len(self._consume(min(left, len(self._buf) - self._i)))
            self._budget.check_time()

    def tell(self) -> int:
        """Current offset."""
        return self._pos

    def remaining(self) -> int | None:
        """Bytes left, or ``None`` when unknown."""
        return None

    def window(self, offset: int, length: int) -> None:
        """A source over ``[offset, offset + length)``, or ``None``."""
        return None
