"""PII and secret detection with validators, and redaction with stable typed placeholders.

Each type is a pattern *and* a validator, so a 16-digit number that fails the Luhn
check is not a card and an IBAN needs its ISO 7064 mod-97 remainder to be 1:

============== ==============================================================
type           validator
============== ==============================================================
EMAIL          RFC 5322 dot-atom local part, a domain with a 2+ letter TLD
PHONE          E.164 length (7-15 digits with ``+``, 10-15 otherwise), not a card
CARD           Luhn (ISO/IEC 7812-1 annex B) and a known issuer prefix
IBAN           ISO 13616 country length and ISO 7064 mod 97-10 == 1
US_SSN         SSA rules: area not 000/666/9xx, group not 00, serial not 0000
UK_NINO        HMRC prefix rules (no D F I Q U V, no BG GB KN NK NT TN ZZ)
IN_AADHAAR     Verhoeff check digit, first digit 2-9
ES_DNI         control letter = "TRWAGMYFPDXBNJZSQVHLCKE"[number mod 23]
IP_ADDRESS     parsed by :mod:`ipaddress` (v4 and v6)
URL_CREDENTIALS ``scheme://user:password@host``
PRIVATE_KEY    a PEM ``-----BEGIN ... PRIVATE KEY-----`` block
AWS_KEY, GITHUB_TOKEN, SLACK_TOKEN, GOOGLE_API_KEY, STRIPE_KEY, JWT  vendor formats
SECRET         the value of a ``password=`` / ``api_key:`` style assignment
HIGH_ENTROPY   a 20+ character token with mixed classes and Shannon entropy >= 4 bits/char
============== ==============================================================

References: ISO/IEC 7812-1 (Luhn); ISO 13616-1 and ISO 7064 (IBAN); J. Verhoeff,
*Error Detecting Decimal Codes*, 1969; RFC 5322 (e-mail); C. E. Shannon, "A
Mathematical Theory of Communication", 1948 (entropy of secrets, as in truffleHog).
"""

from __future__ import annotations

import ipaddress
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from trainguard.core.errors import ConfigError

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
"""ISO 13616 IBAN length per country (SWIFT IBAN registry)."""


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check of ISO/IEC 7812-1."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True when ``iban`` (spaces allowed) has its country's length and mod-97 remainder 1."""
    s = iban.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit() or not s.isalnum():
        return False
    if IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def verhoeff_valid(digits: str) -> bool:
    """True when the digit string (check digit last) passes the Verhoeff dihedral check."""
    if not digits.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def shannon_entropy(s: str) -> float:
    """Shannon entropy of the character distribution of ``s``, in bits per character."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _card(m: str) -> bool:
    d = _digits(m)
    if not 13 <= len(d) <= 19 or not luhn_valid(d):
        return False
    return bool(re.match(r"4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2)|35|1|50|5[6-9]", d))


def _phone(m: str) -> bool:
    d = _digits(m)
    if m.lstrip().startswith("+"):
        return 7 <= len(d) <= 15
    return 10 <= len(d) <= 11


def _ssn(m: str) -> bool:
    area, group, serial = m[:3], m[4:6], m[7:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _nino(m: str) -> bool:
    s = m.replace(" ", "").upper()
    bad_prefix = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    return s[0] not in "DFIQUV" and s[1] not in "DFIOQUV" and s[:2] not in bad_prefix


def _dni(m: str) -> bool:
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(m[:8]) % 23] == m[8].upper()


def _ip(m: str) -> bool:
    try:
        ipaddress.ip_address(m)
    except ValueError:
        return False
    return True


def _high_entropy(m: str) -> bool:
    classes = sum(
        (any(c.islower() for c in m), any(c.isupper() for c in m), any(c.isdigit() for c in m))
    )
    return classes == 3 and shannon_entropy(m) >= 4.0


def _always(m: str) -> bool:
    return True


def _table(classes: dict[str, str]) -> bytes:
    """A ``bytes.translate`` table: each character of a class -> the class's letter, others ``.``."""
    out = bytearray(b"." * 256)
    for letter, members in classes.items():
        for c in members:
            out[ord(c)] = ord(letter)
    return bytes(out)


