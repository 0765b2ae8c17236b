"""Fact-check accuracy on claims generated from graphs the verifier was not developed on.

Two fact bases from ../shared/data are turned into triples and loaded with the
project's loaders: mledoze/countries (JSON loader) and the periodic table (CSV
loader, with the predicates and their sentence templates declared first). Claims are
made by :func:`trainguard.guard.factcheck.evaluate.generate_claims` from each loaded
graph (half true, half corrupted; a fifth of the subjects written as an alias or with
a typo). The last row checks the countries claims (area excluded) against the built-in
countryinfo graph, a different source: where the sources disagree it counts as an error.

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_factcheck
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from benchmarks.common import SHARED_DATA, print_table
from trainguard.guard.factcheck import (
    FactChecker,
    KnowledgeGraph,
    Predicate,
    country_graph,
    load_csv_triples,
    load_json,
)
from trainguard.guard.factcheck.builtin import country_predicates
from trainguard.guard.factcheck.evaluate import accuracy, generate_claims

ELEMENT_TEMPLATES = {
    "atomic number": ["the atomic number of {s} is {o}", "{s} has atomic number {o}", "{s} has an atomic number of {o}"],
    "symbol": ["the symbol of {s} is {o}", "{s} has the symbol {o}", "{o} is the symbol of {s}"],
    "category": ["{s} is a {o}", "the category of {s} is {o}"],
    "phase": ["{s} is a {o} at room temperature", "the phase of {s} is {o}"],
    "period": ["{s} is in period {o}", "the period of {s} is {o}"],
    "discovered by": ["{s} was discovered by {o}", "{o} discovered {s}"],
}  # fmt: skip


def countries_doc() -> tuple[dict[str, object], list[tuple[str, str, object]]]:
    data = json.loads((SHARED_DATA / "countries" / "countries.json").read_text(encoding="utf-8"))
    by_code = {c["cca3"]: c["name"]["common"] for c in data}
    preds = {k: v for k, v in country_predicates().items() if k != "population"}
    entities, facts = [], []
    for c in data:
        name = c["name"]["common"]
        entities.append(
            {"name": name, "aliases": [c["name"]["official"], *c.get("altSpellings", [])]}
        )
        facts += [(name, "capital", cap) for cap in c.get("capital", [])[:1]]
        facts += [(name, "region", c["region"])] if c.get("region") else []
        facts += [(name, "subregion", c["subregion"])] if c.get("subregion") else []
        facts += [(name, "language", lang) for lang in c.get("languages", {}).values()]
        facts += [(name, "currency", cur["name"]) for cur in c.get("currencies", {}).values()]
        facts += [(name, "borders", by_code[b]) for b in c.get("borders", []) if b in by_code]
        facts += [(name, "area", float(c["area"]))] if c.get("area", 0) > 0 else []
    doc = {"predicates": preds, "entities": entities, "triples": [list(f) for f in facts]}
    return doc, facts


def elements_csv(path: Path) -> list[tuple[str, str, object]]:
    with (SHARED_DATA / "periodic_table" / "PeriodicTableCSV.csv").open(
        newline="", encoding="utf-8"
    ) as fh:
        rows = list(csv.DictReader(fh))
    facts = []
    for r in rows:
        facts += [(r["name"], "atomic number", int(r["number"])), (r["name"], "symbol", r["symbol"]),
                  (r["name"], "category", r["category"]), (r["name"], "period", int(r["period"]))]  # fmt: skip
        if r.get("phase"):
            facts.append((r["name"], "phase", r["phase"]))
        if r.get("discovered_by"):
            facts.append((r["name"], "discovered by", r["discovered_by"]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "predicate", "object"])
        w.writerows(facts)
    return facts


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        doc, _ = countries_doc()
        (Path(tmp) / "countries.json").write_text(json.dumps(doc), encoding="utf-8")
        kg = KnowledgeGraph()
        load_json(Path(tmp) / "countries.json", kg)
        items = generate_claims(kg, 1000, seed=0)
        rows.append(
            [
                "mledoze/countries via JSON loader",
                len(kg),
                len(items),
                *accuracy(FactChecker(kg), items),
            ]
        )
        elements_csv(Path(tmp) / "elements.csv")
        ekg = KnowledgeGraph()
        for name, templates in ELEMENT_TEMPLATES.items():
            kind = "number" if name in ("atomic number", "period") else "entity"
            ekg.add_predicate(
                Predicate(
                    name, name, kind, functional=True, closed=True, templates=tuple(templates)
                )
            )
        load_csv_triples(Path(tmp) / "elements.csv", ekg)
        items_e = generate_claims(ekg, 600, seed=1)
        rows.append(
            [
                "periodic table via CSV loader",
                len(ekg),
                len(items_e),
                *accuracy(FactChecker(ekg), items_e),
            ]
        )
        builtin = country_graph()
        cross = [c for c in items if c.predicate != "area"]
        rows.append(["countries claims vs built-in countryinfo graph", len(builtin), len(cross),
                     *accuracy(FactChecker(builtin), cross)])  # fmt: skip
    print_table(
        "Fact-check accuracy on generated claims (half true, half corrupted)",
        ["graph", "triples", "claims", "accuracy", "NOT ENOUGH INFO share"],
        rows,
    )


if __name__ == "__main__":
    main()
