"""Hashing throughput: trainguard's parallel streaming SHA-256 vs coreutils ``sha256sum``.

Two workloads, generated under /tmp and deleted afterwards: one 1 GiB file and
100,000 small files (100 B to 4 KiB). Both tools read from a warm page cache (every
file is read once before timing). Also measured: the single-core SHA-256 limit of
``hashlib`` on an in-memory buffer on the same machine, the ceiling for one file
(SHA-256 of one stream cannot be split across cores).

Heavy: run under ``flock /tmp/trainguard-heavy.lock``.

    flock /tmp/trainguard-heavy.lock .venv/bin/python benchmarks/hash_bench.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table
from trainguard.provenance.hashing import hash_file, hash_files, iter_files
from trainguard.provenance.manifest import build_manifest

MIB = 1 << 20


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def single_core_limit(size: int = 256 * MIB) -> float:
    """Bytes/s of hashlib SHA-256 over an in-memory buffer, 1 MiB updates, one thread."""
    buf = memoryview(os.urandom(64 * MIB))

    def run() -> None:
        h = hashlib.sha256()
        for _ in range(size // len(buf)):
            for i in range(0, len(buf), MIB):
                h.update(buf[i : i + MIB])

    return size / best_of(3, run)


def make_big(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        for _ in range(size // (64 * MIB)):
            fh.write(os.urandom(64 * MIB))


def make_small(root: Path, n: int) -> int:
    rng = random.Random(0)
    total = 0
    for i in range(n):
        d = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            d.mkdir(parents=True)
        size = rng.randint(100, 4096)
        (d / f"f{i:06d}.bin").write_bytes(rng.randbytes(size))
        total += size
    return total


def sha256sum(args: list[str], *, parallel: int = 1, cwd: Path) -> None:
    cmd = f"find . -type f -print0 | xargs -0 -P {parallel} -n 2000 sha256sum > /dev/null"
    if args:
        cmd = "sha256sum " + " ".join(args) + " > /dev/null"
    subprocess.run(cmd, shell=True, check=True, cwd=cwd)


def warm(paths: list[Path]) -> None:
    for p in paths:
        with p.open("rb") as fh:
            while fh.read(8 * MIB):
                pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("sha256sum") is None:
        raise SystemExit("coreutils sha256sum is needed for the comparison")
    cores = os.cpu_count() or 1
    limit = single_core_limit()
    tmp = Path(tempfile.mkdtemp(prefix="trainguard-hashbench-", dir="/tmp"))
    try:
        big = tmp / "big.bin"
        make_big(big, args.big_mib * MIB)
        small_root = tmp / "small"
        small_bytes = make_small(small_root, args.small)
        small = list(iter_files(small_root))
        warm([big, *small])
        big_bytes = big.stat().st_size

        t_ours_big = best_of(args.repeat, lambda: hash_file(big))
        t_sum_big = best_of(args.repeat, lambda: sha256sum([str(big)], cwd=tmp))
        t_ours_small = best_of(args.repeat, lambda: hash_files(small))
        t_manifest = best_of(args.repeat, lambda: build_manifest(small_root))
        t_sum_small = best_of(args.repeat, lambda: sha256sum([], cwd=small_root))
        t_sum_small_p = best_of(args.repeat, lambda: sha256sum([], parallel=cores, cwd=small_root))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def row(
        work: str, tool: str, secs: float, nbytes: int, nfiles: int, peer: float
    ) -> list[object]:
        return [
            work,
            tool,
            f"{secs:.2f}",
            f"{nbytes / secs / 1e6:,.0f}",
            f"{nfiles / secs:,.0f}",
            f"{peer / secs:.2f}x",
            f"{nbytes / secs / limit:.0%}",
        ]

    gib = f"1 file, {big_bytes / MIB:,.0f} MiB"
    many = f"{len(small):,} files, {small_bytes / MIB:,.0f} MiB"
    print_table(
        "SHA-256 of files: trainguard vs sha256sum (warm page cache, best of "
        f"{args.repeat}; single-core hashlib limit {limit / 1e6:,.0f} MB/s)",
        [
            "workload",
            "tool",
            "seconds",
            "MB/s",
            "files/s",
            "speed vs sha256sum",
            "of 1-core limit",
        ],
        [
            row(gib, "trainguard hash_file (streamed)", t_ours_big, big_bytes, 1, t_sum_big),
            row(gib, "sha256sum", t_sum_big, big_bytes, 1, t_sum_big),
            row(
                many,
                f"trainguard hash_files ({2 * cores} threads)",
                t_ours_small,
                small_bytes,
                len(small),
                t_sum_small,
            ),
            row(
                many,
                "trainguard build_manifest (walk + hash + Merkle)",
                t_manifest,
                small_bytes,
                len(small),
                t_sum_small,
            ),
            row(
                many,
                "sha256sum (find \\| xargs, 1 process)",  # pipe escaped for Markdown
                t_sum_small,
                small_bytes,
                len(small),
                t_sum_small,
            ),
            row(
                many,
                f"sha256sum (xargs -P {cores})",
                t_sum_small_p,
                small_bytes,
                len(small),
                t_sum_small,
            ),
        ],
    )


if __name__ == "__main__":
    main()