_DIGITS = "0123456789"
_SHAPE = _table({"d": _DIGITS, "U": string.ascii_uppercase, "-": "-", " ": " ", ".": "."})
_HEX_SHAPE = _table({"h": string.hexdigits, ":": ":"})
_TOKEN_SHAPE = _table({"x": string.ascii_letters + _DIGITS + "+/=_-"})
_LOCAL_SHAPE = _table({"l": string.ascii_letters + _DIGITS + "!#$%&'*+/=?^_`{|}~-", "@": "@"})


class _Shapes:
    r"""The text as one byte per code point (non-ASCII as ``?``) through class tables.

    Rules test a shape their expression needs (three digits, a dash, ...) with one
    substring search before scanning the text with the expression, and skip the
    scan when it is absent. Where ``\d`` could match a non-ASCII digit, the test
    holds for every non-ASCII text.
    """

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self._bytes = text.encode("ascii", "replace")

    @cached_property
    def shape(self) -> bytes:
        """Digits ``d``, upper-case letters ``U``; ``-``, space and ``.`` kept."""
        return self._bytes.translate(_SHAPE)

    @cached_property
    def hex(self) -> bytes:
        """Hex digits ``h``, ``:`` kept."""
        return self._bytes.translate(_HEX_SHAPE)

    def has(self, table: bytes, *needles: bytes) -> bool:
        """Any of ``needles`` in the text through ``table`` (for tables used once)."""
        mapped = self._bytes.translate(table)
        return any(n in mapped for n in needles)


def _ip_shape(s: _Shapes) -> bool:
    return not s.ascii or b"d.d" in s.shape or b"h:h" in s.hex


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    hint: tuple[str, ...]
    """Substrings of the lower-cased text, one of which must occur (empty: always run)."""
    group: int = 0
    shape: Callable[[_Shapes], bool] | None = None
    """A test the text passes whenever ``pattern`` matches in it (``None``: none)."""


def _rule(
    kind: str,
    pattern: str,
    valid: Callable[[str], bool] = _always,
    hint: tuple[str, ...] = (),
    group: int = 0,
    flags: int = 0,
    shape: Callable[[_Shapes], bool] | None = None,
) -> _Rule:
    return _Rule(kind, re.compile(pattern, flags), valid, hint, group, shape)


_has_digit = tuple("0123456789")
_LONG_NUMBER = ("#long-number",)
"""Hint of the rules for long numbers: seven digits apart by at most two separators each."""
_LONG_NUMBER_RE = re.compile(r"\d(?:[ ().-]{0,2}\d){6}")


