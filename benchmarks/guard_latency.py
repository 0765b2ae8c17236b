"""Per-check latency of Guard.check on 500-character texts, one call per text (p50 / p99).

Texts: benign prompts, tweets and jailbreak prompts cut or joined to 500 characters
(600 texts). Policies: the default (keywords + scanned alt-profanity-check, PII,
injection heuristics) and the same with the embedding layer on. The aim is keyword +
PII + injection heuristics well under 1 ms together at p50.

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_latency
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import print_table
from benchmarks.guard_data import benign_prompts, davidson, jailbreaks
from trainguard.guard import Guard, Policy


def texts_500() -> list[str]:
    pool = benign_prompts()[:300] + davidson()[0][:600] + jailbreaks()[:200]
    out, buf = [], ""
    for t in pool:
        buf = (buf + " " + t).strip()
        if len(buf) >= 500:
            out.append(buf[:500])
            buf = ""
    return out[:600]


def main() -> None:
    texts = texts_500()
    rows = []
    for label, policy in [
        ("default", Policy()),
        ("default + embeddings", Policy(injection={"embeddings": True})),
    ]:
        guard = Guard(policy)
        guard.check(texts[0])  # warm-up
        lat: dict[str, list[float]] = {}
        for t in texts:
            for k, v in guard.check(t).latency_ms.items():
                lat.setdefault(k, []).append(v)
        fast = np.array(lat["normalize"]) + np.array(lat["pii"]) + np.array(lat["injection"])
        fast += np.array([guard.check(t, toxicity_prob=0.0).latency_ms["toxicity"] for t in texts])
        lat["normalize+keywords+pii+injection heuristics"] = list(fast)
        for k, v in lat.items():
            rows.append([label, k, float(np.percentile(v, 50)), float(np.percentile(v, 99))])
    print_table(
        f"Guard.check latency per check, {len(texts)} texts of 500 characters (ms)",
        ["policy", "check", "p50 ms", "p99 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
