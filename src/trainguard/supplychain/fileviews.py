"""File-object views of scanner sources, and an incremental zlib reader.

``zipfile``, ``tarfile``, h5py and the decompressors want file objects; these wrap a
bounded :class:`~trainguard.supplychain.reader.Source` without copying it.
"""

from __future__ import annotations

import io
import zlib
from typing import IO

from trainguard.supplychain.reader import FileWindow, Source


class SourceIO(io.RawIOBase):
    """A :class:`Source` seen as a readable binary file (for the decompressors)."""

    def __init__(self, src: Source) -> None:
        super().__init__()
        self._src = src

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``b``; return the count (0 at the end)."""
        data = self._src.read_at_most(len(b))
        b[: len(data)] = data
        return len(data)


class ZlibStream(io.RawIOBase):
    """Incremental zlib (``wbits=15``) or raw deflate (``wbits=-15``) decompression."""

    def __init__(self, raw: IO[bytes] | io.BufferedReader, wbits: int) -> None:
        super().__init__()
        self._raw = raw
        self._d = zlib.decompressobj(wbits)

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``b``; return the count (0 at the end)."""
        while not self._d.eof:
            data = self._d.unconsumed_tail or self._raw.read(1 << 16)
            if not data:
                return 0
            out = self._d.decompress(data, len(b))
            if out:
                b[: len(out)] = out
                return len(out)
        return 0


class WindowFile(io.RawIOBase):
    """A seekable, read-only file over a :class:`FileWindow` (for ``zipfile``/``tarfile``)."""

    def __init__(self, win: FileWindow) -> None:
        super().__init__()
        self._win = win
        self._pos = 0

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true."""
        return True

    def tell(self) -> int:
        """Current offset."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` relative to ``whence``."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._win.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``b``; return the count (0 at the end)."""
        part = self._win.window(self._pos, max(0, min(len(b), self._win.size - self._pos)))
        data = part.read_at_most(len(b)) if part is not None else b""
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)
