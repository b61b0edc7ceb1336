"""Who the customer is (domain.md §1.9, §7.3; FM-19 to FM-25)."""

from __future__ import annotations

import pytest

from core.domain.facts import Facts, Index
from core.domain.identity import (
    find_customer,
    looks_like_clerk_id,
    normalise_email,
    reference_set,
    users_for_clerk_id,
)
from core.domain.models import ClerkUser, SanityUser
from tests.factories import CLERK_ID, DROP, EMAIL, USER_ID, make_clerk_user, make_user


def _users(*docs: dict[str, object]) -> list[SanityUser]:
    return [SanityUser.from_json(d) for d in docs]


def test_fm19_user_resolved_by_clerk_id_not_id() -> None:
    """The webhook once looked up `_id == userId`, which fails for every normal user."""
    users = _users(make_user())
    assert [u.id for u in users_for_clerk_id(CLERK_ID, users)] == [USER_ID]
    assert users[0].id != users[0].clerk_id


def test_fm19_legacy_user_whose_id_is_the_clerk_id_is_found_too() -> None:
    users = _users(make_user(_id=CLERK_ID, clerkId=DROP))
    assert [u.id for u in users_for_clerk_id(CLERK_ID, users)] == [CLERK_ID]


def test_clerk_id_match_is_preferred_over_a_legacy_id_match_oldest_first() -> None:
    users = _users(
        make_user(_id=CLERK_ID, clerkId=DROP),
        make_user(_id="usrNewer", _createdAt="2026-06-01T00:00:00Z"),
        make_user(_id="usrOlder", _createdAt="2026-01-01T00:00:00Z"),
    )
    assert [u.id for u in users_for_clerk_id(CLERK_ID, users)] == [
        "usrOlder",
        "usrNewer",
        CLERK_ID,
    ]


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([], {CLERK_ID}, id="no-user-still-the-clerk-id"),
        pytest.param([make_user()], {CLERK_ID, USER_ID}, id="modern"),
        pytest.param(
            [make_user(_id=CLERK_ID, clerkId=DROP)], {CLERK_ID}, id="fm20-legacy-id-is-clerk-id"
        ),
        pytest.param(
            [make_user(), make_user(_id="usrDuplicate")],
            {CLERK_ID, USER_ID, "usrDuplicate"},
            id="fm23-duplicate-users-same-clerk-id",
        ),
        pytest.param(
            [make_user(), make_user(_id="usrOther", clerkId="user_2someoneElse000001")],
            {CLERK_ID, USER_ID},
            id="other-people-excluded",
        ),
        pytest.param(
            [make_user(_id="usrSameEmail", clerkId="user_2secondAccount00001")],
            {CLERK_ID},
            id="fm24-same-email-is-not-identity",
        ),
    ],
)
def test_reference_set(docs: list[dict[str, object]], expected: set[str]) -> None:
    assert reference_set(CLERK_ID, _users(*docs)) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Kari.Nordmann@Example.com", "kari.nordmann@example.com"),
        ("  kari.nordmann@example.com ", "kari.nordmann@example.com"),
    ],
)
def test_fm24_emails_compare_trimmed_and_case_insensitively(a: str, b: str) -> None:
    assert normalise_email(a) == normalise_email(b)


def test_fm22_fm23_find_customer_lists_every_user_and_clerk_account_for_an_email() -> None:
    second = "user_2kariSecondLogin0002"
    users = _users(
        make_user(),
        make_user(_id="usrStub", clerkId=second, email="KARI.NORDMANN@example.com"),
        make_user(_id="usrOther", clerkId="user_2other000000000001", email="x@example.com"),
    )
    clerk = [
        ClerkUser.from_json(make_clerk_user()),
        ClerkUser.from_json(make_clerk_user(clerk_id=second, email="Kari.Nordmann@Example.com")),
        ClerkUser.from_json(make_clerk_user(clerk_id="user_2noSanity000000003", email=EMAIL)),
    ]
    customer = find_customer(" Kari.Nordmann@example.COM ", users, clerk)
    assert {u.id for u in customer.users} == {USER_ID, "usrStub"}
    assert customer.clerk_ids == {CLERK_ID, second, "user_2noSanity000000003"}
    assert customer.reference_set(users) == {
        USER_ID,
        "usrStub",
        CLERK_ID,
        second,
        "user_2noSanity000000003",
    }


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (CLERK_ID, True),
        ("manual_1760300000", False),  # FM-25: never matches a login
        ("usrKari0001", False),
        ("", False),
        (None, False),
    ],
)
def test_fm25_placeholder_clerk_ids_do_not_look_like_clerk_ids(value: str | None, ok: bool) -> None:
    assert looks_like_clerk_id(value) is ok


def test_the_index_finds_a_clerk_ids_users_as_a_scan_of_every_user_does() -> None:
    """Judging asks the page index, not every user read: same users, same order."""
    users = _users(
        make_user(_id="u-new", clerkId="user_A", _createdAt="2026-05-01T00:00:00Z"),
        make_user(_id="u-old", clerkId="user_A", _createdAt="2025-05-01T00:00:00Z"),
        make_user(_id="user_A", clerkId="user_B"),  # legacy: its _id is user_A's Clerk id
        make_user(_id="user_B", clerkId="user_B"),  # both, in one document
        make_user(_id="u-undated", clerkId="user_A", _createdAt=None),
        make_user(_id="u-other", clerkId="user_C"),
        make_user(_id="u-old", clerkId="user_A", _createdAt="2025-05-01T00:00:00Z"),  # twice
    )
    idx = Index(Facts(users=users))
    for clerk_id in ("user_A", "user_B", "user_C", "user_D", "u-old"):
        scanned = users_for_clerk_id(clerk_id, users)
        assert idx.users_for_clerk_id(clerk_id) == scanned
        assert [id(u) for u in idx.users_for_clerk_id(clerk_id)] == [id(u) for u in scanned]
    assert [u.id for u in idx.users_for_clerk_id("user_A")] == [
        "u-old",
        "u-old",
        "u-new",
        "u-undated",
        "user_A",
    ]
