"""The checkout simulator and Stripe's webhook deliveries (world-format.md, additions).

``POST {SANDBOX_URL}/_sandbox/purchase`` with ``{account, pass, email, fulfil, delay_s, deliver}``
makes, at the sandbox's "now", what a customer paying at the platform's checkout makes in Stripe:
a paid Checkout Session with the metadata the platform's checkout sets (domain.md §2.3), its
PaymentIntent and Charge, and its ``checkout.session.completed`` event, on ``account``'s scope
(the platform's when it is the platform account). It answers ``{"session": "cs_…"}``.

* ``fulfil`` (default true): ``delay_s`` seconds later (default 3) the platform's webhook writes
  the pass — the ``subscription`` document of domain.md §2.4 and its ``webhookLog`` — into
  Sanity. False: the webhook failed (no pass; the event's ``delivery_success`` is false).
* ``deliver`` (default true): the event is POSTed, signed as Stripe signs it, to the configured
  webhook delivery (``stripe.webhook_delivery`` of the world, or ``POST
  /_sandbox/stripe/webhook_delivery``), if any. Each attempt is recorded (``GET
  /_sandbox/stripe/deliveries``).

A signature is Stripe's: ``Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<payload>" keyed with the endpoint's secret>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from sandbox.purchase_objects import Ids, purchase_objects
from sandbox.stripe_objects import EVENT_FIELDS, shaped
from sandbox.stripe_store import StripeStore

Item = dict[str, Any]
Writer = Callable[[list[Item]], Awaitable[None]]

_ALPHABET = string.ascii_letters + string.digits
#: Subscription `type` by pass `type` (domain.md §2.4), and which carry clips.
_SUB_TYPE = {"single": "single", "multi": "clipcard", "multi-pass": "multi-pass"}
_SUB_TYPE_DEFAULT = "monthly"
_CLIPS = {"single": 1}


class PurchaseError(ValueError):
    """A purchase request the simulator cannot make (answered 400 with this sentence)."""


def _token(n: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ref(target: str) -> Item:
    return {"_type": "reference", "_ref": target}


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _flag(body: Item, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise PurchaseError(f"{name} must be true or false")
    return value


class Checkout:
    """Purchases made now, their passes written later, their events delivered."""

    def __init__(
        self,
        *,
        world: Item,
        stripe: StripeStore,
        now: Callable[[], datetime],
        write: Writer,
    ) -> None:
        """Args:
        world: the loaded world (its ``stripe`` lists get the new objects, for dumps).
        stripe: the indexed Stripe state the API answers from.
        now: the sandbox's clock (the world's fixed ``now``, or the wall clock).
        write: writes documents into the Sanity stand-in (as the platform's webhook does).
        """
        self._world = world
        self._stripe = stripe
        self._now = now
        self._write = write
        self._copied = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        delivery = world["stripe"].get("webhook_delivery") or {}
        self.delivery: Item | None = dict(delivery) if delivery else None
        self.deliveries: list[Item] = []
        docs = world["sanity"].get("documents", [])
        self._passes = {
            d["_id"]: d for d in docs if isinstance(d, dict) and d.get("_type") == "pass"
        }
        self._users: dict[str, Item] = {}
        for doc in docs:
            if isinstance(doc, dict) and doc.get("_type") == "user":
                email = doc.get("email")
                if isinstance(email, str):
                    self._users.setdefault(email.strip().lower(), doc)

    # ------------------------------------------------------------------ purchases

    def purchase(self, body: Any) -> str:
        """Make one paid purchase now; returns its session id.

        Raises:
            PurchaseError: the body names no known account, pass or customer, or is malformed.
        """
        if not isinstance(body, dict):
            raise PurchaseError("the body must be a JSON object")
        account = body.get("account")
        pass_id = body.get("pass")
        email = body.get("email")
        if not isinstance(account, str) or not self._stripe.can_access(account):
            raise PurchaseError(f"account must be the platform's or a listed account: {account!r}")
        pass_ = self._passes.get(pass_id) if isinstance(pass_id, str) else None
        if pass_ is None:
            raise PurchaseError(f"pass must be the _id of a pass document: {pass_id!r}")
        user = self._users.get(email.strip().lower()) if isinstance(email, str) else None
        if user is None:
            raise PurchaseError("email must be the email of a Sanity user of the world")
        fulfil = _flag(body, "fulfil", True)
        deliver = _flag(body, "deliver", True)
        delay = body.get("delay_s", 3)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise PurchaseError("delay_s must be a number of seconds >= 0")
        now = self._now()
        session, event = self._make(account, pass_, user, now, fulfilled=fulfil)
        if fulfil:
            self._later(self._fulfil(session, event, pass_, user, float(delay)))
        if deliver and self.delivery:
            self._later(self._deliver(event))
        return str(session["id"])

    def _add(self, kind: str, item: Item) -> None:
        if not self._copied:
            stripe = dict(self._world["stripe"])
            for key in ("checkout_sessions", "payment_intents", "charges", "events"):
                stripe[key] = list(stripe.get(key, []))
            self._world["stripe"] = stripe
            self._copied = True
        self._world["stripe"][kind].append(item)
        self._stripe.add(kind, item)

    def _make(
        self, account: str, pass_: Item, user: Item, now: datetime, *, fulfilled: bool
    ) -> tuple[Item, Item]:
        livemode = self._stripe.livemode
        mode = "live" if livemode else "test"
        tail = _token()
        cs, pi, ch, evt = (
            f"cs_{mode}_{tail}",
            f"pi_{mode}_{tail}",
            f"ch_{mode}_{tail}",
            f"evt_{_token()}",
        )
        scope = None if account == self._stripe.platform else account
        ts = int(now.timestamp())
        raw_price = pass_.get("price")
        price: float = raw_price if isinstance(raw_price, int | float) else 0
        amount = round(float(price) * 100)
        tenant = (pass_.get("tenant") or {}).get("_ref")
        tenant_doc_slug = self._slug(tenant)
        meta = {
            "type": "pass_purchase",
            "passId": pass_["_id"],
            "passType": str(pass_.get("type") or ""),
            "userId": str(user.get("clerkId") or ""),
            "tenantId": str(tenant or ""),
            "tenantSlug": tenant_doc_slug,
            "originalPrice": str(price),
            "finalPrice": str(price),
            "discountAmount": "0",
        }
        made = purchase_objects(
            Ids(cs, pi, ch, evt),
            amount=amount,
            created=ts,
            livemode=livemode,
            metadata=meta,
            email=user.get("email"),
            name=user.get("name"),
            slug=tenant_doc_slug,
            account=scope,
            delivered=fulfilled,
        )
        session, intent, charge, event = made.session, made.intent, made.charge, made.event
        assert intent is not None, "a paid purchase has its PaymentIntent"
        assert charge is not None, "and its Charge"
        assert event is not None, "and its event"
        self._add("checkout_sessions", session)
        self._add("payment_intents", intent)
        self._add("charges", charge)
        self._add("events", event)
        return session, event

    def _slug(self, tenant: Any) -> str:
        for doc in self._world["sanity"].get("documents", []):
            if isinstance(doc, dict) and doc.get("_id") == tenant:
                slug = doc.get("slug")
                if isinstance(slug, dict) and isinstance(slug.get("current"), str):
                    return str(slug["current"])
        return ""

    async def _fulfil(
        self, session: Item, event: Item, pass_: Item, user: Item, delay: float
    ) -> None:
        """The platform's webhook, `delay` seconds later: the pass and its success log."""
        await asyncio.sleep(delay)
        paid = datetime.fromtimestamp(int(session["created"]), tz=UTC)
        written = self._now()
        kind = str(pass_.get("type") or "")
        raw_days = pass_.get("validityDays")
        days: int = raw_days if isinstance(raw_days, int) else 30
        doc: Item = {
            "_id": _token(22),
            "_type": "subscription",
            "_createdAt": _iso(written),
            "_updatedAt": _iso(written),
            "user": _ref(str(user["_id"])),
            "tenant": _ref(str((pass_.get("tenant") or {}).get("_ref") or "")),
            "type": _SUB_TYPE.get(kind, _SUB_TYPE_DEFAULT),
            "startDate": _iso(paid),
            "endDate": _iso(written + timedelta(days=days)),
            "passId": pass_["_id"],
            "passName": pass_.get("name"),
            "purchasePrice": session["amount_total"] / 100,
            "originalPrice": pass_.get("price"),
            "finalPrice": pass_.get("price"),
            "discountAmount": 0,
            "promoCode": None,
            "stripePaymentId": session["payment_intent"],
            "stripeSessionId": session["id"],
            "webhookEventId": event["id"],
            "isActive": True,
            "createdViaWebhook": True,
        }
        if kind in ("multi", "multi-pass"):
            doc["remainingClips"] = pass_.get("classesLimit")
        elif kind in _CLIPS:
            doc["remainingClips"] = _CLIPS[kind]
        log = {
            "_id": _token(22),
            "_type": "webhookLog",
            "eventType": "checkout.session.completed",
            "eventId": event["id"],
            "status": "success",
            "timestamp": _iso(written),
            "details": {"sessionId": session["id"], "processingTimeMs": 1800},
        }
        await self._write([doc, log])

    # ------------------------------------------------------------------ deliveries

    def configure_delivery(self, body: Any) -> None:
        """Set (``{url, secret}``) or clear (``{}``/``null``) where events are delivered."""
        if body in (None, {}):
            self.delivery = None
            return
        if not isinstance(body, dict):
            raise PurchaseError("the body must be {url, secret}")
        for key in ("url", "secret"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise PurchaseError(f"{key} must be a non-empty string")
        self.delivery = {"url": body["url"], "secret": body["secret"]}

    async def _deliver(self, event: Item) -> None:
        """POST the event as Stripe would, signed; record the attempt (no retries)."""
        delivery = self.delivery
        if delivery is None:
            return
        payload = json.dumps(shaped(EVENT_FIELDS, event, self._stripe.livemode) | _account(event))
        header = sign(payload, str(delivery["secret"]), int(time.time()))
        record: Item = {"event": event["id"], "url": delivery["url"], "status": None}
        self.deliveries.append(record)
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            async with self._http.post(
                str(delivery["url"]),
                data=payload.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": header,
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            ) as response:
                record["status"] = response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            record["status"] = 0

    # ------------------------------------------------------------------ life cycle

    def _later(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel pending passes and deliveries; close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None


def _account(event: Item) -> Item:
    return {"account": event["account"]} if event.get("account") else {}