# Order is priority: an earlier rule's span wins an overlap.
RULES: tuple[_Rule, ...] = (
    _rule(
        "PRIVATE_KEY",
        r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY-----",
        hint=("-----begin",),
    ),
    _rule("URL_CREDENTIALS", r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@[^\s/]+", hint=("://",)),
    _rule("JWT", r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}", hint=("eyj",)),
    _rule("AWS_KEY", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z2-7]{16}\b", hint=("akia", "asia", "agpa", "aida", "aroa")),
    _rule("GITHUB_TOKEN", r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{82})\b", hint=("gh", "github_pat_")),
    _rule("SLACK_TOKEN", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", hint=("xox",)),
    _rule("GOOGLE_API_KEY", r"\bAIza[\w-]{35}\b", hint=("aiza",)),
    _rule("STRIPE_KEY", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b", hint=("k_live_", "k_test_")),
    _rule(
        "SECRET",
        r"\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token"
        r"|client[_-]?secret|private[_-]?key)\b[\"']?\s*[:=]\s*[\"']?([^\s\"',;]{6,})",
        hint=("pass", "pwd", "secret", "key", "token"),
        flags=re.IGNORECASE,
        group=1,
    ),
    _rule(
        "EMAIL",
        r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
        r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}\b",
        hint=("@",),
        shape=lambda s: s.has(_LOCAL_SHAPE, b"l@l"),
    ),
    _rule(
        "IBAN",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
        iban_valid,
        _has_digit,
        shape=lambda s: not s.ascii or b"UUdd" in s.shape,
    ),
    _rule("CARD", r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])", _card, _LONG_NUMBER),
    _rule("US_SSN", r"\b\d{3}-\d{2}-\d{4}\b", _ssn, _has_digit, shape=lambda s: not s.ascii or b"ddd-dd-dddd" in s.shape),
    _rule(
        "UK_NINO", r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", _nino, _has_digit, flags=re.I,
        shape=lambda s: not s.ascii or any(f in s.shape for f in (b"dddddd", b"dd dddd", b"dddd dd", b"dd dd dd")),
    ),
    _rule("IN_AADHAAR", r"\b[2-9]\d{3} ?\d{4} ?\d{4}\b", lambda m: verhoeff_valid(_digits(m)), _LONG_NUMBER),
    _rule("ES_DNI", r"\b\d{8}-?[A-Za-z]\b", lambda m: _dni(m.replace("-", "")), _has_digit, shape=lambda s: not s.ascii or b"d" * 8 in s.shape),
    _rule(
        "PHONE",
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)",
        _phone,
        _LONG_NUMBER,
    ),
    _rule(
        "IP_ADDRESS",
        r"\b(?:\d{1,3}\.){3}\d{1,3}\b|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F:]*[0-9a-fA-F]{1,4}(?![\w:])",
        _ip,
        (".", ":"),
        shape=_ip_shape,
    ),
    _rule("HIGH_ENTROPY", r"(?<![\w+/=-])[A-Za-z0-9+/=_-]{20,}(?![\w+/=-])", _high_entropy, shape=lambda s: s.has(_TOKEN_SHAPE, b"x" * 20)),
)  # fmt: skip

PII_TYPES: tuple[str, ...] = tuple(r.kind for r in RULES)
"""Every type :func:`find_pii` knows, in priority order."""


@dataclass(frozen=True)
class PiiMatch:
    """A validated PII or secret span of the text."""

    start: int
    end: int
    kind: str
    text: str


def find_pii(text: str, *, types: Iterable[str] | None = None) -> list[PiiMatch]:
    """Validated PII and secrets in ``text``, non-overlapping, in order of position.

    Parameters
    ----------
    text
        The text to scan (the original, not a normalised form: formats matter).
    types
        Types to look for (default: all of :data:`PII_TYPES`).
    """
    wanted = set(PII_TYPES if types is None else types)
    unknown = wanted - set(PII_TYPES)
    if unknown:
        raise ConfigError(
            f"unknown PII type(s) {sorted(unknown)}; expected some of {', '.join(PII_TYPES)}"
        )
    shapes = _Shapes(text)
    has_digit = b"d" in shapes.shape  # an ASCII digit
    hinted = {_has_digit: has_digit, _LONG_NUMBER: has_digit and bool(_LONG_NUMBER_RE.search(text))}
    lower = text.lower()
    taken: list[tuple[int, int]] = []
    found: list[PiiMatch] = []
    for rule in RULES:
        if rule.kind not in wanted:
            continue
        if rule.hint:
            if rule.hint not in hinted:
                hinted[rule.hint] = any(h in lower for h in rule.hint)
            if not hinted[rule.hint]:
                continue
        if rule.shape is not None and not rule.shape(shapes):
            continue
        for m in rule.pattern.finditer(text):
            s, e = m.span(rule.group)
            if any(s < b and a < e for a, b in taken) or not rule.valid(m.group(rule.group)):
                continue
            taken.append((s, e))
            found.append(PiiMatch(s, e, rule.kind, text[s:e]))
    return sorted(found, key=lambda p: p.start)


def placeholders(matches: Iterable[PiiMatch]) -> dict[tuple[str, str], str]:
    """Stable typed placeholders: the same value of a type always gets the same ``[TYPE_n]``."""
    out: dict[tuple[str, str], str] = {}
    count: Counter[str] = Counter()
    for m in matches:
        key = (m.kind, m.text)
        if key not in out:
            count[m.kind] += 1
            out[key] = f"[{m.kind}_{count[m.kind]}]"
    return out
