"""Keyword stage throughput with 100k+ entries and normalisation on: ours vs peers.

Texts: 4 MB of benign prompts (prose with a few non-ASCII characters and few hits;
the 147 KB of prompts repeated) and of the same prompts mixed with Davidson tweets
(dense in profanity: about 8 hits per KB). Ours: trainguard's normaliser +
Aho-Corasick automaton over the default expanded lexicon. Peers, in the same run on
the same text: better-profanity (its own list, with its own variant generation) and
one Python ``re`` alternation of the same entries with word boundaries. Throughput
is CPU time (``time.process_time``) of one core, best of three, in MB/s of UTF-8
input. A second table times the parts alone on the same texts: the normaliser, the
anchor prefilter (:mod:`trainguard.guard.prefilter`), the automaton over the
prefilter's windows, and for comparison the automaton over the whole key (what the
stage walked before the prefilter); the rest of the stage is the resolution of the
hits.

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_keywords
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from benchmarks.common import print_table
from benchmarks.guard_data import benign_prompts, davidson
from trainguard.guard.keywords import KeywordMatcher, default_keyword_entries
from trainguard.guard.normalize import normalize
from trainguard.guard.prefilter import AnchorFilter

T = TypeVar("T", str, bytes)
PEER_BYTES = {"better-profanity": 20_000, "re": 5_000}
"""Input sizes for the slow peers (they run at a few KB/s)."""


def _seconds(fn: Callable[[T], object], arg: T, repeat: int = 3) -> float:
    """CPU seconds of ``fn(arg)``, best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - t0)
    return max(best, 1e-9)


def _mbps(fn: Callable[[str], object], text: str, repeat: int = 3) -> float:
    return len(text.encode("utf-8")) / 1e6 / _seconds(fn, text, repeat)


def _shares(whole: float, *parts: float) -> list[float]:
    """Shares of the stage's time of parts timed alone (MB/s), and the rest."""
    shares = [whole / p for p in parts]
    return [*shares, 1 - sum(shares)]


def _sized(corpus: str, size: int) -> str:
    return (corpus * (1 + size // len(corpus)))[:size]


def main() -> None:
    tweets, _ = davidson()
    prose = _sized("\n".join(benign_prompts()), 4_000_000)
    mixed = _sized("\n".join(benign_prompts() + tweets[:3000]), 4_000_000)
    t0 = time.perf_counter()
    matcher = KeywordMatcher.default()
    build = time.perf_counter() - t0
    ours_prose = _mbps(matcher.find, prose)
    ours = _mbps(matcher.find, mixed)
    hits = len(matcher.find(mixed[:1_000_000]))
    # Where the time goes: each part alone, in MB/s of the same UTF-8 input.
    prefilter = matcher.prefilter
    assert isinstance(prefilter, AnchorFilter)
    parts = {}
    for name, text in (("prompts", prose), ("prompts + tweets", mixed)):
        mb = len(text.encode("utf-8")) / 1e6
        norm = normalize(text)
        start, end = prefilter.windows(norm.key_bytes)
        windows = _seconds(prefilter.windows, norm.key_bytes)
        scan = _seconds(partial(matcher.scan, key_bytes=norm.key_bytes), norm.key)
        parts[name] = (
            _mbps(normalize, text),
            mb / windows,
            mb / (scan - windows),  # the automaton over the windows
            mb / _seconds(matcher.walk, norm.key),
            float((end - start).sum() / len(norm.key)),
        )

    from better_profanity import profanity

    profanity.load_censor_words()
    bp = _mbps(profanity.contains_profanity, mixed[: PEER_BYTES["better-profanity"]], repeat=1)

    terms = sorted({e.term for e in default_keyword_entries()}, key=len, reverse=True)
    t0 = time.perf_counter()
    alternation = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE)
    re_build = time.perf_counter() - t0
    rx = _mbps(alternation.findall, mixed[: PEER_BYTES["re"]], repeat=1)

    print_table(
        "Keyword stage throughput (normalisation on, one core, CPU time)",
        ["matcher", "text", "entries", "build s", "MB/s", "ours / this"],
        [
            [
                "trainguard (normalise + Aho-Corasick)",
                "prompts",
                len(matcher),
                build,
                ours_prose,
                ours / ours_prose,
            ],
            [
                "trainguard (normalise + Aho-Corasick)",
                "prompts + tweets",
                len(matcher),
                build,
                ours,
                1.0,
            ],
            ["better-profanity 0.7 (own list)", "prompts + tweets", 916, 0.0, bp, ours / bp],
            [
                "re alternation, same entries, no normalisation",
                "prompts + tweets",
                len(terms),
                re_build,
                rx,
                ours / rx,
            ],
        ],
    )
    print_table(
        "Where the time goes: each part alone (MB/s of the same input; share of the stage's time)",
        [
            "text",
            "stage MB/s",
            "normalise MB/s",
            "prefilter MB/s",
            "automaton on windows MB/s",
            "windows / key",
            "automaton on whole key MB/s",
            "normalise",
            "prefilter",
            "automaton",
            "rest",
        ],
        [
            [name, whole, norm, pre, walk, share, full, *_shares(whole, norm, pre, walk)]
            for name, whole, (norm, pre, walk, full, share) in (
                ("prompts", ours_prose, parts["prompts"]),
                ("prompts + tweets", ours, parts["prompts + tweets"]),
            )
        ],
    )
    print(
        f"\nours: {hits} hits in the first 1 MB of prompts + tweets; texts of {len(mixed) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
