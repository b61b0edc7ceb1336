"""The fulfilment rule (domain.md §2.4, §2.5): what the webhook writes for a paid purchase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from core.domain.models import CheckoutSession, Pass, Subscription, iso, parse_instant
from core.domain.rule import (
    Expected,
    Provenance,
    RuleError,
    as_written,
    chosen_start,
    end_date,
    expected_subscription,
    pass_problems,
    remaining_share,
    subscription_id,
    type_and_clips,
)
from tests.factories import (
    BOUGHT,
    DROP,
    NOW,
    make_pass,
    make_session,
    make_subscription,
    make_upgrade_session,
)

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAST = "2026-01-31T23:59:59.000Z"
FUTURE = "2027-06-30T23:59:59.000Z"
PROV = Provenance(approved_by="U0APPROVER", approved_at=NOW)


def _pass(**overrides: Any) -> Pass:
    return Pass.from_json(make_pass(**overrides))


def _session(**kw: Any) -> CheckoutSession:
    raw = make_session(**kw)
    return CheckoutSession.from_json(raw, account=raw.get("account"))


def _expected(session: CheckoutSession, pass_: Pass, **kw: Any) -> dict[str, Any]:
    return expected_subscription(
        session, pass_, user_ref="usrKari0001", tenant_id="tenant-aurora", provenance=PROV, **kw
    )


# ------------------------------------------------------------------------- endDate, in order


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"validityType": "date", "expiryDate": FUTURE, "validityDays": 30},
            datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC),
            id="1-date-with-expiryDate-wins-over-validityDays",
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": PAST, "validityDays": DROP},
            datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC),
            id="1-date-with-expiryDate-even-when-already-past",
        ),
        pytest.param(
            {"validityType": "days", "validityDays": 30, "expiryDate": FUTURE},
            BASE + timedelta(days=30),
            id="2-days-with-validityDays-ignores-expiryDate",
        ),
        pytest.param(
            {"validityType": DROP, "validityDays": 60},
            BASE + timedelta(days=60),
            id="3-legacy-pass-without-validityType-uses-validityDays",
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": DROP, "validityDays": 7},
            BASE + timedelta(days=7),
            id="3-date-without-expiryDate-falls-back-to-validityDays",
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": "", "validityDays": 7},
            BASE + timedelta(days=7),
            id="3-date-with-empty-expiryDate-is-unset-as-in-js",
        ),
        pytest.param(
            {"validityType": "days", "validityDays": "45"},
            BASE + timedelta(days=45),
            id="2-validityDays-stored-as-string-coerces-as-in-js",
        ),
        pytest.param(
            {"validityType": "days", "validityDays": 0.5},
            BASE + timedelta(hours=12),
            id="2-fractional-days",
        ),
    ],
)
def test_end_date_branches_in_order(overrides: dict[str, Any], expected: datetime) -> None:
    assert end_date(_pass(**overrides), BASE) == expected


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"validityType": "days", "validityDays": DROP, "expiryDate": FUTURE},
            id="4-days-without-validityDays-throws-even-with-expiryDate",
        ),
        pytest.param({"validityType": "days", "validityDays": None}, id="4-validityDays-null"),
        pytest.param({"validityType": "days", "validityDays": 0}, id="4-validityDays-0-is-falsy"),
        pytest.param(
            {"validityType": "date", "expiryDate": DROP, "validityDays": DROP},
            id="4-date-without-expiryDate-or-days",
        ),
        pytest.param({"validityType": DROP, "validityDays": DROP}, id="4-nothing-at-all"),
        pytest.param(
            {"validityType": "date", "expiryDate": "31/12/2026", "validityDays": DROP},
            id="unparseable-expiryDate",
        ),
        pytest.param(
            {"validityType": "days", "validityDays": 1e12}, id="validityDays-beyond-any-calendar"
        ),
    ],
)
def test_end_date_without_valid_configuration_raises_the_webhook_error(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(RuleError):
        end_date(_pass(**overrides), BASE)


def test_end_date_error_quotes_the_webhook_message() -> None:
    with pytest.raises(RuleError, match="Pass has no valid expiry configuration"):
        end_date(_pass(validityType="days", validityDays=None), BASE)


# ------------------------------------------------------------------------- type and clips


@pytest.mark.parametrize(
    ("pass_type", "limit", "expected"),
    [
        pytest.param("single", None, ("single", 1), id="single-gets-one-clip"),
        pytest.param("single", 5, ("single", 1), id="single-ignores-classesLimit"),
        pytest.param("multi-pass", 4, ("multi-pass", 4), id="multi-pass-keeps-name"),
        pytest.param("multi", 10, ("clipcard", 10), id="multi-is-a-clipcard"),
        pytest.param("multi", None, ("clipcard", None), id="multi-without-limit-gets-null"),
        pytest.param("unlimited", 10, ("monthly", None), id="unlimited-is-monthly-no-clips"),
    ],
)
def test_type_mapping(pass_type: str, limit: int | None, expected: tuple[str, int | None]) -> None:
    assert type_and_clips(_pass(type=pass_type, classesLimit=limit)) == expected


@pytest.mark.parametrize("pass_type", ["subscription", "course", "clipcard", "", None, 3])
def test_type_outside_the_four_mapped_throws(pass_type: object) -> None:
    with pytest.raises(RuleError, match="Invalid pass type"):
        type_and_clips(_pass(type=pass_type))


# ------------------------------------------------------------------------- the document


def test_document_is_what_the_webhook_writes_plus_passbot_markers() -> None:
    session = _session()
    doc = _expected(session, _pass())
    assert doc == {
        "_id": "subscription-cs_test_Purchase0001",
        "_type": "subscription",
        "user": {"_type": "reference", "_ref": "usrKari0001"},
        "tenant": {"_type": "reference", "_ref": "tenant-aurora"},
        "type": "clipcard",
        "startDate": iso(BOUGHT),
        "endDate": iso(BOUGHT + timedelta(days=90)),
        "passId": "pass-clip10",
        "passName": "10 Clip Card",
        "remainingClips": 10,
        "purchasePrice": 2000,
        "originalPrice": 2000,
        "finalPrice": 2000,
        "discountAmount": 0,
        "promoCode": None,
        "stripePaymentId": "pi_test_Purchase0001",
        "stripeSessionId": "cs_test_Purchase0001",
        "isActive": True,
        "createdVia": "passbot",
        "approvedBy": "U0APPROVER",
        "approvedAt": iso(NOW),
    }


def test_id_is_deterministic_per_session() -> None:
    assert subscription_id("cs_live_a1B2c3D4e5") == "subscription-cs_live_a1B2c3D4e5"
    assert _expected(_session(n=7), _pass())["_id"] == "subscription-cs_test_Purchase0007"


def test_validity_counts_from_the_purchase_not_the_processing_time() -> None:
    """FM-50: passbot writes late, but the pass ends when the webhook's would have."""
    session = _session(created=NOW - timedelta(days=20))
    doc = _expected(session, _pass(validityDays=30))
    assert doc["startDate"] == iso(NOW - timedelta(days=20))
    assert doc["endDate"] == iso(NOW + timedelta(days=10))


