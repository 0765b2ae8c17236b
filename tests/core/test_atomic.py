import os

import pytest

from trainguard.core.atomic import atomic_open, atomic_write_json, atomic_write_text


def test_write_and_replace(tmp_path):
    p = tmp_path / "sub" / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert sorted(os.listdir(p.parent)) == ["f.txt"]


def test_crash_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "findings.json"
    atomic_write_json(p, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(p, "w") as fh:
        fh.write('{"v": 2, "half')
        raise RuntimeError("simulated crash")
    assert p.read_text().strip().startswith("{") and '"v": 1' in p.read_text()
    assert os.listdir(tmp_path) == ["findings.json"]


def test_permissions_are_set_before_rename(tmp_path):
    p = tmp_path / "key"
    with atomic_open(p, "wb", perms=0o600) as fh:
        fh.write(b"secret")
    assert (p.stat().st_mode & 0o777) == 0o600


def test_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError), atomic_open(tmp_path / "x", "a"):
        pass
