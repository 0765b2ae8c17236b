from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.errors import ConfigError
from trainguard.guard.pii import (
    RULES,
    _Shapes,
    find_pii,
    iban_valid,
    luhn_valid,
    placeholders,
    shannon_entropy,
    verhoeff_valid,
)


def test_validators_on_published_examples() -> None:
    assert luhn_valid("79927398713")  # ISO/IEC 7812 worked example
    assert not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32")  # ISO 13616 example
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert not iban_valid("DE8937040044053201300")  # wrong length for DE
    assert verhoeff_valid("2363")  # Verhoeff's example: 236 + check digit 3
    assert not verhoeff_valid("2364")
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("mail john.doe+x@example.co.uk now", "EMAIL", "john.doe+x@example.co.uk"),
        ("call +44 20 7946 0958 today", "PHONE", "+44 20 7946 0958"),
        ("call (555) 123-4567", "PHONE", "(555) 123-4567"),
        ("card 4111-1111-1111-1111 ok", "CARD", "4111-1111-1111-1111"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN", "DE89 3704 0044 0532 0130 00"),
        ("ssn 123-45-6789", "US_SSN", "123-45-6789"),
        ("NI AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
        ("dni 12345678Z", "ES_DNI", "12345678Z"),
        ("from 10.0.0.255 to", "IP_ADDRESS", "10.0.0.255"),
        ("host 2001:db8::8a2e:370:7334 up", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        ("key AKIAIOSFODNN7EXAMPLE", "AWS_KEY", "AKIAIOSFODNN7EXAMPLE"),
        ("t ghp_" + "a1B2" * 9, "GITHUB_TOKEN", "ghp_" + "a1B2" * 9),
        (
            "db postgres://admin:s3cr3t@db.local:5432/x",
            "URL_CREDENTIALS",
            "postgres://admin:s3cr3t@db.local:5432",
        ),
        ("password = 'Tr0ub4dor&3'", "SECRET", "Tr0ub4dor&3"),
        ("blob aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW", "HIGH_ENTROPY", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW"),
    ],
)
def test_each_type_is_found_with_its_span(text: str, kind: str, value: str) -> None:
    found = find_pii(text)
    assert [(m.kind, m.text) for m in found] == [(kind, value)]
    assert text[found[0].start : found[0].end] == value


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped",  # 16 digits that fail Luhn
        "IBAN GB82 WEST 1234 5698 7654 33",  # mod-97 fails
        "ssn 000-12-3456 is invalid",  # area 000 never issued
        "version 1.2.3.4567 and 999.1.1.1",  # not IP addresses
        "the year 2024 had 365 days and 12 months",
        "commit 3f2a9c1e0b7d4e6f8a9b0c1d2e3f4a5b6c7d8e9f",  # hex hash: one class only
    ],
)
def test_invalid_lookalikes_are_not_flagged(text: str) -> None:
    assert find_pii(text) == []


def test_private_key_block() -> None:
    text = (
        "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\ny"
    )
    assert [m.kind for m in find_pii(text)] == ["PRIVATE_KEY"]


def test_placeholders_are_stable_and_typed() -> None:
    text = "a@x.io, b@x.io, a@x.io and 4111 1111 1111 1111"
    names = placeholders(find_pii(text))
    assert names[("EMAIL", "a@x.io")] == "[EMAIL_1]"
    assert names[("EMAIL", "b@x.io")] == "[EMAIL_2]"
    assert names[("CARD", "4111 1111 1111 1111")] == "[CARD_1]"


def test_types_filter_and_unknown_type() -> None:
    assert find_pii("a@x.io 10.0.0.1", types=["IP_ADDRESS"])[0].kind == "IP_ADDRESS"
    with pytest.raises(ConfigError, match="unknown PII type"):
        find_pii("x", types=["PASSPORT"])


_PIECES = [
    "4111 1111 1111 1111", "078-05-1120", "AB 12 34 56 C", "12345678Z", "GB82 WEST 1234 5698 7654 32",
    "192.168.0.1", "2001:db8::1", "fe80::1:2:3:4", "ann@example.org", "@user", "Zx9Qw8Er7Ty6Ui5Op4As3Df2",
    "12:30", "3.14", "\u0663\u0664\u0665.\u0661.\u0662.\u0663", "\u00e9", "-", " ", ".", ":", "x", "Q",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12), st.data())
def test_shape_prechecks_hold_whenever_the_expression_matches(
    pieces: list[str], data: st.DataObject
) -> None:
    # Cut the joined pieces at random places: partial numbers, keys and addresses too.
    text = "".join(pieces)
    cut = data.draw(st.integers(0, len(text)))
    for t in (text, text[cut:], text[:cut]):
        shapes = _Shapes(t)
        for rule in RULES:
            if rule.shape is not None and rule.pattern.search(t):
                assert rule.shape(shapes), (rule.kind, t)
