"""The default keyword lexicon: a hand-written base list expanded by rule at load time.

The base (``data/lexicon.txt``, about 350 terms written for this project) gives each
term a category, a severity and its *forms*: ``n`` noun, ``v`` verb, ``a``
adjective, ``c`` compound stem, ``s`` substring match, ``p`` fixed phrase. Expansion
is systematic and single-step, so the list grows linearly with the base:

1. inflections (plural; ``-s -ed -ing -in -er -ers`` for verbs with e-dropping and
   consonant doubling; ``-er -est`` for adjectives),
2. closed compounds of ``c`` stems with the heads and prefixes of
   ``data/compounds.txt`` ("shit" + "head", "dumb" + "ass") and their plurals,
3. one spelling variant at a time of every form: a vowel masked with ``*``, one
   letter doubled (the normaliser shortens longer runs to two), ``ck -> k/kk/q``,
   ``f -> ph``, ``c -> k``, ``u -> v``, ``i -> y``, final ``er -> a/ah``, final
   ``s -> z`` and vowels dropped (kept when four letters or more remain).

Leetspeak, homoglyphs, spacing and case are not expanded here: the normaliser folds
them in the text, so one entry covers them all. The expanded list has over 100,000
distinct entries (see :func:`default_entries`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from trainguard.core.errors import DataError
from trainguard.core.findings import Severity
from trainguard.guard.textfiles import content_lines, data_text, tsv_rows

CATEGORIES = ("profanity", "sexual", "insult", "identity_hate", "violence", "self_harm")
"""Categories of the default lexicon."""

FORMS = frozenset("nvacsp")
_VOWELS = "aeiou"
_RUN3 = re.compile(r"(.)\1\1+")
_SPELLING: tuple[tuple[str, str], ...] = (
    (r"ck", "k"),
    (r"ck", "kk"),
    (r"ck", "q"),
    (r"^f", "ph"),
    (r"c(?!k)", "k"),
    (r"u", "v"),
    (r"i", "y"),
    (r"er$", "a"),
    (r"er$", "ah"),
    (r"s$", "z"),
)


@dataclass(frozen=True)
class LexiconRow:
    """One base term with its category, severity and forms."""

    term: str
    category: str
    severity: Severity
    forms: frozenset[str]


def _plural(word: str) -> str:
    if re.search(r"(s|sh|ch|x|z)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def _stem_for_suffix(word: str) -> str:
    """Word ready for a vowel suffix: drop a final ``e``, double a final CVC consonant."""
    if word.endswith("e") and len(word) > 2:
        return word[:-1]
    if re.search(r"(^|[^aeiou])[aeiou][bcdfgklmnprstvz]$", word) and len(word) <= 5:
        return word + word[-1]
    return word


def inflections(term: str, forms: frozenset[str]) -> list[str]:
    """The term and its inflected forms for the given part-of-speech forms."""
    out = [term]
    if " " in term or "p" in forms:
        return out
    if "n" in forms:
        out.append(_plural(term))
    if "v" in forms:
        s = _stem_for_suffix(term)
        y = term[:-1] + "i" if re.search(r"[^aeiou]y$", term) else None
        out += [_plural(term), (y or s) + "ed", s + "ing", s + "in", s + "er", s + "ers"]
    if "a" in forms:
        base = term[:-1] + "i" if term.endswith("y") else _stem_for_suffix(term)
        out += [base + "er", base + "est"]
    return list(dict.fromkeys(out))


def compounds(stem: str, heads: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """Closed compounds ``stem + head`` and ``prefix + stem`` with their plurals."""
    words = [stem + h for h in heads] + [p + stem for p in prefixes if p != stem]
    return [w for word in words for w in (word, _plural(word))]


def spelling_variants(word: str, *, drop_vowels: bool = True) -> Iterator[str]:
    """One-edit spelling variants of ``word`` (masking, doubling, sound-alike spellings)."""
    if len(word) < 3:
        return
    for i, ch in enumerate(word):
        if ch in _VOWELS and i > 0:
            yield word[:i] + "*" + word[i + 1 :]
        if ch.isalpha() and (i == 0 or word[i - 1] != ch) and word[i + 1 : i + 2] != ch:
            yield word[: i + 1] + ch + word[i + 1 :]
    for pattern, repl in _SPELLING:
        new = re.sub(pattern, repl, word, count=1)
        if new != word:
            yield new
    dropped = word[0] + "".join(c for c in word[1:] if c not in _VOWELS)
    if drop_vowels and len(dropped) >= 4 and dropped != word:
        yield dropped


def parse_lexicon(text: str, source: str) -> list[LexiconRow]:
    """Parse a lexicon TSV (term, category, severity, forms); ``#`` lines are comments."""
    rows = []
    for n, parts in tsv_rows(text, source, 4, "4 tab-separated fields"):
        term, category, sev, forms = (p.strip() for p in parts)
        try:
            severity = Severity(sev)
        except ValueError:
            raise DataError(
                f"{source}:{n}: severity must be one of info, low, medium, high, critical; got {sev!r}"
            ) from None
        form_set = frozenset(f.strip() for f in forms.split(",") if f.strip())
        if not form_set <= FORMS:
            raise DataError(f"{source}:{n}: forms must be among n,v,a,c,s,p; got {forms!r}")
        rows.append(LexiconRow(term.lower(), category, severity, form_set))
    return rows


def _compound_parts() -> tuple[list[str], list[str]]:
    heads: list[str] = []
    prefixes: list[str] = []
    for _, (kind, part) in tsv_rows(
        data_text("compounds.txt"), "compounds.txt", 2, "kind and part"
    ):
        (heads if kind == "head" else prefixes).append(part.strip())
    return list(dict.fromkeys(heads)), list(dict.fromkeys(prefixes))


def expand(
    rows: Iterable[LexiconRow], heads: list[str], prefixes: list[str]
) -> Iterator[tuple[str, LexiconRow]]:
    """Yield ``(entry, base row)`` for every generated form and spelling variant."""
    for row in rows:
        own = inflections(row.term, row.forms)
        joined = compounds(row.term, heads, prefixes) if "c" in row.forms else []
        for form in own + joined:
            form = _RUN3.sub(r"\1\1", form)
            yield form, row
            if " " not in form:
                for variant in spelling_variants(form, drop_vowels=form in own):
                    yield variant, row


@lru_cache(maxsize=1)
def default_rows() -> tuple[LexiconRow, ...]:
    """The hand-written base rows of the default lexicon."""
    return tuple(parse_lexicon(data_text("lexicon.txt"), "trainguard/guard/data/lexicon.txt"))


def default_entries() -> list[tuple[str, LexiconRow]]:
    """The expanded default lexicon: ``(entry, base row)`` pairs, first occurrence wins."""
    heads, prefixes = _compound_parts()
    seen: dict[str, LexiconRow] = {}
    for entry, row in expand(default_rows(), heads, prefixes):
        seen.setdefault(entry, row)
    return list(seen.items())


def default_allow_list() -> list[str]:
    """Innocent words and phrases that contain a listed term (``data/allow.txt``)."""
    return content_lines(data_text("allow.txt"))
