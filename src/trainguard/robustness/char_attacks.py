r"""Character-level perturbations that real attackers use to slip text past filters.

Each perturbation is a plain function ``f(word, rng) -> word`` that makes one small,
human-readable edit with a :class:`random.Random`, so results reproduce from a seed:

============  =========================  ===============================================
kind          function                   example (``"idiot"``)
============  =========================  ===============================================
typo          :func:`typo`               ``"idiit"`` (swap, delete, insert, neighbour key)
leet          :func:`leetspeak`          ``"idi0t"``
homoglyph     :func:`homoglyphs`         ``"idiоt"`` (Cyrillic ``о``, U+043E)
zero_width    :func:`insert_zero_width`  ``"idi\u200bot"`` (invisible U+200B inside)
spacing       :func:`space_out`          ``"i d i o t"`` / ``"i.d.i.o.t"``
============  =========================  ===============================================

:func:`perturb` applies a budget of such edits to the words of a text (optionally
only to target words, such as the entries of a profanity list) and leaves everything
else byte-identical.

References
----------
- J. Gao, J. Lanchantin, M. L. Soffa, Y. Qi. "Black-box Generation of Adversarial Text
  Sequences to Evade Deep Learning Classifiers" (DeepWordBug), IEEE S&P Workshops 2018:
  swap, substitute, delete, insert.
- J. Li, S. Ji, T. Du, B. Li, T. Wang. "TextBugger: Generating Adversarial Text Against
  Real-world Applications", NDSS 2019: insert space, visually similar characters.
- H. Hosseini, S. Kannan, B. Zhang, R. Poovendran. "Deceiving Google's Perspective API
  Built for Detecting Toxic Comments", 2017: misspelling and spacing evade toxicity scores.
- Unicode Technical Standard #39, "Unicode Security Mechanisms" (confusables.txt): the
  homoglyph table below is a subset of its Latin-to-Cyrillic/Greek prototypes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Mapping, Sequence

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_choice, check_int

__all__ = [
    "HOMOGLYPHS",
    "KINDS",
    "LEET",
    "PERTURBATIONS",
    "ZERO_WIDTH",
    "homoglyphs",
    "insert_zero_width",
    "leetspeak",
    "perturb",
    "space_out",
    "typo",
]

LEET: Mapping[str, str] = {
    "a": "4@",
    "b": "8",
    "e": "3",
    "g": "96",
    "i": "1!",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
    "z": "2",
}
"""Lower-case letter -> leetspeak replacements (one is drawn per edit)."""

HOMOGLYPHS: Mapping[str, str] = {
    "a": "\u0430",  # CYRILLIC SMALL LETTER A
    "c": "\u0441",  # CYRILLIC SMALL LETTER ES
    "d": "\u0501",  # CYRILLIC SMALL LETTER KOMI DE
    "e": "\u0435",  # CYRILLIC SMALL LETTER IE
    "h": "\u04bb",  # CYRILLIC SMALL LETTER SHHA
    "i": "\u0456",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    "j": "\u0458",  # CYRILLIC SMALL LETTER JE
    "o": "\u043e",  # CYRILLIC SMALL LETTER O
    "p": "\u0440",  # CYRILLIC SMALL LETTER ER
    "q": "\u051b",  # CYRILLIC SMALL LETTER QA
    "s": "\u0455",  # CYRILLIC SMALL LETTER DZE
    "w": "\u051d",  # CYRILLIC SMALL LETTER WE
    "x": "\u0445",  # CYRILLIC SMALL LETTER HA
    "y": "\u0443",  # CYRILLIC SMALL LETTER U
    "A": "\u0410",
    "B": "\u0412",
    "C": "\u0421",
    "E": "\u0415",
    "H": "\u041d",
    "I": "\u0406",
    "J": "\u0408",
    "K": "\u041a",
    "M": "\u041c",
    "N": "\u039d",  # GREEK CAPITAL LETTER NU
    "O": "\u041e",
    "P": "\u0420",
    "S": "\u0405",
    "T": "\u0422",
    "X": "\u0425",
    "Y": "\u04ae",
    "Z": "\u0396",  # GREEK CAPITAL LETTER ZETA
}
"""Latin letter -> a Cyrillic or Greek letter that renders the same (UTS #39 confusables)."""

ZERO_WIDTH: tuple[str, ...] = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
"""Zero width space, non-joiner, joiner, word joiner, zero width no-break space."""

_SEPARATORS = (" ", ".", "-", "_", "*")

_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_QWERTY_ROWS):
    for _c, _ch in enumerate(_row):
        _near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_QWERTY_ROWS):
                _near += [
                    _QWERTY_ROWS[_other][j]
                    for j in (_c - 1, _c, _c + 1)
                    if 0 <= j < len(_QWERTY_ROWS[_other])
                ]
        _NEIGHBOURS[_ch] = "".join(_near)

_WORD = re.compile(r"[^\W\d_]{2,}")


def _same_case(new: str, old: str) -> str:
    return new.upper() if old.isupper() else new


