from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.guard.keywords import KeywordMatcher


@pytest.fixture(scope="session")
def matcher() -> KeywordMatcher:
    return KeywordMatcher.default()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINGUARD_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def country_kg(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from trainguard.guard.factcheck import country_graph

    return country_graph(Path(tmp_path_factory.mktemp("kg")) / "countries.sqlite")
