"""Manifests catch and locate every kind of tampering, in folders and in record files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainguard.core.errors import DataError, IntegrityError
from trainguard.provenance.manifest import Manifest, build_manifest, diff_manifests, verify_manifest
from trainguard.provenance.records import canonical_record, iter_records


def _changes(diff) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(c.kind, c.key) for c in diff.changes}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for i in range(6):
        p = root / ("train" if i < 4 else "test") / f"img{i}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes([i]) * (100 + i))
    return root


def test_untouched_folder_verifies(folder: Path, tmp_path: Path) -> None:
    m = build_manifest(folder)
    assert m.kind == "files" and len(m) == 6
    loaded = Manifest.load(m.save(tmp_path / "m.json"))
    assert loaded.root == m.root and loaded.entries == m.entries
    assert verify_manifest(loaded, folder).ok


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda r: (r / "train/img1.bin").write_bytes(b"\x01" * 100 + b"\x02"),
            {("changed", "train/img1.bin")},
        ),
        (lambda r: (r / "test/extra.bin").write_bytes(b"new"), {("added", "test/extra.bin")}),
        (lambda r: (r / "train/img2.bin").unlink(), {("removed", "train/img2.bin")}),
        (
            lambda r: (r / "train/img3.bin").rename(r / "train/img9.bin"),
            {("removed", "train/img3.bin"), ("added", "train/img9.bin")},
        ),
    ],
    ids=["one-byte", "added", "removed", "renamed"],
)
def test_folder_tampering_is_caught_and_located(folder: Path, tamper, expected) -> None:  # type: ignore[no-untyped-def]
    m = build_manifest(folder)
    tamper(folder)
    diff = verify_manifest(m, folder)
    assert not diff.ok
    assert _changes(diff) == expected
    (finding,) = diff.to_findings("data")
    assert finding.passed is False
    assert finding.location in {key for _, key in expected}


def test_every_single_byte_change_is_caught(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    data = bytes(range(64))
    f.write_bytes(data)
    m = build_manifest(f, records=False)
    for i in range(len(data)):
        f.write_bytes(data[:i] + bytes([data[i] ^ 0x80]) + data[i + 1 :])
        assert _changes(verify_manifest(m, f)) == {("changed", "weights.bin")}
    f.write_bytes(data)
    assert verify_manifest(m, f).ok


def _csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [["id", "x", "label"], *rows]) + "\n")
    return path


ROWS = [[str(i), f"{i * 0.5}", "ab"[i % 2]] for i in range(10)]


def test_csv_record_changes_are_located(tmp_path: Path) -> None:
    f = _csv(tmp_path / "t.csv", ROWS)
    m = build_manifest(f)
    assert m.kind == "records" and len(m) == 10
    changed = [r[:] for r in ROWS]
    changed[3][1] = "1.51"
    _csv(f, changed)
    assert _changes(verify_manifest(m, f)) == {("changed", "3")}
    inserted = [*ROWS[:5], ["99", "9.9", "a"], *ROWS[5:]]
    _csv(f, inserted)
    diff = verify_manifest(m, f)
    assert _changes(diff) == {("added", "5")}  # later rows shift, but are not changes
    _csv(f, ROWS[:2] + ROWS[3:])
    assert _changes(verify_manifest(m, f)) == {("removed", "2")}


def test_formatting_only_change_is_reported_without_record_changes(tmp_path: Path) -> None:
    f = _csv(tmp_path / "t.csv", ROWS)
    m = build_manifest(f)
    f.write_text(f.read_text().replace("\n", "\r\n"))
    diff = verify_manifest(m, f)
    assert not diff.ok and diff.changes == [] and diff.bytes_changed
    assert "formatting" in diff.to_findings("data")[0].message


def test_id_column_matches_records_by_id(tmp_path: Path) -> None:
    f = _csv(tmp_path / "t.csv", ROWS)
    m = build_manifest(f, id_column="id")
    shuffled = ROWS[::-1]
    shuffled[0] = [shuffled[0][0], "7.25", "b"]  # id 9 changed
    _csv(f, shuffled)
    assert _changes(verify_manifest(m, f)) == {("changed", "9")}
    _csv(f, [*ROWS, ["3", "0", "a"]])
    with pytest.raises(DataError, match="repeats the value '3'"):
        build_manifest(f, id_column="id")


def test_jsonl_and_parquet_records(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": i % 2, "w": i / 3} for i in range(8)]
    j = tmp_path / "d.jsonl"
    j.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mj = build_manifest(j)
    # digests are of canonical records, so key order and spacing do not matter
    assert mj.entries[0].sha256 == hashlib.sha256(canonical_record(rows[0])).hexdigest()
    rows[6]["label"] = 5
    j.write_text(
        "\n".join(json.dumps(r, indent=None, separators=(", ", ": ")) for r in rows) + "\n"
    )
    assert _changes(verify_manifest(mj, j)) == {("changed", "6")}

    pq = tmp_path / "d.parquet"
    df = pd.DataFrame(rows)
    df.to_parquet(pq)
    mp = build_manifest(pq)
    assert mp.format == "parquet" and len(mp) == 8
    df.loc[2, "w"] = 100.0
    df.to_parquet(pq)
    assert _changes(verify_manifest(mp, pq)) == {("changed", "2")}


def test_npz_rows_and_side_arrays(tmp_path: Path) -> None:
    f = tmp_path / "d.npz"
    X = np.arange(5 * 4, dtype=np.float32).reshape(5, 1, 2, 2)
    y = np.arange(5) % 2
    np.savez(f, X=X, y=y, class_names=np.array(["a", "b"]))
    m = build_manifest(f)
    assert {e.key for e in m.entries} == {"0", "1", "2", "3", "4", "array:class_names"}
    X2 = X.copy()
    X2[4, 0, 1, 1] += 1e-3
    np.savez(f, X=X2, y=y, class_names=np.array(["a", "c"]))
    assert _changes(verify_manifest(m, f)) == {("changed", "4"), ("changed", "array:class_names")}


def test_edited_manifest_is_an_integrity_error(folder: Path, tmp_path: Path) -> None:
    m = build_manifest(folder)
    path = m.save(tmp_path / "m.json")
    doc = json.loads(path.read_text())
    doc["entries"][0]["sha256"] = "0" * 64  # hide a change by editing the manifest
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="the manifest was edited"):
        verify_manifest(Manifest.load(path), folder)


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        build_manifest(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="cannot tell the record format"):
        build_manifest(tmp_path / "x.txt")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 fields"):
        list(iter_records(bad))
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(DataError, match="not a trainguard manifest"):
        Manifest.load(tmp_path / "m.json")
    a = build_manifest(_csv(tmp_path / "t.csv", ROWS))
    with pytest.raises(DataError, match="cannot compare"):
        diff_manifests(a, build_manifest(tmp_path / "t.csv", records=False))
