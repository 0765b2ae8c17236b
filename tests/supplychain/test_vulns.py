"""OSV matching semantics, CVSS scores against the ``cvss`` library, the real PyPA snapshot."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version
from tests.conftest import shared_path

from trainguard.core.errors import DataError
from trainguard.supplychain.osv import (
    cvss3_base_score,
    describe_ranges,
    is_affected,
    load_advisories,
    parse_advisory,
)
from trainguard.supplychain.vulns import (
    Package,
    audit,
    environment_site_packages,
    installed_packages,
    requirements_packages,
)


def record(*ranges: list[dict[str, str]], versions=(), name="Demo_Pkg", **extra) -> dict:
    return {
        "id": "TEST-1",
        "aliases": ["CVE-2099-0001"],
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": list(r)} for r in ranges],
                "versions": list(versions),
            }
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("events", "affected", "clean"),
    [
        ([{"introduced": "0"}, {"fixed": "1.2.0"}], ["0.1", "1.1.9", "1.2.0rc1"], ["1.2.0", "2.0"]),
        (
            [{"introduced": "1.0"}, {"fixed": "1.0.5"}, {"introduced": "2.0"}, {"fixed": "2.1"}],
            ["1.0", "1.0.4", "2.0.3"],
            ["0.9", "1.0.5", "1.9", "2.1"],
        ),
        ([{"introduced": "0"}, {"last_affected": "3.1"}], ["3.1", "3.1.0"], ["3.1.1", "4"]),
        (
            [{"introduced": "2.3.0rc0"}, {"fixed": "2.3.4"}],
            ["2.3.0rc0", "2.3.0", "2.3.3"],
            ["2.2.9"],
        ),
        ([{"introduced": "1.0"}, {"limit": "1.5"}], ["1.0", "1.4"], ["1.5", "2.0"]),
        ([{"introduced": "1.0"}], ["1.0", "99"], ["0.9"]),
    ],
)
def test_osv_range_semantics(events, affected, clean):
    adv = parse_advisory(record(events))
    for v in affected:
        assert is_affected(adv, "demo-pkg", v), v
    for v in clean:
        assert not is_affected(adv, "demo-pkg", v), v


def test_names_are_compared_in_normal_form_and_versions_as_pep440():
    adv = parse_advisory(record([{"introduced": "0"}, {"fixed": "2"}], versions=["1.0"]))
    assert is_affected(adv, "DEMO.pkg", "1.0.0")  # 1.0 == 1.0.0 under PEP 440
    assert not is_affected(adv, "other", "1.0")


def test_git_ranges_and_withdrawn_records_are_ignored(tmp_path):
    doc = record([{"introduced": "0"}, {"fixed": "2"}])
    doc["affected"][0]["ranges"].append({"type": "GIT", "events": [{"introduced": "abc123"}]})
    (tmp_path / "a.json").write_text(json.dumps(doc))
    (tmp_path / "b.json").write_text(json.dumps({**doc, "id": "TEST-2", "withdrawn": "2024-01-01"}))
    advs = load_advisories([tmp_path])
    assert [a.id for a in advs] == ["TEST-1"]
    assert describe_ranges(advs[0].affected[0]) == ("<2", ("2",))


def test_malformed_advisory_is_a_clear_error(tmp_path):
    (tmp_path / "x.yaml").write_text("- just\n- a list\n")
    with pytest.raises(DataError, match=r"x\.yaml"):
        load_advisories([tmp_path])


def _snapshot_vectors() -> list[str]:
    folder = shared_path("pypa_advisories", "vulns")
    return sorted({v for a in load_advisories([folder]) for v in a.vectors})


def test_cvss_scores_equal_the_cvss_library():
    cvss = pytest.importorskip("cvss")
    vectors = [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L",
        "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N",
        "CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
        *_snapshot_vectors(),
    ]
    for v in vectors:
        assert cvss3_base_score(v) == pytest.approx(float(cvss.CVSS3(v).base_score), abs=1e-9), v


# -- the real PyPA snapshot -------------------------------------------------------------
@pytest.fixture(scope="module")
def snapshot():
    return load_advisories([shared_path("pypa_advisories", "vulns")])


def _ids(advisories, package: str, version: str) -> set[str]:
    return {a.id for a in advisories if is_affected(a, package, version)}


@pytest.mark.parametrize(
    ("package", "version", "expected"),
    [
        ("torch", "1.13.0", {"PYSEC-2022-43015"}),
        ("torch", "1.13.1", set()),
        ("torch", "2.4.0", set()),
        ("numpy", "1.13.1", {"PYSEC-2017-1", "PYSEC-2019-108", "PYSEC-2021-856", "PYSEC-2021-857"}),
        ("numpy", "1.22.0", set()),
        (
            "Pillow",
            "9.0.0",
            {"PYSEC-2022-168", "PYSEC-2022-42979", "PYSEC-2023-175", "PYSEC-2023-227"},
        ),
        ("pillow", "10.3.0", set()),
        ("scikit-learn", "0.23.0", {"PYSEC-2020-107", "PYSEC-2020-108"}),
        ("scikit_learn", "1.5.0", set()),
        ("tensorflow", "2.4.4", set()),
    ],
)
def test_known_vulnerable_pins_are_flagged_and_fixed_ones_are_not(
    snapshot, package, version, expected
):
    assert _ids(snapshot, package, version) == expected


def test_tensorflow_patch_releases_shed_advisories(snapshot):
    counts = [len(_ids(snapshot, "tensorflow", v)) for v in ("2.4.1", "2.4.2", "2.4.3", "2.4.4")]
    assert counts[0] > counts[1] > counts[2] > counts[3] == 0


def _pep440(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def test_ranges_reproduce_every_enumerated_version(snapshot):
    """Range evaluation alone agrees with the versions OSV.dev enumerated for each record."""
    checked = 0
    for adv in snapshot:
        for entry in adv.affected:
            if not entry.ranges:
                continue
            ranges_only = replace(adv, affected=(replace(entry, versions=()),))
            for v in filter(_pep440, entry.versions):
                assert is_affected(ranges_only, entry.package, v), (adv.id, v)
                checked += 1
            for fixed in describe_ranges(entry)[1]:
                listed = {Version(x) for x in filter(_pep440, entry.versions)}
                if _pep440(fixed) and Version(fixed) not in listed:
                    assert not is_affected(adv, entry.package, fixed), (adv.id, fixed)
    assert checked > 40_000


def test_audit_report_and_findings(snapshot):
    pins = [
        Package("torch", "1.13.0", "req"),
        Package("pyyaml", "5.3", "req"),
        Package("rich", None, "req"),
    ]
    report = audit(pins, snapshot)
    torch_match = next(m for m in report.matches if m.package == "torch")
    assert torch_match.aliases == ("CVE-2022-45907",)
    assert torch_match.fixed == ("1.13.1",) and torch_match.ml_package
    assert any(m.model_loading for m in report.matches if m.package == "pyyaml")
    assert report.matches[0].model_loading  # model-loading advisories come first
    assert report.unpinned == ["rich"]
    assert not report.passed
    findings = report.to_findings("vulns")
    assert findings[0].passed is False and len(findings) == 1 + len(report.matches)


# -- package sources -------------------------------------------------------------------
def test_requirements_and_lock_files(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# pinned\ntorch==1.13.0  # comment\nnumpy>=1.20\n-r other.txt\n"
        "Pillow==9.0.0 ; python_version >= '3.8' \\\n    --hash=sha256:abc\n"
    )
    reqs = {p.name: p.version for p in requirements_packages(tmp_path / "requirements.txt")}
    assert reqs == {"torch": "1.13.0", "numpy": None, "pillow": "9.0.0"}
    (tmp_path / "uv.lock").write_text(
        'version = 1\n[[package]]\nname = "Torch"\nversion = "2.0.0"\n'
        '[[package]]\nname = "numpy"\nversion = "1.26.4"\n'
    )
    assert [(p.name, p.version) for p in requirements_packages(tmp_path / "uv.lock")] == [
        ("torch", "2.0.0"),
        ("numpy", "1.26.4"),
    ]
    (tmp_path / "Pipfile.lock").write_text(
        json.dumps({"default": {"numpy": {"version": "==1.21.0"}}})
    )
    assert requirements_packages(tmp_path / "Pipfile.lock")[0].version == "1.21.0"
    (tmp_path / "bad.txt").write_text("torch (>=1\n")
    with pytest.raises(DataError, match=r"bad\.txt"):
        requirements_packages(tmp_path / "bad.txt")


def test_installed_packages_of_this_and_another_environment():
    here = {p.name: p.version for p in installed_packages()}
    assert here["torch"] == metadata.version("torch")
    venv = Path(__file__).resolve().parents[2] / ".venv"
    if not venv.is_dir():
        pytest.skip("no .venv next to the repository")
    other = {p.name: p.version for p in installed_packages(environment_site_packages(venv))}
    assert other["numpy"] == metadata.version("numpy")
    with pytest.raises(DataError, match="not an environment"):
        environment_site_packages(venv / "bin")
