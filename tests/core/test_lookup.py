"""The pure rules of the lookup: what a text is, names compared without case or diacritics,
users grouped into customers; the links each system's ids get; the day-by-day series; the
/passaudit filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain.audit_filter import PAGE, AuditFilter, page_of, parse_audit_filter, select
from core.domain.daily import daily_series
from core.domain.links import Links
from core.domain.lookup import QueryKind, classify, fold, group_matches, name_matches
from core.domain.metrics import PurchaseRow
from core.domain.models import CheckoutSession, SanityUser
from core.errors import UsageError
from core.ports import AuditEntry


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("kari@example.com", QueryKind.EMAIL),
        ("<mailto:kari@example.com|kari@example.com>", QueryKind.EMAIL),
        ("o'brien+pass@example.com", QueryKind.EMAIL),
        ("cs_test_a1Voohky5rDkcgN4VIdBaUujyhfup9kYDX7rmg4Msb", QueryKind.SESSION),
        ("cs_live_a1B2", QueryKind.SESSION),
        ("pi_3PqR", QueryKind.PAYMENT),
        ("ch_3PqR", QueryKind.PAYMENT),
        ("py_3PqR", QueryKind.PAYMENT),
        ("user_2kariNordmann0001", QueryKind.CLERK_USER),
        ("subscription-cs_test_abc", QueryKind.SANITY_ID),
        ("JzzzzgEOzdmenCkhvMdgaK", QueryKind.SANITY_ID),  # generated, no digit
        ("5d3f0c1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f", QueryKind.SANITY_ID),
        ("Kari Nordmann", QueryKind.NAME),
        ("kari", QueryKind.NAME),
        ("Anne-Marie O'Neil", QueryKind.NAME),
        ("Kåre Ødegård", QueryKind.NAME),
    ],
)
def test_classify_tells_what_support_typed(text: str, kind: QueryKind) -> None:
    query = classify(text)
    assert query is not None
    assert query.kind is kind


@pytest.mark.parametrize("text", ["", "   ", "x", "hello$$", "cs_ test", "💃💃", "a" * 300])
def test_classify_refuses_what_names_nothing(text: str) -> None:
    assert classify(text) is None


def test_names_compare_without_case_or_diacritics() -> None:
    assert fold("  KÅRE   Ødegård-Hansen ") == "kare odegard hansen"
    assert name_matches("kari nordmann", "Kari Nordmann")
    assert name_matches("KARI", "Kari Nordmann")
    assert name_matches("nordmann kari", "Kari Nordmann")
    assert name_matches("Kåri Nördmann", "Kari Nordmann")
    assert name_matches("ola", "Óla Hánsen")
    assert not name_matches("kar", "Kari Nordmann")  # whole words only
    assert not name_matches("kari hansen", "Kari Nordmann")
    assert not name_matches("", "Kari Nordmann")


def _user(uid: str, name: str, email: str | None, clerk: str | None = None) -> SanityUser:
    return SanityUser.from_json({"_id": uid, "name": name, "email": email, "clerkId": clerk,
                                 "tenant": {"_ref": "tenant-a"}})  # fmt: skip


def test_users_group_into_customers_by_email() -> None:
    users = [
        _user("u1", "Ola Hansen", "Ola@Example.com", "user_1"),
        _user("u2", "Ola Hansen", "ola@example.com", "user_1"),  # the same person, twice
        _user("u3", "Óla Hánsen", "other@example.com"),
        _user("u4", "Ola Nobody", None),  # no email: cannot be diagnosed
    ]
    matches = group_matches(users)
    assert [(m.email, m.users) for m in matches] == [
        ("Ola@Example.com", ("u1", "u2")), ("other@example.com", ("u3",))
    ]  # fmt: skip
    assert group_matches([_user("u4", "Ola", None)], email="typed@x.no")[0].email == "typed@x.no"


def _session(account: str | None, livemode: bool, pi: str | None) -> CheckoutSession:
    return CheckoutSession.from_json(
        {"id": "cs_1", "created": 1795680000, "livemode": livemode, "payment_intent": pi},
        account=account,
    )


def test_links_point_at_each_systems_page() -> None:
    links = Links(studio_url="https://s.sanity.studio/", clerk_dashboard_url="https://c/ins_1/")
    assert links.stripe_payment(_session("acct_1", False, "pi_1")) == (
        "https://dashboard.stripe.com/acct_1/test/payments/pi_1"
    )
    assert links.stripe_payment(_session("acct_1", True, "pi_1")) == (
        "https://dashboard.stripe.com/acct_1/payments/pi_1"
    )
    assert links.stripe_payment(_session(None, True, None)) == (
        "https://dashboard.stripe.com/search?query=cs_1"
    )
    assert (
        links.subscription("sub-1")
        == "https://s.sanity.studio/intent/edit/id=sub-1;type=subscription/"
    )
    assert links.clerk_user("user_2x") == "https://c/ins_1/users/user_2x"
    assert links.clerk_user("manual_123") is None  # a placeholder is no Clerk user
    assert Links().subscription("sub-1") is None
    assert Links().clerk_user("user_2x") is None


def test_the_daily_series_counts_each_day_in_the_zone() -> None:
    now = datetime(2026, 11, 28, 8, tzinfo=UTC)
    oslo = ZoneInfo("Europe/Oslo")
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # 00:30 on the 28th in Oslo
    rows = [
        PurchaseRow("a", "t", late, True, webhook_at=late + timedelta(minutes=1)),
        PurchaseRow("b", "t", late, True, by_passbot=True),
        PurchaseRow("c", "t", late, False, open=True),
        PurchaseRow("d", "t", now - timedelta(days=40), False, open=True),  # outside
    ]
    days = daily_series(rows, now=now, tz=oslo, days=35)
    assert len(days) == 35
    assert days[-1].day.isoformat() == "2026-11-28"
    last = days[-1]
    assert (last.paid, last.on_time, last.fixed_by_passbot, last.still_open) == (3, 1, 1, 1)
    assert last.rate == pytest.approx(0.3333)
    assert days[0].rate is None
    assert sum(d.paid for d in days) == 3
    dismissed = daily_series(rows, now=now, tz=oslo, open_sessions=set())
    assert dismissed[-1].still_open == 0


def _entry(n: int, actor: str, doc: str, at: datetime) -> AuditEntry:
    return AuditEntry(at=at, actor=actor, action="create_subscription", session=f"cs_{n}",
                      documents=(doc,), transaction_id=None, changes={}, id=n)  # fmt: skip


def test_the_audit_filter_reads_and_selects() -> None:
    assert parse_audit_filter("") == AuditFilter()
    assert parse_audit_filter("<@U0ADA|ada>").actor == "U0ADA"
    assert parse_audit_filter("7 days").days == 7
    assert parse_audit_filter("30").days == 30
    assert parse_audit_filter("kari@example.com").email == "kari@example.com"
    for bad in ("last week", "0 days", "@ada", "9999 days"):
        with pytest.raises(UsageError, match=r"usage: /passaudit \[email \| @user \| N days\]"):
            parse_audit_filter(bad)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    entries = [_entry(n, "U0ADA" if n % 2 else "U0BO", f"doc-{n}", now - timedelta(days=n))
               for n in range(45)]  # fmt: skip
    assert len(select(entries, AuditFilter(actor="U0BO"), now=now)) == 23
    assert [e.id for e in select(entries, AuditFilter(days=2), now=now)] == [0, 1, 2]
    mine = select(entries, AuditFilter(email="x@y.no"), now=now, documents={"doc-4", "doc-9"})
    assert [e.id for e in mine] == [4, 9]
    chosen = select(entries, AuditFilter(), now=now)
    first = page_of(chosen, AuditFilter(), 0)
    assert (len(first.entries), first.next_offset, first.total) == (PAGE, 20, 45)
    last = page_of(chosen, AuditFilter(), 40)
    assert (len(last.entries), last.next_offset) == (5, None)
