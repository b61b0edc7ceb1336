"""`/fixpass` and `passbot diagnose` accept exactly one email address, in the forms people
paste; everything else is a one-line usage error (and nothing is read or written)."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from core.usecases.diagnose import parse_email

GOOD = [
    ("kari@example.com", "kari@example.com"),
    ("  Kari.Nordmann@Example.COM  ", "Kari.Nordmann@Example.COM"),
    ("<mailto:kari@example.com|kari@example.com>", "kari@example.com"),
    ("<mailto:KARI@example.com|KARI@example.com>", "KARI@example.com"),
    ("a+tag@sub.example.no", "a+tag@sub.example.no"),
    ("kari@example.com\n", "kari@example.com"),
    ("\tkari@example.com\t", "kari@example.com"),
    ("ø.æ.å@eksempel.no", "ø.æ.å@eksempel.no"),
    ("mailto:kari@example.com", "kari@example.com"),
    ("MAILTO:kari@example.com", "kari@example.com"),
    ("<mailto:kari@example.com>", "kari@example.com"),
    ("用户@例子.广告", "用户@例子.广告"),
]

BAD = [
    "",
    "   ",
    "kari",
    "kari@",
    "@example.com",
    "kari@example",
    "kari@@example.com",
    "kari@example.com ola@example.com",
    "kari@example.com,ola@example.com",
    "kari@example.com;ola@example.com",
    "<mailto:kari@example.com|kari@example.com> <mailto:ola@example.com|ola@example.com>",
    '"kari"@example.com',
    "kari@exa mple.com",
    "kari@example.com'",
    'kari@example.com") || true || ("',
    "kari@example.com] | order(_id)",
    '{"email": "kari@example.com"}',
    "[kari@example.com]",
    "kari@example.com\\",
    "kari@example.com\x00",
    "x" * 10_000,
    "x" * 10_000 + "@example.com",
    "<mailto:>",
    "<mailto:|>",
    "mailto:kari",
    "kari@.",
    "kari@..",
    "(kari)@example.com",
    "kari@example.com<script>",
    "*[_type == 'user']",
    "$email",
    "kari@example.com\u200b ola@example.com",
    "`kari@example.com`",
    "https://example.com/?kari@example.com",
    "kari@example.com|kari@example.com",
    "kari@exa$mple.com",
    "kari@example.com/",
    "mailto:",
    "mailto:kari@example.com mailto:ola@example.com",
]


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_accepts_one_address_in_the_forms_people_paste(text, expected):
    assert parse_email(text) == expected


@pytest.mark.parametrize("text", BAD, ids=[repr(t)[:30] for t in BAD])
def test_rejects_anything_that_is_not_one_address(text):
    with pytest.raises(UsageError) as info:
        parse_email(text)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 200
