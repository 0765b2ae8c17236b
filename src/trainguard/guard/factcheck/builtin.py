"""The built-in knowledge graph, made on first use from the ``countryinfo`` package.

Countries (250+) with capital, population, area (km2), region, subregion, official
languages (ISO 639 codes named with ``data/languages.txt``), currencies (ISO 4217
codes, major ones named with ``data/currencies.txt``, the code kept as an alias) and
land borders (ISO alpha-3 codes resolved to country names). Alternative spellings,
ISO codes and native names become aliases. The graph is cached as SQLite under
``~/.cache/trainguard/guard/`` (or ``$TRAINGUARD_CACHE``), rebuilt when absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from trainguard.core.errors import require
from trainguard.guard.factcheck.loaders import load_graph_dict
from trainguard.guard.factcheck.store import KnowledgeGraph
from trainguard.guard.textfiles import data_text, tsv_rows

GRAPH_VERSION = 1


def _table(name: str) -> dict[str, str]:
    return {
        code.strip(): label.strip()
        for _, (code, label) in tsv_rows(data_text(name), name, 2, "code and name")
    }


def country_predicates() -> dict[str, Any]:
    """Predicate definitions and sentence templates of the country graph."""
    return dict(json.loads(data_text("country_predicates.json")))


def country_graph_dict() -> dict[str, Any]:
    """The country graph as the JSON structure of :func:`~.loaders.load_json`."""
    require("countryinfo", "guard")
    from countryinfo import CountryInfo

    countries = CountryInfo("France").all()
    languages, currencies = _table("languages.txt"), _table("currencies.txt")
    by_code = {c["ISO"]["alpha3"]: c["name"] for c in countries.values() if c.get("ISO")}
    entities: list[dict[str, Any]] = []
    triples: list[list[Any]] = []
    for info in countries.values():
        c: dict[str, Any] = dict(info)
        name = c["name"]
        aliases = [a for a in c.get("altSpellings", []) if len(a) > 3]
        aliases += [c.get("nativeName", ""), c.get("ISO", {}).get("alpha3", "")]
        entities.append({"name": name, "type": "country", "aliases": [a for a in aliases if a]})
        if c.get("capital"):
            triples.append([name, "capital", c["capital"]])
        for key in ("population", "area"):
            if c.get(key):
                triples.append([name, key, float(c[key])])
        for key in ("region", "subregion"):
            if c.get(key):
                triples.append([name, key, c[key]])
        for code in c.get("languages", []):
            triples.append([name, "language", languages.get(code, code)])
        for code in c.get("currencies", []):
            cname = currencies.get(code, code)
            short = [cname.split()[-1]] if " " in cname else []
            entities.append({"name": cname, "type": "currency", "aliases": [code, *short]})
            triples.append([name, "currency", cname])
        for code in c.get("borders", []):
            if code in by_code:
                triples.append([name, "borders", by_code[code]])
    return {"predicates": country_predicates(), "entities": entities, "triples": triples}


def cache_dir() -> Path:
    """Where trainguard caches derived data (``$TRAINGUARD_CACHE`` or ``~/.cache/trainguard``)."""
    return Path(os.environ.get("TRAINGUARD_CACHE", Path.home() / ".cache" / "trainguard"))


def country_graph(path: str | Path | None = None) -> KnowledgeGraph:
    """Open the built-in country graph, building the SQLite file on first use."""
    target = Path(path) if path else cache_dir() / "guard" / f"countries-v{GRAPH_VERSION}.sqlite"
    if target.is_file():
        return KnowledgeGraph(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    kg = KnowledgeGraph(tmp)
    load_graph_dict(country_graph_dict(), kg, source="countryinfo")
    kg.close()
    os.replace(tmp, target)
    return KnowledgeGraph(target)
