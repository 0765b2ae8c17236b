from __future__ import annotations

import json
import random

import numpy as np
import pytest
from tests.conftest import shared_path

from trainguard.guard.keywords import KeywordEntry, KeywordMatcher
from trainguard.guard.normalize import normalize
from trainguard.guard.prefilter import AnchorFilter, reduce_key

KEYS = [" fuck ", "cunt", "fuk", " ab ", " shit head ", "wankers", "\u00e9\u597dx", " twat "]


def _occurrences(keys: list[str], text: str) -> list[tuple[int, int]]:
    found = []
    for key in keys:
        at = text.find(key)
        while at >= 0:
            found.append((at, at + len(key)))
            at = text.find(key, at + 1)
    return found


@pytest.mark.parametrize("seed", range(4))
def test_windows_hold_every_key_occurrence(seed: int) -> None:
    rng = random.Random(seed)
    words = ["fuck", "cunt", "fuk", "ab", "shit head", "wankers", "\u00e9\u597dx", "twat"]
    words += ["the", "a", "and", "abc", "\u597d", "?", "*", "cu", "nt", "fu"]
    text = "fuk " + " ".join(rng.choice(words) for _ in range(3000)) + " cunt fuk"
    start, end = AnchorFilter(KEYS).windows(reduce_key(text))
    assert (start < end).all() and (start[1:] > end[:-1]).all()  # disjoint, in order
    occurrences = _occurrences(KEYS, text)
    assert len(occurrences) > 1000 and (0, 3) in occurrences
    assert (len(text) - 3, len(text)) in occurrences
    window = np.searchsorted(start, [s for s, _ in occurrences], side="right") - 1
    assert (window >= 0).all()
    assert (end[window] >= [e for _, e in occurrences]).all()


def test_windows_cover_little_of_benign_english() -> None:
    path = shared_path("benign_prompts", "alpaca_eval_instructions.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    text = "\n".join(json.loads(line)["instruction"] for line in lines)
    prefilter = KeywordMatcher.default().prefilter
    assert prefilter is not None
    norm = normalize(text)
    start, end = prefilter.windows(norm.key_bytes)
    assert (end - start).sum() < 0.1 * len(norm.key)


def test_keys_shorter_than_three_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        AnchorFilter(["ab", "cunt"])


def test_prefiltered_scan_equals_a_walk_of_the_whole_key(matcher: KeywordMatcher) -> None:
    lines = [
        "you are an idiot and a m0r0n \u597d",
        "Scunthorpe and the assassin in the cockpit",
        "motherfuckingbitch, f.u.c.k and fuuuuck",
        "nothing to see here, a long line of plain English words",
    ]
    norm = normalize("\n".join(lines * 300))
    assert len(norm.key) >= 1 << 14  # long enough to be prefiltered
    whole = matcher.walk(norm.key)
    assert len(whole) > 1000
    assert np.array_equal(matcher.scan(norm.key, norm.key_bytes), whole)
    assert np.array_equal(matcher.scan(norm.key), whole)  # key bytes made from the key


@pytest.mark.parametrize(
    "entries",
    [
        [KeywordEntry("\u7b28\u86cb", "insult"), KeywordEntry("fuk", substring=True)],
        [KeywordEntry("x", substring=True), KeywordEntry("ab")],  # too short: no prefilter
    ],
)
def test_long_texts_find_what_their_lines_find(entries: list[KeywordEntry]) -> None:
    m = KeywordMatcher(entries)
    lines = ["\u4f60\u662f \u7b28\u86cb fukk ab x", "plain words only", "ab fuk"]
    text = "\n".join(lines * 1000)
    found = [(h.start, h.end, h.text) for h in m.find(text)]
    expected, offset = [], 0
    for line in lines * 1000:
        expected += [(h.start + offset, h.end + offset, h.text) for h in m.find(line)]
        offset += len(line) + 1
    assert found == expected and len(found) >= 3000