def typo(word: str, rng: random.Random) -> str:
    """One DeepWordBug edit: swap two adjacent letters, delete, insert or hit a neighbour key.

    The operation and position are drawn from ``rng``; neighbour keys follow a QWERTY
    layout and keep the letter's case. Words shorter than two characters come back
    unchanged.
    """
    if len(word) < 2:
        return word
    ops = ["swap", "substitute", "insert"] + (["delete"] if len(word) > 2 else [])
    op = rng.choice(ops)
    if op == "swap":
        candidates = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if candidates:
            i = rng.choice(candidates)
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        op = "substitute"
    if op == "delete":
        i = rng.randrange(1, len(word))
        return word[:i] + word[i + 1 :]
    i = rng.randrange(len(word))
    near = _NEIGHBOURS.get(word[i].lower(), "")
    if not near:
        return word[:i] + word[i] + word[i:]  # doubled letter
    key = _same_case(rng.choice(near), word[i])
    if op == "insert":
        return word[: i + 1] + key + word[i + 1 :]
    return word[:i] + key + word[i + 1 :]


def _replace_one(word: str, rng: random.Random, table: Mapping[str, str], lower: bool) -> str:
    positions = [i for i, ch in enumerate(word) if (ch.lower() if lower else ch) in table]
    if not positions:
        return word
    i = rng.choice(positions)
    key = word[i].lower() if lower else word[i]
    return word[:i] + rng.choice(table[key]) + word[i + 1 :]


def leetspeak(word: str, rng: random.Random) -> str:
    """Replace one letter by a leetspeak look-alike from :data:`LEET` (``e`` -> ``3``).

    Words without a mappable letter come back unchanged.
    """
    return _replace_one(word, rng, LEET, lower=True)


def homoglyphs(word: str, rng: random.Random) -> str:
    """Replace one Latin letter by its Cyrillic/Greek twin from :data:`HOMOGLYPHS`.

    The result looks identical on screen but no longer matches the original bytes.
    Words without a mappable letter come back unchanged.
    """
    return _replace_one(word, rng, HOMOGLYPHS, lower=False)


def insert_zero_width(word: str, rng: random.Random) -> str:
    """Insert one invisible character from :data:`ZERO_WIDTH` strictly inside ``word``.

    Words shorter than two characters come back unchanged.
    """
    if len(word) < 2:
        return word
    i = rng.randrange(1, len(word))
    return word[:i] + rng.choice(ZERO_WIDTH) + word[i:]


def space_out(word: str, rng: random.Random, sep: str | None = None) -> str:
    """Put ``sep`` between every pair of letters (``"idiot"`` -> ``"i d i o t"``).

    With ``sep=None`` the separator is drawn from space, ``.``, ``-``, ``_`` and ``*``.
    """
    if sep is None:
        sep = rng.choice(_SEPARATORS)
    return sep.join(word)


PERTURBATIONS: Mapping[str, Callable[[str, random.Random], str]] = {
    "typo": typo,
    "leet": leetspeak,
    "homoglyph": homoglyphs,
    "zero_width": insert_zero_width,
    "spacing": space_out,
}
"""Kind name -> perturbation function, in the order of :data:`KINDS`."""

KINDS: tuple[str, ...] = tuple(PERTURBATIONS)
"""All perturbation kinds: typo, leet, homoglyph, zero_width, spacing."""


def perturb(
    text: str,
    *,
    kinds: Sequence[str] = KINDS,
    budget: int = 1,
    seed: int | None = None,
    targets: Collection[str] | None = None,
) -> str:
    """Apply ``budget`` character-level edits to distinct words of ``text``.

    Words are runs of two or more letters. ``budget`` of them (all of them when there
    are fewer) are drawn at random and each gets one edit of a kind drawn from
    ``kinds``; a kind that cannot change a word (leetspeak of ``"why"``) is skipped in
    favour of another. Text outside the edited words is kept byte for byte.

    Parameters
    ----------
    text
        The input text.
    kinds
        Perturbation kinds to draw from; names from :data:`KINDS`.
    budget
        Number of words to edit (0 returns ``text`` unchanged).
    seed
        Seed of the :class:`random.Random` that draws words, kinds and edits; the same
        seed gives the same output. ``None`` draws fresh randomness.
    targets
        If given, only words whose lower-case form is in ``targets`` are edited (an
        attacker hiding the words a filter looks for).

    Returns
    -------
    str
        The perturbed text.
    """
    if isinstance(kinds, str) or not kinds:
        raise ParameterError(
            "The 'kinds' parameter of perturb must be a non-empty sequence of names from "
            f"{', '.join(KINDS)}. Got {kinds!r} instead."
        )
    for kind in kinds:
        check_choice(kind, "kinds", "perturb", KINDS)
    check_int(budget, "budget", "perturb")
    rng = random.Random(seed)
    wanted = None if targets is None else {t.lower() for t in targets}
    spans = [
        m.span() for m in _WORD.finditer(text) if wanted is None or m.group().lower() in wanted
    ]
    chosen = sorted(rng.sample(spans, min(budget, len(spans))))
    out: list[str] = []
    last = 0
    for start, end in chosen:
        word = text[start:end]
        out += [text[last:start], _edit(word, rng, kinds)]
        last = end
    out.append(text[last:])
    return "".join(out)


def _edit(word: str, rng: random.Random, kinds: Sequence[str]) -> str:
    order = list(kinds)
    rng.shuffle(order)
    for kind in order:
        new = PERTURBATIONS[kind](word, rng)
        if new != word:
            return new
    return word
