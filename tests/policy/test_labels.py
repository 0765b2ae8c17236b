from __future__ import annotations

from trainguard.policy import (
    PUBLIC,
    SYSTEM,
    USER,
    Label,
    Labelled,
    deep_label,
    document_source,
    flow_path,
    join,
    literal,
    readers,
    tool_source,
    unwrap,
    wrap,
)

WEB = document_source("web:evil.com")


def test_join_unites_sources_and_intersects_readers():
    a = Label(frozenset({USER}), readers("a@x.com", "b@x.com"))
    b = Label(frozenset({WEB}), readers("b@x.com", "c@x.com"))
    j = join(a, b)
    assert j.sources == {USER, WEB}
    assert j.readers == readers("b@x.com")
    assert not j.trusted
    assert j.untrusted_sources() == [WEB]


def test_public_is_the_top_reader_set():
    private = readers("a@x.com")
    assert (PUBLIC & private) == private
    assert (private & PUBLIC) == private
    assert PUBLIC.allows(["anyone@x.com"])
    assert not private.allows(["b@x.com"])
    assert private.allows(["A@x.com".lower()])


def test_trust_of_sources():
    assert USER.trusted and SYSTEM.trusted
    assert not tool_source("get_webpage").trusted
    assert tool_source("get_iban", trusted=True).trusted
    assert Label(frozenset({USER, tool_source("get_iban", trusted=True)})).trusted
    assert "untrusted" in str(WEB)


def test_wrap_and_unwrap_round_trip_and_deep_label():
    label = Label(frozenset({WEB}), PUBLIC)
    v = wrap({"a": [1, {"b": "x"}], "c": None}, label, "page")
    assert unwrap(v) == {"a": [1, {"b": "x"}], "c": None}
    assert deep_label(v).sources == {WEB}
    mixed = Labelled([literal("ok"), v], Label(frozenset({USER})), "list")
    assert deep_label(mixed).sources == {USER, WEB}


def test_flow_path_walks_back_to_the_value_that_introduced_the_source():
    page = wrap("hello", Label(frozenset({WEB})), "get_webpage()")
    upper = Labelled("HELLO", page.label, "upper()", (page,))
    arg = Labelled([upper], Label(frozenset({USER})), "list")
    path = flow_path(arg, lambda lab: not lab.trusted)
    assert path[0].startswith("get_webpage() [sources [document:web:evil.com (untrusted)]")
    assert path[1:] == ["upper()", "list"]
    assert flow_path(literal("x"), lambda lab: not lab.trusted) == []