def test_unlimited_drops_remaining_clips() -> None:
    doc = _expected(_session(), _pass(type="unlimited", classesLimit=None))
    assert doc["type"] == "monthly"
    assert "remainingClips" not in doc


def test_single_gets_one_clip() -> None:
    doc = _expected(_session(), _pass(type="single", classesLimit=None, price=250))
    assert (doc["type"], doc["remainingClips"]) == ("single", 1)


def test_pass_name_is_stored_as_the_pass_has_it() -> None:
    doc = _expected(_session(), _pass(name="3 COURSE PASS  "))
    assert doc["passName"] == "3 COURSE PASS  "


def test_approver_and_time_are_recorded() -> None:
    when = datetime(2026, 11, 30, 9, 15, 30, 250000, tzinfo=UTC)
    session = _session()
    doc = expected_subscription(
        session,
        _pass(),
        user_ref="u",
        tenant_id="t",
        provenance=Provenance(approved_by="U0OTHER", approved_at=when),
    )
    assert (doc["approvedBy"], doc["approvedAt"]) == ("U0OTHER", "2026-11-30T09:15:30.250Z")


@pytest.mark.parametrize(
    ("amount_total", "price", "expected"),
    [
        pytest.param(129000, 1290, 1290, id="amount-total-in-ore-to-major-units"),
        pytest.param(150050, 2000, 1500.5, id="fractional-major-units"),
        pytest.param(100000, 2000, 1000, id="amount-total-wins-over-list-price"),
        pytest.param(0, 2000, 2000, id="zero-total-falls-back-to-list-price"),
        pytest.param(None, 2000, 2000, id="no-total-falls-back-to-list-price"),
    ],
)
def test_purchase_price(amount_total: int | None, price: int, expected: float) -> None:
    raw = make_session(pass_=make_pass(price=price), amount=0)
    raw["amount_total"] = amount_total
    session = CheckoutSession.from_json(raw)
    doc = _expected(session, _pass(price=price))
    assert doc["purchasePrice"] == expected


def test_promo_fields_come_from_metadata() -> None:
    session = _session(
        amount=150000,
        meta={
            "originalPrice": "2000",
            "finalPrice": "1500",
            "discountAmount": "500",
            "promoCode": "SPRING25",
        },
    )
    doc = _expected(session, _pass())
    assert {k: doc[k] for k in ("purchasePrice", "originalPrice", "finalPrice")} == {
        "purchasePrice": 1500,
        "originalPrice": 2000,
        "finalPrice": 1500,
    }
    assert (doc["discountAmount"], doc["promoCode"]) == (500, "SPRING25")


