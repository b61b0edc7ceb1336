"""Decoding a page of Checkout Sessions: msgspec into only the fields read, the tolerant path
for anything else.

A page of 100 sessions expanded down to the charge and the line items is ~500 kB of JSON, of
which `CheckoutSession` reads a few dozen fields a session. Decoding all of it into dicts
(orjson) and then picking the fields out of them (`CheckoutSession.from_json`) cost ~7 ms a
page; msgspec decodes the page straight into narrow structs that declare only the fields read,
skipping the rest without building it, and the sessions are built from those structs.

The structs are typed as Stripe documents the fields (`payment_intent` and `latest_charge` may
be an id or the expanded object, `customer_details` and `line_items` may be absent or null), so
every page Stripe sends decodes. Each type is chosen so that what it lets through gives exactly
what `CheckoutSession.from_json` gives for the same JSON: integers are bounded to ±2**53 (beyond
that `from_json`'s float conversion would round them), timestamps to the years 1970-9999. When
a page holds anything else — a wrong type, a number out of range, an item that is not an
object, JSON that only the standard library accepts (`NaN`), or bytes that are not UTF-8 —
msgspec refuses it and that page is decoded as before (`wire.loads` and `from_json`), so no
page the old decoding read is refused or read differently (tests/adapters/test_stripe_pages.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple

import msgspec

from core.adapters import wire
from core.domain.models import CheckoutSession

# The bounds within which msgspec's integers mean what `from_json`'s do (it passes numbers
# through a float) and a timestamp is a datetime.
_Int = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
_Timestamp = Annotated[int, msgspec.Meta(ge=0, le=253402300799)]  # up to 9999-12-31T23:59:59Z

_EPOCH = datetime.fromtimestamp(0, tz=UTC)
_fromtimestamp = datetime.fromtimestamp
_to_builtins = msgspec.to_builtins


# Untracked by the garbage collector (`gc=False`): JSON makes no reference cycles, and 10k
# sessions' structs would otherwise count towards (and be walked by) every collection.
class _Charge(msgspec.Struct, omit_defaults=True, gc=False):
    id: str | None = None
    refunded: Any = None
    amount_refunded: _Int | None = None
    disputed: Any = None


class _Intent(msgspec.Struct, omit_defaults=True, gc=False):
    id: str | None = None
    latest_charge: str | _Charge | None = None


class _Details(msgspec.Struct, omit_defaults=True, gc=False):
    email: str | None = None
    name: str | None = None


class _LineItem(msgspec.Struct, omit_defaults=True, gc=False):
    description: str | None = None


class _LineItems(msgspec.Struct, omit_defaults=True, gc=False):
    data: list[_LineItem] | None = None


class _Session(msgspec.Struct, omit_defaults=True, gc=False):
    id: str  # required: without it there is no cursor, which the tolerant path reports
    created: _Timestamp | None = None
    livemode: Any = None
    status: str | None = None
    payment_status: str | None = None
    amount_total: _Int | None = None
    currency: str | None = None
    payment_intent: str | _Intent | None = None
    customer_details: _Details | None = None
    customer_email: str | None = None
    metadata: dict[str, str] | None = None
    client_reference_id: str | None = None
    line_items: _LineItems | None = None
    account: str | None = None


class _Page(msgspec.Struct, gc=False):
    data: list[_Session] | None = None
    has_more: Any = False


_decode = msgspec.json.Decoder(_Page).decode


class SessionPage(NamedTuple):
    """One list page: its sessions, whether Stripe has more, and the cursor for the next page
    (the last item's id; None only when the last item had none)."""

    sessions: list[CheckoutSession]
    has_more: bool
    last_id: str | None


def decode_page(body: bytes | str, account: str | None) -> SessionPage | None:
    """The sessions of a 2xx list answer's body through msgspec, or None when msgspec refuses
    the body (then `tolerant_page(wire.loads(body), account)` reads it as before).

    `account` is the account the page was read from (None: the platform's, where each session's
    own `account` field, if any, is taken, as `from_json` does).
    """
    if isinstance(body, bytes) and not body.isascii():
        # msgspec skips the strings it does not read without checking their UTF-8; the old
        # decoding refused a body that is not UTF-8 anywhere, so such a body goes that way.
        try:
            body.decode()
        except UnicodeDecodeError:
            return None
    try:
        page = _decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    items = page.data or []
    sessions = [_session(s, account) for s in items]
    return SessionPage(sessions, bool(page.has_more), items[-1].id if items else None)


def tolerant_page(page: Mapping[str, Any], account: str | None) -> SessionPage:
    """A decoded list answer read as the old path did: every item that is an object, through
    `CheckoutSession.from_json`, the rest skipped."""
    items = [item for item in page.get("data") or [] if isinstance(item, dict)]
    sessions = [CheckoutSession.from_json(item, account=account) for item in items]
    last_id = str(items[-1]["id"]) if items and "id" in items[-1] else None
    return SessionPage(sessions, bool(page.get("has_more")), last_id)


def read_page(body: bytes | str, account: str | None) -> SessionPage | None:
    """`decode_page`, else the tolerant path; None when the body is no JSON object at all (the
    caller hands it to stripe-python, which raises its error for it)."""
    fast = decode_page(body, account)
    if fast is not None:
        return fast
    try:
        data = wire.loads(body)
    except ValueError:
        return None
    return tolerant_page(data, account) if isinstance(data, dict) else None


def _session(s: _Session, account: str | None) -> CheckoutSession:
    """The model of one decoded session: what `CheckoutSession.from_json` makes of its JSON."""
    intent = s.payment_intent
    charge_id: str | None = None
    refunded = disputed = False
    amount_refunded = 0
    if isinstance(intent, _Intent):
        intent_id = intent.id
        latest = intent.latest_charge
        if isinstance(latest, _Charge):
            charge_id = latest.id
            refunded = latest.refunded is True
            disputed = latest.disputed is True
            amount_refunded = latest.amount_refunded or 0
        else:
            charge_id = latest
    else:
        intent_id = intent
    details = s.customer_details
    email = name = None
    if details is not None:
        email = _text(details.email)
        name = _text(details.name)
    names: tuple[str, ...] = ()
    items = s.line_items
    if items is not None and items.data:
        names = tuple(d for i in items.data if (d := _text(i.description)))
    created = s.created
    return CheckoutSession(
        id=s.id,
        account=account if account is not None else _text(s.account),
        created=_EPOCH if created is None else _fromtimestamp(created, UTC),
        livemode=s.livemode is True,
        status=_text(s.status),
        payment_status=_text(s.payment_status),
        amount_total=s.amount_total,
        currency=_text(s.currency),
        payment_intent=_text(intent_id),
        charge_id=_text(charge_id),
        email=email or _text(s.customer_email),
        customer_name=name,
        metadata=s.metadata if s.metadata is not None else {},
        client_reference_id=_text(s.client_reference_id),
        refunded=refunded,
        amount_refunded=amount_refunded,
        disputed=disputed,
        line_item_names=names,
        raw=_to_builtins(s),
    )


def _text(value: str | None) -> str | None:
    """A string that is not blank, else None: `from_json`'s reading of text, for a value msgspec
    has already checked to be a string or null."""
    return value if value and not value.isspace() else None
