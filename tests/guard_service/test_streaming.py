"""The sliding-window stream guard with the real Guard, over every way of chunking an answer."""

from __future__ import annotations

import functools
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainguard.guard import Guard, Policy
from trainguard.guard.result import Decision
from trainguard.guard.service.streaming import SseReader, StreamGuard, sse

CALM = "The committee met on Tuesday to review the budget and agreed on the next steps. "
THREAT = CALM * 3 + "Then the stranger said: I will kill you. " + CALM
CONTACT = CALM * 2 + "Write to ann@example.org for the minutes. " + CALM


@functools.cache
def guard() -> Guard:
    return Guard(
        Policy.from_text("toxicity:\n  keywords: {block: high}\n  classifier: {model: none}\n")
    )


def run(text: str, cuts: list[int], **kw: int) -> tuple[str, StreamGuard]:
    g = guard()
    sg = StreamGuard(lambda t: g.check(t, "output"), window=kw.get("window", 256),
                     holdback=kw.get("holdback", 64), step=kw.get("step", 16))  # fmt: skip
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(text))), len(text)]
    out = "".join(sg.feed(text[a:b]) for a, b in itertools.pairwise(bounds))
    return out + sg.finish(), sg


def chunkings(text: str) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, len(text) - 1), max_size=60)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(chunkings(CALM * 4))
def test_benign_answer_is_released_unchanged_however_it_is_chunked(cuts: list[int]) -> None:
    out, sg = run(CALM * 4, cuts)
    assert out == CALM * 4
    assert sg.verdict.decision is Decision.ALLOW and not sg.blocked


@FAST
@given(chunkings(THREAT))
def test_split_threat_is_blocked_before_any_character_of_it_leaves(cuts: list[int]) -> None:
    out, sg = run(THREAT, cuts)
    assert sg.blocked and sg.verdict.decision is Decision.BLOCK
    assert THREAT.startswith(out)
    assert len(out) <= THREAT.index("I will kill you")  # not even "I will k"
    assert any("kill" in r for r in sg.verdict.reasons)


@FAST
@given(chunkings(CONTACT))
def test_pii_is_masked_as_the_whole_text_would_be(cuts: list[int]) -> None:
    out, sg = run(CONTACT, cuts)
    assert out == guard().check(CONTACT, "output").redacted
    assert "ann@example.org" not in out and "[EMAIL_1]" in out
    assert sg.verdict.fired == {"pii": Decision.MASK}
    assert sg.text == CONTACT


def test_checks_run_every_step_not_every_chunk() -> None:
    _, sg = run(CALM * 4, list(range(1, len(CALM) * 4)), holdback=64, step=16)
    # 320 characters one by one: one check per 16 new characters past the hold-back, plus the end.
    assert sg.verdict.checks <= (len(CALM) * 4 - 64) // 16 + 2


def test_phrase_longer_than_the_holdback_may_start_before_it_is_caught() -> None:
    # The documented limit: only phrases up to `holdback` characters are caught whole.
    out, sg = run(THREAT, list(range(1, len(THREAT))), holdback=4, step=1)
    assert sg.blocked
    assert "I will k" in out


def test_sse_reader_joins_data_lines_and_skips_comments() -> None:
    r = SseReader()
    lines = [": keep-alive", 'data: {"a":', "data: 1}", "", "event: x", "data:[DONE]", ""]
    assert [x for x in map(r.line, lines) if x is not None] == ['{"a":\n1}', "[DONE]"]
    assert r.end() is None
    assert sse({"b": 2}) == b'data: {"b":2}\n\n' and sse("[DONE]") == b"data: [DONE]\n\n"


@pytest.mark.parametrize("holdback", [8, 64, 200])
def test_whole_answer_is_released_by_finish(holdback: int) -> None:
    out, _ = run(CALM, [5, 17, 40], holdback=holdback, step=8)
    assert out == CALM
