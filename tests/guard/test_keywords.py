from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import shared_path

from trainguard.core.errors import DataError
from trainguard.core.findings import Severity
from trainguard.guard.keywords import KeywordEntry, KeywordMatcher, load_keyword_file
from trainguard.guard.lexicon import default_rows
from trainguard.robustness.char_attacks import perturb


def test_default_list_has_over_100k_entries_from_a_small_base(matcher: KeywordMatcher) -> None:
    assert len(matcher) > 100_000
    assert len(default_rows()) < 500


@pytest.mark.parametrize(
    ("text", "term", "category"),
    [
        ("you are an idiot", "idiot", "insult"),
        ("what a dumbass", "ass", "profanity"),
        ("go kill yourself", "kill yourself", "self_harm"),
        ("bitchez everywhere", "bitch", "insult"),
    ],
)
def test_positive_hits(matcher: KeywordMatcher, text: str, term: str, category: str) -> None:
    hits = matcher.find(text)
    assert [(h.term, h.category) for h in hits] == [(term, category)]


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe United won at home",
        "The assassin hid in the cockpit",
        "a classic cocktail in Sussex",
        "How can I kill a Python process?",
        "I paid 455 dollars for 8 tickets",
        "I paid \uff14\uff15\uff15 dollars",  # full-width digits are digits too
        "shiitake mushrooms and a cucumber",
        "Hello, grass is green",
    ],
)
def test_innocent_words_are_not_hit(matcher: KeywordMatcher, text: str) -> None:
    assert matcher.find(text) == []


@pytest.mark.parametrize(
    "evasion",
    [
        "f.u.c.k",
        "f u c k",
        "fü\u200bck",
        "ＦＵＣＫ",
        "f\u200bu\u200bc\u200bk",
        "fuuuuuck",
        "phuck",
        "f*ck",
    ],
)
def test_evasions_are_caught_and_spans_land_on_the_original(
    matcher: KeywordMatcher, evasion: str
) -> None:
    text = f"well {evasion} that"
    hits = matcher.find(text)
    assert len(hits) == 1
    assert hits[0].text == text[hits[0].start : hits[0].end]
    assert text[: hits[0].start] == "well " and text[hits[0].end :] == " that"


@pytest.mark.parametrize("kind", ["leet", "homoglyph", "zero_width", "spacing"])
def test_char_attacks_from_robustness_are_caught(matcher: KeywordMatcher, kind: str) -> None:
    words = ["idiot", "bitch", "asshole", "bastard", "slut", "wanker", "moron", "twat"]
    caught = 0
    for seed, w in enumerate(words):
        attacked = perturb(f"you {w} ok", kinds=[kind], budget=3, seed=seed, targets=[w])
        caught += any(h.term for h in matcher.find(attacked))
    assert caught == len(words)


def test_compound_hit_covers_the_whole_word(matcher: KeywordMatcher) -> None:
    hits = matcher.find("MOTHERFUCKER!")
    assert [(h.text, h.category) for h in hits] == [("MOTHERFUCKER", "profanity")]


def test_overlapping_hits_merge_with_the_highest_severity(matcher: KeywordMatcher) -> None:
    hits = matcher.find("motherfuckingbitch")
    assert len(hits) == 1 and hits[0].severity >= Severity.HIGH


def test_substring_entries_need_the_allow_list() -> None:
    entries = [KeywordEntry("cunt", "insult", Severity.CRITICAL, substring=True)]
    assert [h.text for h in KeywordMatcher(entries).find("Scunthorpe")] == ["cunt"]
    assert KeywordMatcher(entries, ["scunthorpe"]).find("Scunthorpe") == []


def test_lists_load_from_txt_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# comment\nfoo\nbar baz\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(
        "term,category,severity,match\nqux,insult,3,substring\n", encoding="utf-8"
    )
    (tmp_path / "c.tsv").write_text("term\tseverity\nzap\tlow\n", encoding="utf-8")
    m = KeywordMatcher(
        load_keyword_file(tmp_path / "a.txt")
        + load_keyword_file(tmp_path / "b.csv")
        + load_keyword_file(tmp_path / "c.tsv")
    )
    found = {(h.term, h.severity) for h in m.find("foo, bar  baz, xquxx and zap")}
    assert found == {("foo", Severity.MEDIUM), ("bar baz", Severity.MEDIUM),
                     ("qux", Severity.HIGH), ("zap", Severity.LOW)}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.csv", "word,severity\nfoo,extreme\n", "severity must be"),
        ("x.csv", "name,category\nfoo,a\n", "needs a 'term' column"),
        ("x.csv", "term,match\nfoo,fuzzy\n", "match must be"),
        ("x.txt", "# only comments\n", "has no entries"),
        ("x.json", "[]", "must be .txt, .csv or .tsv"),
    ],
)
def test_malformed_list_files_get_a_clear_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_keyword_file(tmp_path / name)


def test_missing_list_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_keyword_file(tmp_path / "absent.txt")


def test_public_ldnoobw_list_loads_and_matches() -> None:
    path = shared_path("profanity_wordlists", "ldnoobw", "en.txt")
    entries = load_keyword_file(path)
    m = KeywordMatcher(entries)
    assert len(m) > 350
    assert m.find("this is b.u.l.l.s.h.i.t") != []


@pytest.mark.parametrize("distinct_letters", [10, 300])  # byte form and code-point form
def test_non_latin_entries_match_in_both_key_forms(distinct_letters: int) -> None:
    m = KeywordMatcher([KeywordEntry("笨蛋", "insult"), KeywordEntry("idiot", "insult")])
    filler = "".join(chr(0x4E00 + 500 + i) for i in range(distinct_letters))
    text = f"{filler} 你是 笨蛋 and an i.d.i.o.t 🙂 {filler}"
    assert [h.text for h in m.find(text)] == ["笨蛋", "i.d.i.o.t"]


def test_hits_in_one_long_text_equal_the_hits_line_by_line(matcher: KeywordMatcher) -> None:
    lines = [
        "you are an idiot and a m0r0n",
        "Scunthorpe and the assassin in the cockpit",
        "motherfuckingbitch, f.u.c.k and fuuuuck",
        "I paid 455 dollars",
        "ｓｈｉｔ happens, \u0455\u04bbit too",
        "nothing to see here",
    ]
    lines *= 120  # prefiltered, bulk path (a line alone: walked whole, one-by-one path)
    text = "\n".join(lines)
    expected, offset = [], 0
    for line in lines:
        for h in matcher.find(line):
            expected.append((h.start + offset, h.end + offset, h.text, h.term, h.severity))
        offset += len(line) + 1
    found = [(h.start, h.end, h.text, h.term, h.severity) for h in matcher.find(text)]
    assert found == expected and len(found) >= 840
