"""Character-level perturbations: determinism, budget, and that each kind really edits."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest
from confusable_homoglyphs import confusables

from trainguard.core.errors import ParameterError
from trainguard.robustness.char_attacks import (
    HOMOGLYPHS,
    KINDS,
    PERTURBATIONS,
    ZERO_WIDTH,
    homoglyphs,
    insert_zero_width,
    leetspeak,
    perturb,
    space_out,
    typo,
)

TEXT = "You are a stupid idiot, go away. Really, an idiot!"


def test_same_seed_same_output_and_seeds_differ() -> None:
    outs = {perturb(TEXT, budget=3, seed=s) for s in range(10)}
    assert perturb(TEXT, budget=3, seed=7) == perturb(TEXT, budget=3, seed=7)
    assert len(outs) > 5
    assert TEXT not in outs


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_every_word_it_can(kind: str) -> None:
    rng = random.Random(0)
    for word in ("idiot", "Stupid", "loser", "ass"):
        assert PERTURBATIONS[kind](word, rng) != word


def test_budget_counts_edited_words_and_rest_is_untouched() -> None:
    words = re.findall(r"\S+", "alpha bravo charlie delta echo foxtrot")
    text = " ".join(words)
    for budget in (0, 1, 3, 6, 10):
        out = perturb(text, kinds=("homoglyph",), budget=budget, seed=1)
        changed = sum(a != b for a, b in zip(words, out.split(" "), strict=True))
        assert changed == min(budget, len(words))


def test_targets_restrict_edits_to_those_words() -> None:
    out = perturb(TEXT, kinds=("leet",), budget=10, seed=3, targets={"IDIOT"})
    assert out.count("idiot") == 0
    assert out.startswith("You are a stupid ")
    assert out.endswith("!") and "go away. Really, an " in out


def test_homoglyphs_are_unicode_confusables_of_the_latin_letter() -> None:
    same_prototype = {"I": "l"}  # UTS #39 maps Latin I and Cyrillic I both to 'l'
    for latin, twin in HOMOGLYPHS.items():
        found = confusables.is_confusable(twin, preferred_aliases=["latin"])
        assert found, f"{twin!r} ({unicodedata.name(twin)}) is not a confusable"
        prototypes = {h["c"] for h in found[0]["homoglyphs"]}
        assert same_prototype.get(latin, latin) in prototypes, (latin, twin)
    rng = random.Random(5)
    out = homoglyphs("idiot", rng)
    assert out != "idiot" and len(out) == 5 and not out.isascii()


def test_zero_width_is_invisible_and_inside_the_word() -> None:
    out = insert_zero_width("idiot", random.Random(2))
    stripped = "".join(ch for ch in out if ch not in ZERO_WIDTH)
    assert stripped == "idiot" and len(out) == 6
    assert out[0] == "i" and out[-1] == "t"
    assert all(unicodedata.category(ch) == "Cf" for ch in ZERO_WIDTH)


def test_leet_space_typo_shapes() -> None:
    rng = random.Random(4)
    leet = leetspeak("test", rng)
    assert len(leet) == 4 and sum(a != b for a, b in zip(leet, "test", strict=True)) == 1
    assert leetspeak("why", rng) == "why"
    assert space_out("idiot", rng, " ") == "i d i o t"
    spaced = space_out("idiot", rng)
    assert len(spaced) == 9 and spaced[::2] == "idiot" and len(set(spaced[1::2])) == 1
    for _ in range(50):
        t = typo("idiot", rng)
        assert t != "idiot" and abs(len(t) - 5) <= 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"kinds": ("typo", "rot13")}, "kinds"), ({"kinds": ()}, "kinds"), ({"budget": -1}, "budget")],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError, match=f"'{field}' parameter of perturb"):
        perturb(TEXT, **kwargs)  # type: ignore[arg-type]