def test_promo_fields_default_when_metadata_predates_promos() -> None:
    session = _session(
        amount=180000,
        meta={"originalPrice": DROP, "finalPrice": DROP, "discountAmount": DROP},
    )
    doc = _expected(session, _pass(price=2000))
    assert doc["originalPrice"] == 2000  # metadata.originalPrice ?? pass.price
    assert doc["finalPrice"] == 1800  # ?? amount_total / 100
    assert (doc["discountAmount"], doc["promoCode"]) == (0, None)


def test_start_from_a_chosen_day_moves_both_dates_and_says_so() -> None:
    doc = _expected(_session(), _pass(validityDays=30), start=NOW)
    assert (doc["startDate"], doc["endDate"]) == (iso(NOW), iso(NOW + timedelta(days=30)))
    assert doc["startBasis"] == "approval"
    assert chosen_start(Subscription.from_json(doc)) == NOW
    assert "startBasis" not in _expected(_session(), _pass())


def test_only_passbots_own_documents_carry_a_chosen_start() -> None:
    doc = make_subscription(startBasis="approval")
    assert chosen_start(Subscription.from_json(doc)) is None
    mine = make_subscription(startBasis="approval", createdVia="passbot")
    assert chosen_start(Subscription.from_json(mine)) == BOUGHT


def test_fixed_date_pass_ends_on_its_date_whatever_the_start() -> None:
    doc = _expected(_session(), _pass(validityType="date", expiryDate=FUTURE), start=NOW)
    assert doc["endDate"] == FUTURE


def test_rule_error_propagates_instead_of_a_guessed_document() -> None:
    with pytest.raises(RuleError):
        _expected(_session(), _pass(type="subscription"))
    with pytest.raises(RuleError):
        _expected(_session(), _pass(validityDays=None))


# ------------------------------------------------------------------------- upgrades (§2.5)


def _upgrade(
    old_price: int = 1290, new_price: int = 2290, **new: Any
) -> tuple[CheckoutSession, Pass, Subscription]:
    old_pass = make_pass(_id="pass-course1", name="1 Course", type="single", price=old_price)
    new_pass = make_pass(_id="pass-course2", name="2 Course", type="multi-pass", price=new_price)
    new_pass.update(new)
    old = make_subscription(make_session(1, pass_=old_pass), pass_=old_pass)
    raw = make_upgrade_session(2, old=old, old_pass=old_pass, new_pass=new_pass)
    return CheckoutSession.from_json(raw), Pass.from_json(new_pass), Subscription.from_json(old)


def test_upgrade_document_records_the_upgrade_and_the_full_new_price() -> None:
    session, new_pass, old = _upgrade()
    doc = _expected(session, new_pass, upgraded_from=old)
    assert doc["isUpgrade"] is True
    assert doc["upgradedFromSubscriptionId"] == old.id
    assert doc["upgradeCost"] == 1000
    assert doc["purchasePrice"] == 2290  # the full new price, not the 1000 charged
    assert doc["type"] == "multi-pass"
    assert doc["remainingClips"] == 10  # reset to the new pass's limit
    assert doc["startDate"] == iso(session.created)
    for promo_key in ("originalPrice", "finalPrice", "discountAmount", "promoCode"):
        assert promo_key not in doc


def test_fm52_zero_cost_upgrade_charged_one_nok_records_cost_and_new_price() -> None:
    session, new_pass, old = _upgrade(old_price=2290, new_price=2290)
    assert session.amount_total == 100
    doc = _expected(session, new_pass, upgraded_from=old)
    assert (doc["upgradeCost"], doc["purchasePrice"]) == (0, 2290)


def test_upgrade_without_price_metadata_uses_list_price_and_charge() -> None:
    session, new_pass, old = _upgrade()
    meta = {k: v for k, v in session.metadata.items() if k not in ("newPassPrice", "upgradeCost")}
    bare = CheckoutSession.from_json({**session.raw, "metadata": meta})
    doc = _expected(bare, new_pass, upgraded_from=old)
    assert (doc["purchasePrice"], doc["upgradeCost"]) == (2290, 1000)


# ------------------------------------------------------------------------- what judging compares


def _both(session: CheckoutSession, pass_: Pass, **kw: Any) -> tuple[Expected, dict[str, Any]]:
    args: dict[str, Any] = {
        "user_ref": "usrKari0001",
        "tenant_id": "tenant-aurora",
        "provenance": PROV,
        **kw,
    }
    return Expected(session, pass_, **args), expected_subscription(session, pass_, **args)


