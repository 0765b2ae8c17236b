"""Streaming, parallel hashing equals hashlib and coreutils sha256sum."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from trainguard.core.errors import DataError, ParameterError
from trainguard.provenance.hashing import hash_file, hash_files, iter_files


def _tree(root: Path, n: int = 60) -> list[Path]:
    rng = random.Random(0)
    paths = []
    for i in range(n):
        p = root / f"d{i % 4}" / f"f{i:03d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.choice([0, 1, 100, 5000, 70_000])))
        paths.append(p)
    big = root / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))
    return [*paths, big]


def test_file_digest_equals_hashlib_for_any_chunking(tmp_path: Path) -> None:
    data = os.urandom(1_000_003)
    f = tmp_path / "x.bin"
    f.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    for chunk in (4093, 65_536, 1 << 20, 10 << 20):
        assert hash_file(f, chunk_size=chunk) == expected
    f.write_bytes(data[:999])
    assert hash_file(f, chunk_size=1) == hashlib.sha256(data[:999]).hexdigest()
    f.write_bytes(b"")
    assert hash_file(f) == hashlib.sha256(b"").hexdigest()


def test_parallel_digests_keep_order_and_match_hashlib(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    expected = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    for workers in (1, 3, 8):
        assert hash_files(paths, workers=workers) == expected
    seen: list[int] = []
    hash_files(paths, on_done=seen.append)
    assert sum(seen) == len(paths)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_digests_equal_sha256sum(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    out = subprocess.run(
        ["sha256sum", *map(str, paths)], capture_output=True, text=True, check=True
    ).stdout
    theirs = {line[66:]: line[:64] for line in out.splitlines()}
    ours = dict(zip(map(str, paths), hash_files(paths), strict=True))
    assert ours == theirs


def test_iter_files_is_sorted_and_skips_symlinks(tmp_path: Path) -> None:
    _tree(tmp_path, n=8)
    (tmp_path / "link.bin").symlink_to(tmp_path / "big.bin")
    files = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert "link.bin" not in files
    # os.walk order: the folder's own files first, then each sub-folder, all sorted
    assert files[0] == "big.bin"
    assert files[1:] == sorted(files[1:])
    assert len(files) == 9


def test_missing_file_and_bad_workers_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.bin: cannot be read"):
        hash_file(tmp_path / "nope.bin")
    with pytest.raises(DataError, match=r"nope\.bin"):
        hash_files([tmp_path / "nope.bin"])
    with pytest.raises(ParameterError, match="'workers' parameter of hash_files"):
        hash_files([], workers=0)
