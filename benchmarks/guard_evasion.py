"""Evasion: obfuscated list words (leet, homoglyphs, zero-width, spacing) vs the keyword stage.

The suite is generated from two word lists with the robustness package's
``perturb`` (every word gets ``budget`` edits of one kind, 5 seeds each): the
single-word base terms of trainguard's own lexicon and the independent LDNOOBW English
list (loaded as a keyword file). Each obfuscated word is embedded in a sentence;
"caught" means a hit overlapping the word. better-profanity runs on the same
sentences with its own list (peer). The allow-list row checks innocent words that
contain listed substrings: the aim is no hit at all.

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_evasion
"""

from __future__ import annotations

from benchmarks.common import print_table
from benchmarks.guard_data import LDNOOBW_EN, ldnoobw_en
from trainguard.guard.keywords import KeywordMatcher, load_keyword_file
from trainguard.guard.lexicon import default_allow_list, default_rows
from trainguard.robustness.char_attacks import perturb

KINDS = ("leet", "homoglyph", "zero_width", "spacing")
SEEDS = range(5)


def _suite(words: list[str], kind: str) -> list[tuple[str, int, int]]:
    out = []
    for seed in SEEDS:
        for i, w in enumerate(words):
            attacked = perturb(w, kinds=[kind], budget=2, seed=seed * 1000 + i, targets=[w.lower()])
            prefix = "well, "
            out.append((f"{prefix}{attacked} indeed", len(prefix), len(prefix) + len(attacked)))
    return out


def _rate(matcher: KeywordMatcher, suite: list[tuple[str, int, int]]) -> float:
    caught = 0
    for text, s, e in suite:
        caught += any(h.start < e and s < h.end for h in matcher.find(text))
    return caught / len(suite)


def main() -> None:
    from better_profanity import profanity

    profanity.load_censor_words()
    own = sorted({r.term for r in default_rows() if " " not in r.term and len(r.term) >= 4})
    ext = [w for w in ldnoobw_en() if " " not in w and w.isalpha() and len(w) >= 4]
    ours_default = KeywordMatcher.default()
    ours_ext = KeywordMatcher(load_keyword_file(LDNOOBW_EN))
    rows = []
    for label, words, matcher in (
        ("trainguard lexicon", own, ours_default),
        ("LDNOOBW en", ext, ours_ext),
    ):
        for kind in KINDS:
            suite = _suite(words, kind)
            ours = _rate(matcher, suite)
            peer = sum(profanity.contains_profanity(t) for t, _, _ in suite[: len(words)]) / len(
                words
            )
            rows.append([f"{label} ({len(words)} words)", kind, len(suite), ours, peer])
    print_table(
        "Evasion catch rate of the keyword stage (budget 2 edits per word)",
        ["word list", "obfuscation", "cases", "trainguard", "better-profanity (seed 0)"],
        rows,
    )
    innocent = default_allow_list()
    false_hits = [w for w in innocent if ours_default.find(f"about {w} today")]
    print(
        f"\nallow-list check: {len(false_hits)} hits on {len(innocent)} innocent words/phrases {false_hits}"
    )


if __name__ == "__main__":
    main()