def _same(expected: Expected, doc: dict[str, Any]) -> None:
    assert expected.type == doc["type"]
    assert expected.clips == doc.get("remainingClips")
    assert expected.start == parse_instant(doc["startDate"])
    assert expected.end == parse_instant(doc["endDate"])
    assert expected.purchase_price == doc["purchasePrice"]
    assert type(expected.purchase_price) is type(doc["purchasePrice"])
    assert expected.doc == doc


@pytest.mark.parametrize(
    ("pass_overrides", "session_kw", "start"),
    [
        pytest.param({}, {}, None, id="clip-card"),
        pytest.param({"type": "unlimited"}, {"amount": 0}, None, id="unlimited-free"),
        pytest.param({"type": "single", "price": 129.5}, {"amount": 12950}, None, id="single"),
        pytest.param({"validityType": "date", "expiryDate": FUTURE}, {}, None, id="fixed-date"),
        pytest.param(
            {"validityType": "date", "expiryDate": "2027-06-30T23:59:59.123456Z"},
            {},
            None,
            id="expiry-with-microseconds",
        ),
        pytest.param({"type": "multi", "classesLimit": None}, {}, None, id="clips-without-limit"),
        pytest.param(
            {}, {}, datetime(2026, 3, 1, 12, 0, 0, 987654, tzinfo=UTC), id="chosen-start-micro"
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": "0999-01-01T00:00:00Z"},
            {},
            None,
            id="expiry-before-year-1000",
        ),
    ],
)
def test_expected_reads_as_the_document_does(
    pass_overrides: dict[str, Any], session_kw: dict[str, Any], start: datetime | None
) -> None:
    expected, doc = _both(_session(**session_kw), _pass(**pass_overrides), start=start)
    _same(expected, doc)


def test_expected_of_an_upgrade_reads_as_its_document_does() -> None:
    session, new_pass, old = _upgrade(old_price=2290, new_price=2290)
    _same(*_both(session, new_pass, upgraded_from=old))


def test_expected_refuses_what_the_document_refuses() -> None:
    for bad in (_pass(type="subscription"), _pass(validityDays=None)):
        with pytest.raises(RuleError):
            Expected(_session(), bad, user_ref="u", tenant_id="t", provenance=PROV)


def test_as_written_keeps_the_millisecond_the_iso_text_keeps() -> None:
    moments = [
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 1000, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 13, 0, 0, 500, tzinfo=timezone(timedelta(hours=1))),
    ]
    for moment in moments:
        assert as_written(moment) == parse_instant(iso(moment)), moment


# ------------------------------------------------------------------------- pass lint


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        pytest.param({"type": "subscription"}, "Invalid pass type", id="fm13b-invalid-type"),
        pytest.param(
            {"validityDays": DROP}, "no valid expiry configuration", id="fm13a-days-no-days"
        ),
        pytest.param(
            {"classesLimit": None}, "cannot be booked", id="fm13d-multi-without-classesLimit"
        ),
        pytest.param({"classesLimit": 0}, "cannot be booked", id="fm37-open-week-limit-zero"),
        pytest.param(
            {"type": "multi-pass", "classesLimit": None},
            "cannot be booked",
            id="fm13d-multi-pass-without-classesLimit",
        ),
        pytest.param(
            {"validityType": "date", "expiryDate": PAST},
            "in the past",
            id="fm31-fixed-date-in-the-past",
        ),
    ],
)
def test_pass_problems(overrides: dict[str, Any], needle: str) -> None:
    problems = pass_problems(_pass(**overrides), now=NOW)
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="clip-card"),
        pytest.param({"type": "single", "classesLimit": None}, id="single-needs-no-limit"),
        pytest.param({"type": "unlimited", "classesLimit": None}, id="unlimited-needs-no-limit"),
        pytest.param({"validityType": "date", "expiryDate": FUTURE}, id="future-fixed-date"),
    ],
)
def test_sound_passes_have_no_problems(overrides: dict[str, Any]) -> None:
    assert pass_problems(_pass(**overrides), now=NOW) == []


# ------------------------------------------------------------------------- share left


@pytest.mark.parametrize(
    ("days_ago", "validity", "expected"),
    [
        pytest.param(0, 30, 1.0, id="bought-now"),
        pytest.param(15, 30, 0.5, id="half-left"),
        pytest.param(20, 30, 1 / 3, id="a-third-left"),
        pytest.param(45, 30, 0.0, id="expired"),
    ],
)
def test_remaining_share(days_ago: int, validity: int, expected: float) -> None:
    session = _session(created=NOW - timedelta(days=days_ago))
    share = remaining_share(_pass(validityDays=validity), session, now=NOW)
    assert share == pytest.approx(expected)


def test_remaining_share_is_unknown_without_a_rule() -> None:
    assert remaining_share(_pass(validityDays=None), _session(), now=NOW) is None
