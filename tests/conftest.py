"""Shared test helpers: where the public data sets are, and a skip when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRAINGUARD_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path inside ../shared/data, or skip the test with the reason when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"public data set {p} is not present on this machine")
    return p


@pytest.fixture
def mnist_dir() -> Path:
    return shared_path("mnist")


@pytest.fixture
def adult_dir() -> Path:
    return shared_path("adult")
