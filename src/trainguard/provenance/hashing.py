"""Streaming, parallel SHA-256 of files and folders.

Files are read in fixed-size chunks into one reused buffer, so a file of any size
hashes in constant memory. Many files are hashed by a thread pool: ``hashlib``
releases the GIL while it hashes a chunk and the kernel releases it while it reads,
so threads keep every core busy without copying data between processes. Small
files are grouped into batches to keep the per-task overhead low.

The digests are plain SHA-256 (FIPS 180-4) of the file bytes, the same values
``sha256sum`` prints.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trainguard.core.errors import DataError
from trainguard.core.progress import progress_bar
from trainguard.core.validation import check_int

CHUNK_SIZE = 1 << 20
"""Bytes read per call while streaming a file (1 MiB)."""
BATCH_BYTES = 8 << 20
"""Small files are grouped into tasks of about this many bytes (8 MiB)."""
BATCH_FILES = 256
"""... and at most this many files per task."""


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _digest(path: str | os.PathLike[str], buf: bytearray) -> str:
    """Stream ``path`` through SHA-256 using the caller's reusable buffer.

    Reads with ``os.readv`` straight into the buffer where the platform has it (no
    file object per file, which matters for many small files).
    """
    h = hashlib.sha256()
    view = memoryview(buf)
    try:
        if hasattr(os, "readv"):
            fd = os.open(path, os.O_RDONLY)
            try:
                while n := os.readv(fd, [buf]):
                    h.update(view[:n])
            finally:
                os.close(fd)
        else:  # pragma: no cover - Windows
            with open(path, "rb", buffering=0) as fh:
                while n := fh.readinto(buf):
                    h.update(view[:n])
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return h.hexdigest()


def hash_file(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> str:
    """Hex SHA-256 of a file, streamed in chunks of ``chunk_size`` bytes.

    Parameters
    ----------
    path
        The file to hash.
    chunk_size
        Bytes read per call; memory use is one buffer of this size.

    Raises
    ------
    DataError
        If the file cannot be read.
    """
    return _digest(path, bytearray(chunk_size))


def scan_files(root: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """``(path, size)`` of every regular file under ``root``, recursively, in sorted order.

    Symbolic links are not followed. Each folder's own files come before its
    sub-folders; names are sorted within a folder.
    """
    out: list[tuple[Path, int]] = []

    def walk(folder: str) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        subdirs = []
        for e in entries:
            if e.is_file(follow_symlinks=False):
                out.append((Path(e.path), e.stat(follow_symlinks=False).st_size))
            elif e.is_dir(follow_symlinks=False):
                subdirs.append(e.path)
        for d in subdirs:
            walk(d)

    try:
        walk(os.fspath(root))
    except OSError as exc:
        raise DataError(f"{root}: cannot be listed ({exc.strerror or exc})") from None
    return out


def iter_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Regular files under ``root`` in the order of :func:`scan_files`."""
    return (p for p, _ in scan_files(root))


def _batches(sizes: Sequence[int]) -> list[list[int]]:
    """Group file indices so each task holds one large file or many small ones."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for i, size in enumerate(sizes):
        if current and (current_bytes + size > BATCH_BYTES or len(current) >= BATCH_FILES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(i)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def hash_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    workers: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    sizes: Sequence[int] | None = None,
    description: str = "hashing",
    on_done: Callable[[int], None] | None = None,
) -> list[str]:
    """Hex SHA-256 of every file in ``paths``, in the same order, using all cores.

    Parameters
    ----------
    paths
        Files to hash.
    workers
        Threads to use; default twice the number of cores (reads overlap hashing).
    chunk_size
        Bytes read per call for each file.
    sizes
        The files' sizes when already known (they group small files into batches).
    description
        Label of the progress bar (shown on a terminal).
    on_done
        Called with the number of files of each finished batch.
    """
    n_workers = check_int(
        workers if workers is not None else 2 * (os.cpu_count() or 1),
        "workers",
        "hash_files",
        low=1,
    )
    files = [Path(p) for p in paths]
    if sizes is None:
        sizes = []
        for p in files:
            try:
                sizes.append(p.stat().st_size)
            except OSError as exc:
                raise DataError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    out: list[str] = [""] * len(files)

    def work(batch: list[int]) -> int:
        largest = max(sizes[i] for i in batch)
        buf = bytearray(max(1, min(chunk_size, largest + 1)))
        for i in batch:
            out[i] = _digest(files[i], buf)
        return len(batch)

    batches = _batches(sizes)
    with (
        progress_bar(description, total=len(files)) as bar,
        ThreadPoolExecutor(max_workers=min(n_workers, max(len(batches), 1))) as pool,
    ):
        for done in pool.map(work, batches):
            bar.advance(done)
            if on_done is not None:
                on_done(done)
    return out
