from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard.core.errors import DataError
from trainguard.guard.factcheck import (
    FactChecker,
    KnowledgeGraph,
    Verdict,
    load_csv_triples,
    load_json,
    load_ntriples,
    parse_number,
)


@pytest.fixture(scope="module")
def checker(country_kg: KnowledgeGraph) -> FactChecker:
    return FactChecker(country_kg)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Paris is the capital of France.", Verdict.SUPPORTED),
        ("The capital of Germany is Munich.", Verdict.REFUTED),
        ("Germany's capital is not Berlin.", Verdict.REFUTED),
        ("France borders Spain.", Verdict.SUPPORTED),
        ("Germany does not border Spain.", Verdict.SUPPORTED),
        ("Portugal shares a border with Italy.", Verdict.REFUTED),
        ("Brazil is located in Europe.", Verdict.REFUTED),
        ("Kenya is in Africa.", Verdict.SUPPORTED),
        ("France is in Western Europe.", Verdict.SUPPORTED),
        ("Spanish is spoken in Mexico.", Verdict.SUPPORTED),
        ("Japan uses the yen.", Verdict.SUPPORTED),
        ("France has a population of about 66 million.", Verdict.SUPPORTED),
        ("France has a population of 20 million.", Verdict.REFUTED),
        ("Atlantis is the capital of Narnia.", Verdict.NOT_ENOUGH_INFO),
        ("The Federal Republic of Germany borders Poland.", Verdict.SUPPORTED),  # alias
        ("Frnace borders Belgium.", Verdict.SUPPORTED),  # fuzzy entity linking
    ],
)
def test_country_claims(checker: FactChecker, text: str, verdict: Verdict) -> None:
    [v] = checker.check(text)
    assert v.verdict is verdict
    if verdict is not Verdict.NOT_ENOUGH_INFO:
        assert v.evidence


def test_evidence_and_spans(checker: FactChecker) -> None:
    text = "Hello there. The capital of Italy is Milan. Thanks!"
    [v] = checker.check(text)
    assert text[v.claim.start : v.claim.end].strip() == "The capital of Italy is Milan"
    assert [(t.subject, t.predicate, t.object) for t in v.evidence] == [
        ("Italy", "capital", "Rome")
    ]


def test_parse_number() -> None:
    assert parse_number("about 67.8 million people") == pytest.approx(67.8e6)
    assert parse_number("643,801 km2") == 643801
    assert parse_number("2.1 bn") == pytest.approx(2.1e9)
    assert parse_number("many") is None


def _check_graph(kg: KnowledgeGraph) -> None:
    fc = FactChecker(kg)
    assert fc.check("The atomic number of Gold is 79.")[0].verdict is Verdict.SUPPORTED
    assert fc.check("The atomic number of gold is 80.")[0].verdict is Verdict.REFUTED
    assert (
        fc.check("The symbol of Au is Ag.")[0].verdict is Verdict.NOT_ENOUGH_INFO
    )  # open predicate


def test_csv_ntriples_and_json_loaders_agree(tmp_path: Path) -> None:
    (tmp_path / "g.csv").write_text(
        "subject,predicate,object\nGold,atomic number,79\nSilver,atomic number,47\nGold,symbol,Au\n",
        encoding="utf-8",
    )
    (tmp_path / "g.nt").write_text(
        '<http://x.org/Gold> <http://x.org/atomic_number> "79"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        '<http://x.org/Gold> <http://www.w3.org/2000/01/rdf-schema#label> "Au metal" .\n'
        '<http://x.org/Gold> <http://x.org/symbol> "Au" .\n',
        encoding="utf-8",
    )
    doc = {"triples": [["Gold", "atomic number", 79], ["Gold", "symbol", "Au"]]}
    (tmp_path / "g.json").write_text(json.dumps(doc), encoding="utf-8")
    for loader, name in (
        (load_csv_triples, "g.csv"),
        (load_ntriples, "g.nt"),
        (load_json, "g.json"),
    ):
        kg = KnowledgeGraph()
        assert loader(tmp_path / name, kg) >= 2
        _check_graph(kg)
    kg = KnowledgeGraph()
    load_ntriples(tmp_path / "g.nt", kg)
    assert kg.link("au metal") == kg.link("Gold")


def test_sqlite_graph_persists(tmp_path: Path) -> None:
    kg = KnowledgeGraph(tmp_path / "kg.sqlite")
    load_json_doc = {"triples": [["Gold", "atomic number", 79]]}
    (tmp_path / "g.json").write_text(json.dumps(load_json_doc), encoding="utf-8")
    load_json(tmp_path / "g.json", kg)
    kg.close()
    again = KnowledgeGraph(tmp_path / "kg.sqlite")
    assert len(again) == 1 and again.objects(again.link("gold")[0], "atomic number")[0][2] == 79


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("g.csv", "s,p,o\na,b,c\n", "subject, predicate, object"),
        ("g.nt", "<a> <b> c .\n", "not an N-Triples statement"),
        ("g.json", "{bad", "invalid JSON"),
        ("g.json", '{"triples": [["a", "b"]]}', r"triples\[0\]"),
        ("g.json", '{"nodes": []}', "'triples' list"),
    ],
)
def test_malformed_graph_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    loader = {".csv": load_csv_triples, ".nt": load_ntriples, ".json": load_json}[Path(name).suffix]
    with pytest.raises(DataError, match=message):
        loader(tmp_path / name, KnowledgeGraph())


def test_a_corrupt_database_file(tmp_path: Path) -> None:
    (tmp_path / "x.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(DataError, match="not a knowledge-graph database"):
        KnowledgeGraph(tmp_path / "x.sqlite")
