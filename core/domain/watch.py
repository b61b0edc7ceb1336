"""The watch's decisions (pure): which Stripe events are paid purchases to follow, when each is
due to have its pass (the grace period), when to look again, and when several purchases without
a pass look like an outage rather than bad luck.

The watch (core/usecases/watch.py) follows Stripe's Events API per account; these rules only
take what it read and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.findings import Finding
from core.domain.models import JSON, iso
from core.domain.summary import AutofixOutcome

#: The events that mean "a Checkout Session was paid" (card payments complete paid; delayed
#: methods complete unpaid and succeed later).
WATCHED_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
#: How far back the first look at an account goes (older purchases are the early warning's).
FIRST_LOOK = timedelta(minutes=75)
#: Unfulfilled purchases alerted within this window count towards an outage…
OUTAGE_WINDOW = timedelta(minutes=15)
#: …and this many of them make one.
OUTAGE_MIN = 3
#: The health check that tells whether Stripe still reaches the platform's webhook.
OUTAGE_CHECK = "webhook_deliveries"
#: The platform account's key in the watch's state (Stripe's `account` is absent for it).
PLATFORM = ""


@dataclass(frozen=True, slots=True)
class Seen:
    """A paid Checkout Session the watch follows until its grace period ends."""

    session: str
    account: str
    event: str
    paid_at: datetime
    due_at: datetime


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def account_key(account: str | None) -> str:
    """The state's key for an account (`""` for the platform)."""
    return account or PLATFORM


def seen_from_event(event: Mapping[str, Any], *, grace: timedelta) -> Seen | None:
    """The paid purchase an event announces, or None (another type, not paid, malformed)."""
    if event.get("type") not in WATCHED_EVENTS:
        return None
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping) or obj.get("object") != "checkout.session":
        return None
    if obj.get("payment_status") != "paid" or not isinstance(obj.get("id"), str):
        return None
    paid_at = _instant(event.get("created"))
    if paid_at is None or not isinstance(event.get("id"), str):
        return None
    account = event.get("account")
    return Seen(
        session=str(obj["id"]),
        account=account_key(account if isinstance(account, str) else None),
        event=str(event["id"]),
        paid_at=paid_at,
        due_at=paid_at + grace,
    )


def newest(events: Iterable[Mapping[str, Any]]) -> tuple[str, int] | None:
    """The cursor after these events: the newest one's id and `created` (the last one when
    several share a second — events come oldest first)."""
    found: tuple[str, int] | None = None
    for event in events:
        created = event.get("created")
        if (
            isinstance(event.get("id"), str)
            and isinstance(created, int)
            and (found is None or created >= found[1])
        ):
            found = (str(event["id"]), created)
    return found


def next_wake(now: datetime, *, next_poll: datetime, next_due: datetime | None) -> datetime:
    """When to look again: the next poll, or sooner when a purchase's grace ends first."""
    wake = next_poll if next_due is None else min(next_poll, next_due)
    return max(now, wake)


def outage_suspected(unfulfilled_recently: int) -> bool:
    """Several purchases without a pass within minutes: the webhook, not one purchase."""
    return unfulfilled_recently >= OUTAGE_MIN


def outage_period(now: datetime) -> str:
    """One outage message per hour at most (the run ledger's key)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


@dataclass(frozen=True, slots=True)
class WatchAlert:
    """Purchases whose grace period ended without a pass, posted at once, each once."""

    generated_at: datetime
    grace: timedelta
    findings: tuple[Finding, ...]
    autofixed: tuple[AutofixOutcome, ...] = ()
    outage: bool = False
    unfulfilled_recently: int = 0
    check: str = OUTAGE_CHECK

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        """The findings that still need a person (not fixed automatically)."""
        fixed = {o.finding_key for o in self.autofixed if o.applied}
        return tuple(f for f in self.findings if f.key not in fixed)

    @property
    def needs_attention(self) -> bool:
        """Something to post."""
        return bool(self.findings)

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "generated_at": iso(self.generated_at),
            "grace_seconds": self.grace.total_seconds(),
            "outage_suspected": self.outage,
            "unfulfilled_recently": self.unfulfilled_recently,
            "health_check": self.check,
            "findings": [f.to_json() for f in self.findings],
            "autofixed": [o.to_json() for o in self.autofixed],
        }
