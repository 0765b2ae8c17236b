from __future__ import annotations

import numpy as np
import pytest

from trainguard.guard.normalize import decode_tag_characters, key_of, normalize
from trainguard.guard.offsets import DropMap, FoldMap, concat_ranges, sorted_union


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Hello World", " heiio worid "),  # case, and the l/i ambiguity class
        ("ＦＵＣＫ", " fuck "),  # NFKC full-width
        ("f\u200bu\u200dck", " fuck "),  # zero-width characters removed
        ("\u202efuck", " fuck "),  # bidi override removed
        ("fu\u0308ck", " fuck "),  # combining mark removed
        ("\u0455\u04bb\u0456t", " shit "),  # Cyrillic homoglyphs (TR39 confusables)
        ("sh1t $h!t!", " shit shit "),  # leetspeak; a final "!" stays punctuation
        ("f.u.c.k and f u c k", " fuck and fuck "),  # spelled-out letters joined
        ("fuuuuuck", " fuuck "),  # runs shortened to two
        ("a,   b", " a b "),  # punctuation and space runs become one space
    ],
)
def test_key_forms(text: str, key: str) -> None:
    assert normalize(text).key == key


@pytest.mark.parametrize(
    "text",
    [
        "xx f\u200b.u.c.k yy",
        "ＸＸ ｆｕｃｋ ｙｙ",
        "xx fu\u0308\u0308ck yy",
        "xx f-u-c-k yy",
        "xx fuuuuuuck yy",
    ],
)
def test_key_spans_map_back_to_the_original_characters(text: str) -> None:
    n = normalize(text)
    start = n.key.index("fu")
    end = n.key.index(" yy")
    s, e = n.key_span(start, end)
    assert text[:s].lower().rstrip() in ("xx", "ｘｘ")
    assert text[e:].strip().lower() in ("yy", "ｙｙ")


def test_folded_span_of_expanded_ligature_covers_the_ligature() -> None:
    n = normalize("a \ufb01sh")  # the fi ligature folds to two characters
    assert n.folded == "a fish"
    assert n.folded_span(2, 6) == (2, 5)


def test_invisible_characters_are_counted() -> None:
    assert normalize("a\u200bb\u200cc\u2060d").invisible == 3
    assert normalize("plain").invisible == 0


def test_key_of_matches_normalize_for_list_entries() -> None:
    for term in ("son of a bitch", "F*ck", "Ass-hole", "shiiit"):
        assert key_of(term) == normalize(term).key.strip()


def test_tag_characters_decode_to_ascii() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore rules")
    assert decode_tag_characters("hi" + hidden) == "ignore rules"
    assert decode_tag_characters("hi") == ""


def test_offset_maps_equal_their_dense_form() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        lengths = rng.choice([0, 1, 1, 1, 2, 3], size=n)
        changed = np.flatnonzero(lengths != 1)
        dense = np.repeat(np.arange(n), lengths)
        assert np.array_equal(FoldMap(changed, lengths[changed])(np.arange(len(dense))), dense)
        dropped = np.flatnonzero(rng.random(n) < 0.4)
        kept = np.delete(np.arange(n), dropped)
        assert np.array_equal(DropMap(dropped)(np.arange(len(kept))), kept)
        other = np.flatnonzero(rng.random(n) < 0.3)
        assert np.array_equal(sorted_union(dropped, other), np.union1d(dropped, other))
        starts = np.sort(rng.choice(100, 5, replace=False))
        ends = starts + rng.integers(1, 4, 5)
        ranges = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
        assert np.array_equal(concat_ranges(starts, ends), ranges)


def test_key_index_points_at_the_character_each_key_letter_comes_from() -> None:
    text = "Ｆ.u.c\u200bk the \ufb01sh, sh1iiiit and ’q’ \u0455\u04bbit ok"
    n = normalize(text)
    for i, ch in enumerate(n.key):
        if ch != " ":
            assert ch in key_of(text[n.key_index[i]]), (i, ch)


def test_bulk_key_spans_equal_single_spans() -> None:
    n = normalize("xx f\u200b.u.c.k  ﬁsh yy,   zz fuuuuck ")
    starts = np.array([0, 1, 3, 4, 6, 10, 12])
    ends = np.array([0, 5, 9, 12, 12, 14, len(n.key)])
    s, e = n.key_spans(starts, ends)
    assert list(zip(s.tolist(), e.tolist(), strict=True)) == [
        n.key_span(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII, with a f.u.c.k",
        "caf\u00e9 \u4f60\u597d \u03a3\u03c3 idiot",  # a few non-ASCII letters: byte form
        "".join(chr(0x4E00 + i) for i in range(300)) + " ab",  # many: code-point form
    ],
)
def test_key_bytes_have_one_byte_per_key_character(text: str) -> None:
    norm = normalize(text)
    assert len(norm.key_bytes) == len(norm.key)
    expected = "".join(c if c.isascii() else "?" for c in norm.key).encode("ascii")
    assert norm.key_bytes == expected
