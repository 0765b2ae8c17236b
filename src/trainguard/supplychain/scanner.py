"""Scan model files and folders without loading them: :func:`scan_file`, :func:`scan_path`.

Each file is opened once; its format is detected from its bytes
(:mod:`~trainguard.supplychain.formats`) and every matching handler walks it through
bounded :class:`~trainguard.supplychain.reader.Source` windows: pickles opcode by
opcode, archives member by member (tensor members skipped, not read), compressed
streams through incremental decompressors. Limits (:class:`ScanLimits`) cap time,
bytes and nesting; whatever could not be scanned becomes an ``unscannable`` issue of
severity *high* (the gate fails closed) and the scan moves on to the next file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import struct
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from trainguard.core.errors import DataError
from trainguard.core.findings import Severity
from trainguard.core.progress import progress_bar
from trainguard.supplychain.allowlist import AllowPolicy
from trainguard.supplychain.fileviews import SourceIO, ZlibStream
from trainguard.supplychain.formats import HEAD_BYTES, TAIL_BYTES, detect
from trainguard.supplychain.pickle_scan import PickleContext, PickleJudge, scan_pickle
from trainguard.supplychain.pickle_values import Seq
from trainguard.supplychain.pickle_vm import PickleMachine
from trainguard.supplychain.reader import (
    Budget,
    FileWindow,
    ScanAborted,
    ScanLimits,
    Source,
    StreamSource,
)
from trainguard.supplychain.report import (
    UNSCANNABLE,
    FileReport,
    IssueCollector,
    ScanIssue,
    ScanReport,
)

Opener = Callable[[], Source]
Handler = Callable[["ScanJob", Opener, str, int], "bool | None"]
"""Scans one format; returns ``False`` when the bytes turn out not to be that format."""

_ELEMENT_SIZE = {
    "Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2,
    "Char": 1, "Byte": 1, "Bool": 1, "ComplexDouble": 16, "ComplexFloat": 8, "QUInt8": 1,
    "QInt8": 1, "QInt32": 4, "QUInt4x2": 1, "QUInt2x4": 1, "Untyped": 1,
}  # fmt: skip


def element_size(storage_type: str) -> int | None:
    """Bytes per element of a torch storage class name (``FloatStorage`` -> 4)."""
    return _ELEMENT_SIZE.get(storage_type.removesuffix("Storage"))


_IMPORTABLE = re.compile(r"[^\s()\[\]{}:;,'\"=<>]+")
"""A dotted name an import could resolve (text lines with spaces or brackets cannot)."""


class ScanJob:
    """The state of scanning one top-level file: its budget, issues and formats."""

    def __init__(self, path: Path, fh: IO[bytes], policy: AllowPolicy, limits: ScanLimits):
        self.path = path
        self.fh = fh
        self.policy = policy
        self.limits = limits
        self.budget = Budget(limits)
        self.sink = IssueCollector()
        self.globals_seen: set[str] = set()
        self.formats: list[str] = []
        self.storage_keys: dict[str, dict[str, str]] = {}

    def context(self, location: str, depth: int) -> PickleContext:
        """A pickle context reporting into this job (its torch storage ids are kept)."""
        ctx = PickleContext(
            location=location,
            policy=self.policy,
            budget=self.budget,
            limits=self.limits,
            sink=self.sink,
            depth=depth,
            nested=lambda src, label, d: self.scan_source(
                lambda: src.window(0, src.remaining() or 0) or src, location + label, d
            ),
            globals_seen=self.globals_seen,
        )
        self.storage_keys[location] = ctx.storages
        return ctx

    def unscannable(self, location: str, message: str) -> None:
        """Record a 'could not be fully scanned' issue."""
        self.sink.add(UNSCANNABLE, Severity.HIGH, message, location=location)

    def scan_source(
        self, open_source: Opener, location: str, depth: int, *, quiet: bool = False
    ) -> None:
        """Detect the format(s) of a byte source and run every matching handler.

        ``quiet`` skips an unrecognised source without an issue (archive members such
        as a checkpoint's ``version`` file).
        """
        if depth > self.limits.max_depth:
            self.unscannable(location, f"nested more than {self.limits.max_depth} levels deep")
            return
        try:
            src = open_source()
            head = src.peek(HEAD_BYTES)
            size = src.remaining()
            tail = head
            if size is not None and size > len(head):
                win = src.window(max(0, size - TAIL_BYTES), min(size, TAIL_BYTES))
                tail = win.read_at_most(TAIL_BYTES) if win is not None else b""
            kinds = detect(head, tail)
        except ScanAborted as exc:
            self.unscannable(location, str(exc))
            return
        if not kinds and not quiet:
            self.sink.add("unknown-format", Severity.INFO, "no model format", location=location)
        found = False
        for kind in kinds:
            try:
                is_format = HANDLERS[kind](self, open_source, location, depth) is not False
            except ScanAborted as exc:
                self.unscannable(location, f"{kind}: {exc}")
                is_format = True
            except RecursionError:
                self.unscannable(location, f"{kind}: structure nested too deeply")
                is_format = True
            found |= is_format
            if is_format and kind not in self.formats:
                self.formats.append(kind)
        if kinds and not found and not quiet:
            self.sink.add("unknown-format", Severity.INFO, "no model format", location=location)


def _scan_pickle(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    scan_pickle(open_source, job.context(location, depth))


def _scan_weak_pickle(job: ScanJob, open_source: Opener, location: str, depth: int) -> bool:
    """A protocol 0/1 candidate: a text file that fails at once is just not a pickle."""
    trial = IssueCollector()
    ctx = job.context(location, depth)
    ctx.sink = trial
    ctx.globals_seen = set()
    scan_pickle(open_source, ctx)
    failed = any(i.check_id == UNSCANNABLE for i in trial.issues)
    if failed and not any(_IMPORTABLE.fullmatch(g) for g in ctx.globals_seen):
        return False  # text (a README, TorchScript source) that merely starts like a pickle
    job.globals_seen |= ctx.globals_seen
    job.sink.extend(trial.issues)
    return True


def _scan_torch_legacy(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
    """``torch.save(..., _use_new_zipfile_serialization=False)``: five pickles, then storages.

    The pickles are the magic number, protocol version, system info, the object and
    the list of storage keys; each storage follows as an 8-byte element count and raw
    bytes, which are skipped (``torch/serialization.py`` ``_legacy_load``).
    """
    src = open_source()
    ctx = job.context(location, depth)
    judge = PickleJudge(ctx, src, joblib=False)
    root: object = None
    for _ in range(5):
        root = PickleMachine(src, judge, job.budget, inline=job.limits.max_inline_bytes).run()
    keys = root.items if isinstance(root, Seq) else []
    for key in keys:
        kind = ctx.storages.get(key) if isinstance(key, str) else None
        size = element_size(kind or "")
        if size is None:
            job.unscannable(location, f"storage {key!r} of unknown type {kind!r}")
            return
        src.skip(struct.unpack("<Q", src.read(8))[0] * size)
    left = src.remaining()
    if left:
        job.sink.add(
            "trailing-data", Severity.LOW, f"{left} byte(s) after the storages", location=location
        )


def _decompressed(job: ScanJob, open_source: Opener, kind: str) -> Opener:
    def opener() -> Source:
        raw = open_source()
        size = raw.remaining() or 0
        fileobj = io.BufferedReader(SourceIO(raw))
        stream: Any  # a decompressing reader; closed with the source it reads
        if kind == "gzip":
            stream = gzip.GzipFile(fileobj=fileobj)
        elif kind == "bzip2":
            stream = bz2.BZ2File(fileobj)
        elif kind == "xz":
            stream = lzma.LZMAFile(fileobj)  # noqa: SIM115 - lives as long as the scan
        elif kind == "zlib":
            stream = ZlibStream(fileobj, 15)
        else:
            try:
                import lz4.frame
            except ImportError:
                raise ScanAborted("lz4 stream and the lz4 package is not installed") from None
            stream = lz4.frame.LZ4FrameFile(fileobj)
        ratio_cap = int(job.limits.max_compression_ratio * size) + (64 << 20)
        limit = min(job.limits.max_decompressed_bytes, ratio_cap)
        return StreamSource(stream, job.budget, limit=limit)

    return opener


def _scan_compressed(kind: str) -> Handler:
    def handler(job: ScanJob, open_source: Opener, location: str, depth: int) -> None:
        job.scan_source(_decompressed(job, open_source, kind), f"{location}|{kind}", depth + 1)

    return handler


def _handlers() -> dict[str, Handler]:
    from trainguard.supplychain.archives import scan_tar, scan_zip
    from trainguard.supplychain.keras_check import scan_hdf5
    from trainguard.supplychain.onnx_check import scan_onnx
    from trainguard.supplychain.tensors import scan_npy, scan_safetensors

    table: dict[str, Handler] = {
        "pickle": _scan_pickle,
        "pickle0": _scan_weak_pickle,
        "torch-legacy": _scan_torch_legacy,
        "zip": scan_zip,
        "tar": scan_tar,
        "numpy": scan_npy,
        "safetensors": scan_safetensors,
        "hdf5": scan_hdf5,
        "onnx": scan_onnx,
    }
    for kind in ("gzip", "bzip2", "xz", "zlib", "lz4"):
        table[kind] = _scan_compressed(kind)
    return table


HANDLERS: dict[str, Handler] = {}
_DEFAULT_LIMITS = ScanLimits()


@lru_cache(maxsize=32)
def _policy(allow: tuple[str, ...]) -> AllowPolicy:
    """One policy (and its verdict cache) per distinct ``allow`` list."""
    return AllowPolicy(allow)


def _scan_one(path: Path, policy: AllowPolicy, limits: ScanLimits) -> FileReport:
    if not HANDLERS:
        HANDLERS.update(_handlers())
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        job = ScanJob(path, fh, policy, limits)
        job.scan_source(lambda: FileWindow(fh, 0, size, job.budget), str(path), 0)
    return FileReport(
        path=str(path),
        size=size,
        formats=job.formats,
        issues=job.sink.issues,
        globals=sorted(job.globals_seen),
        bytes_read=job.budget.bytes_read,
        seconds=time.perf_counter() - t0,
    )


def scan_file(
    path: str | os.PathLike[str],
    *,
    allow: Iterable[str] = (),
    limits: ScanLimits | None = None,
    fail_on: Severity = Severity.HIGH,
) -> ScanReport:
    """Scan one model file without loading it and return its :class:`ScanReport`.

    Parameters
    ----------
    path
        The file; its format is detected from its content.
    allow
        Opt-in allow-list extensions (``"sklearn"``, ``"torch-modules"``) or exact
        globals ``"module:Name"``; what they admit is reported at severity *low*.
    limits
        Time, byte and nesting bounds (defaults: :class:`ScanLimits`).
    fail_on
        Severity at which :attr:`ScanReport.passed` becomes false (default *high*).

    Examples
    --------
    >>> report = scan_file("model.joblib", allow=["sklearn"])  # doctest: +SKIP
    >>> report.max_severity < Severity.HIGH  # doctest: +SKIP
    True
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file to scan")
    return ScanReport([_scan_one(p, _policy(tuple(allow)), limits or _DEFAULT_LIMITS)], fail_on)


def _walk(paths: Iterable[str | os.PathLike[str]], limit: int) -> tuple[list[Path], int]:
    files: list[Path] = []
    skipped = 0
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for base, dirs, names in os.walk(p, followlinks=False):
                dirs.sort()
                for n in sorted(names):
                    f = Path(base) / n
                    if f.is_file() and not f.is_symlink():
                        files.append(f)
                    else:
                        skipped += 1
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file or folder to scan")
    return files[:limit], skipped + max(0, len(files) - limit)


def scan_path(
    paths: Iterable[str | os.PathLike[str]],
    *,
    allow: Iterable[str] = (),
    limits: ScanLimits | None = None,
    fail_on: Severity = Severity.HIGH,
) -> ScanReport:
    """Scan files and folders (recursively; symbolic links are not followed).

    A file that cannot be read or parsed is reported and the scan goes on. Parameters
    as in :func:`scan_file`.
    """
    lim = limits or _DEFAULT_LIMITS
    policy = _policy(tuple(allow))
    files, skipped = _walk(paths, lim.max_files)
    reports: list[FileReport] = []
    with progress_bar("scanning model files", len(files)) as bar:
        for f in files:
            try:
                reports.append(_scan_one(f, policy, lim))
            except OSError as exc:
                reports.append(_unreadable(f, exc.strerror or str(exc)))
            except Exception as exc:  # a scanner bug must not stop a folder scan
                reports.append(_unreadable(f, f"internal error {type(exc).__name__}: {exc}"))
            bar.advance()
    if skipped:
        reports.append(
            FileReport(
                "(folder walk)",
                0,
                [],
                [_skipped_issue(skipped, lim.max_files)],
            )
        )
    return ScanReport(reports, fail_on)


def _unreadable(path: Path, why: str) -> FileReport:
    sink = IssueCollector()
    sink.add(UNSCANNABLE, Severity.HIGH, f"cannot scan: {why}", location=str(path))
    return FileReport(str(path), 0, [], sink.issues)


def _skipped_issue(n: int, limit: int) -> ScanIssue:
    sink = IssueCollector()
    sink.add(
        "unknown-format",
        Severity.INFO,
        f"{n} entries skipped (links, special files, or beyond {limit} files)",
        location="(folder walk)",
    )
    return sink.issues[0]
