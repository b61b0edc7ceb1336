"""Generated worlds (world-format.md): schools on their own Connect accounts, their passes,
customers, purchases fulfilled by the webhook — and, on request, a catalogue of broken ones.

`demo_world()` is the built-in demo (examples/demo-world.json is its output); benchmarks call
`generate_world()` with larger numbers. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.purchase_objects import Ids, purchase_objects

JSON = dict[str, Any]

FIRST = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Sofie",
    "Emil",
    "Nora",
    "Jonas",
    "Mia",
    "Henrik",
    "Ella",
    "Aksel",
    "Maja",
    "Filip",
    "Sara",
    "Magnus",
    "Thea",
    "Elias",
    "Ida",
    "Tobias",
]
LAST = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Berg",
    "Haugen",
    "Lund",
    "Dahl",
    "Bakken",
    "Solberg",
    "Strand",
    "Moen",
    "Eide",
    "Lie",
    "Vik",
]

# name, type, price (NOK), validityType, validityDays, classesLimit
PASSES = [
    ("Drop-in Class", "single", 250, "days", 30, None),
    ("10 Single Clip Card", "multi", 2000, "days", 90, 10),
    ("Monthly Unlimited", "unlimited", 990, "days", 30, None),
    ("2 Course Pass", "multi-pass", 2290, "days", 60, 16),
]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ref(target: str) -> JSON:
    return {"_type": "reference", "_ref": target}


@dataclass
class _Builder:
    rng: random.Random
    now: datetime
    livemode: bool = False
    world: JSON = field(default_factory=dict)
    counter: int = 0

    def token(self, n: int = 24) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def ids(self) -> tuple[str, str, str, str]:
        tail = self.token()
        mode = "live" if self.livemode else "test"
        return f"cs_{mode}_{tail}", f"pi_{mode}_{tail}", f"ch_{mode}_{tail}", f"evt_{self.token()}"

    def doc_id(self) -> str:
        return self.token(22)

    @property
    def docs(self) -> list[JSON]:
        docs: list[JSON] = self.world["sanity"]["documents"]
        return docs

    @property
    def stripe(self) -> JSON:
        stripe: JSON = self.world["stripe"]
        return stripe


def _base(b: _Builder, schools: int) -> list[JSON]:
    names = [
        "Aurora Dance",
        "Bolero Studio",
        "Cadenza",
        "Danza Viva",
        "Estrella",
        "Flamenco Nord",
        "Groove Lab",
        "Harmoni",
        "Impuls",
        "Jive Hall",
    ]
    b.world.update(
        {
            "now": _iso(b.now),
            "stripe": {
                "platform_account": "acct_platform0001",
                "livemode": b.livemode,
                "accounts": [],
                "checkout_sessions": [],
                "payment_intents": [],
                "charges": [],
                "events": [],
                "webhook_endpoints": [
                    {
                        "id": "we_1PassWebhook",
                        "object": "webhook_endpoint",
                        "url": "https://dance.example/api/stripe/webhook",
                        "status": "enabled",
                        "enabled_events": ["checkout.session.completed"],
                        "api_version": None,
                        "application": None,
                        "livemode": b.livemode,
                        "created": int((b.now - timedelta(days=400)).timestamp()),
                        "description": "pass webhook (Connect)",
                        "metadata": {},
                    }
                ],
            },
            "sanity": {"project_id": "demo123", "dataset": "test", "documents": []},
            "clerk": {"users": []},
            "slack": {
                "users": [
                    {
                        "id": "U0APPROVER",
                        "name": "ada",
                        "real_name": "Ada Approver",
                        "profile": {"email": "ada@dance.example"},
                        "is_admin": False,
                    },
                    {
                        "id": "U0SUPPORT",
                        "name": "sam",
                        "real_name": "Sam Support",
                        "profile": {"email": "sam@dance.example"},
                        "is_admin": False,
                    },
                ],
                "channels": [{"id": "C0PASSES", "name": "passes"}],
                "usergroups": [
                    {"id": "S0APPROVERS", "handle": "pass-approvers", "users": ["U0APPROVER"]}
                ],
            },
            "cms": {
                "webhook_url": "https://dance.example/api/stripe/webhook",
                "probe": {"status": 400},
            },
        }
    )
    tenants = []
    for i in range(schools):
        name = names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}")
        slug = name.lower().replace(" ", "-")
        tid = f"tenant-{slug}"
        acct = f"acct_{slug.replace('-', '')[:10]}{i:04d}"
        b.stripe["accounts"].append(
            {
                "id": acct,
                "object": "account",
                "charges_enabled": True,
                "payouts_enabled": True,
                "details_submitted": True,
                "default_currency": "nok",
                "country": "NO",
                "created": int((b.now - timedelta(days=500)).timestamp()),
                "type": "standard",
            }
        )
        tenant = {
            "_id": tid,
            "_type": "tenant",
            "_createdAt": "2025-07-01T10:00:00Z",
            "_updatedAt": "2025-08-08T10:00:00Z",
            "_rev": b.token(9),
            "schoolName": name,
            "slug": {"_type": "slug", "current": slug},
            "status": "active",
            "stripeConnect": {
                "accountId": acct,
                "accountStatus": "active",
                "onboardingCompleted": True,
                "chargesEnabled": True,
                "payoutsEnabled": True,
                "country": "NO",
                "currency": "nok",
                "applicationFeePercent": 5,
            },
        }
        b.docs.append(tenant)
        passes = []
        for name_, ptype, price, vtype, vdays, limit in PASSES:
            pid = f"pass-{slug}-{name_.lower().replace(' ', '-')}"
            doc = {
                "_id": pid,
                "_type": "pass",
                "_createdAt": "2025-07-02T10:00:00Z",
                "_updatedAt": "2025-08-10T10:00:00Z",
                "_rev": b.token(9),
                "name": name_,
                "type": ptype,
                "price": price,
                "validityType": vtype,
                "validityDays": vdays,
                "classesLimit": limit,
                "isActive": True,
                "tenant": _ref(tid),
            }
            b.docs.append(doc)
            passes.append(doc)
        tenants.append({"tenant": tenant, "account": acct, "passes": passes, "slug": slug})
    return tenants


def _customer(
    b: _Builder,
    tenant: JSON,
    *,
    first: str | None = None,
    last: str | None = None,
    email: str | None = None,
) -> JSON:
    b.counter += 1
    first = first or b.rng.choice(FIRST)
    last = last or b.rng.choice(LAST)
    email = email or f"{first}.{last}{b.counter}@example.com".lower()
    clerk_id = f"user_{b.token(27)}"
    email_id = f"idn_{b.token(27)}"
    b.world["clerk"]["users"].append(
        {
            "id": clerk_id,
            "object": "user",
            "first_name": first,
            "last_name": last,
            "primary_email_address_id": email_id,
            "email_addresses": [
                {"id": email_id, "object": "email_address", "email_address": email}
            ],
            "created_at": int((b.now - timedelta(days=200)).timestamp() * 1000),
        }
    )
    user = {
        "_id": b.doc_id(),
        "_type": "user",
        "_createdAt": "2026-05-12T08:00:00.000Z",
        "_updatedAt": "2026-08-20T08:00:00.000Z",
        "_rev": b.token(9),
        "clerkId": clerk_id,
        "email": email,
        "name": f"{first} {last}",
        "firstName": first,
        "lastName": last,
        "role": "student",
        "isActive": True,
        "tenant": _ref(tenant["tenant"]["_id"]),
    }
    b.docs.append(user)
    return user


def _purchase(
    b: _Builder,
    school: JSON,
    user: JSON,
    pass_: JSON,
    created: datetime,
    *,
    kind: str = "pass_purchase",
    paid: bool = True,
    extra_meta: JSON | None = None,
    refunded: bool = False,
    delivered: bool = True,
) -> JSON:
    cs, pi, ch, evt = b.ids()
    amount = int(pass_["price"] * 100)
    ts = int(created.timestamp())
    meta = {
        "type": kind,
        "passId": pass_["_id"],
        "passType": pass_["type"],
        "userId": user["clerkId"],
        "tenantId": school["tenant"]["_id"],
        "tenantSlug": school["slug"],
        "originalPrice": str(pass_["price"]),
        "finalPrice": str(pass_["price"]),
        "discountAmount": "0",
    }
    meta.update(extra_meta or {})
    made = purchase_objects(
        Ids(cs, pi, ch, evt),
        amount=amount,
        created=ts,
        livemode=b.livemode,
        metadata=meta,
        email=user["email"],
        name=user["name"],
        slug=school["slug"],
        account=school["account"],
        paid=paid,
        refunded=refunded,
        delivered=delivered,
        event_delay_s=2,
    )
    session = made.session
    b.stripe["checkout_sessions"].append(session)
    if made.intent is not None and made.charge is not None and made.event is not None:
        b.stripe["payment_intents"].append(made.intent)
        b.stripe["charges"].append(made.charge)
        b.stripe["events"].append(made.event)
    session["_event"] = evt
    return session


def _webhook_pass(
    b: _Builder,
    session: JSON,
    user_id: str,
    pass_: JSON,
    *,
    delay: timedelta = timedelta(seconds=3),
    **overrides: Any,
) -> JSON:
    """The subscription the platform's webhook writes (domain.md §2.4), plus its logs."""
    created = datetime.fromtimestamp(session["created"], tz=UTC)
    written = created + delay
    clips = {"single": 1, "multi": pass_["classesLimit"], "multi-pass": pass_["classesLimit"]}
    sub_type = {
        "single": "single",
        "multi": "clipcard",
        "multi-pass": "multi-pass",
        "unlimited": "monthly",
    }[pass_["type"]]
    doc: JSON = {
        "_id": b.doc_id(),
        "_type": "subscription",
        "_createdAt": _iso(written),
        "_updatedAt": _iso(written),
        "_rev": b.token(9),
        "user": _ref(user_id),
        "tenant": _ref(pass_["tenant"]["_ref"]),
        "type": sub_type,
        "startDate": _iso(created),
        "endDate": _iso(written + timedelta(days=pass_["validityDays"])),
        "passId": pass_["_id"],
        "passName": pass_["name"],
        "purchasePrice": session["amount_total"] / 100,
        "originalPrice": pass_["price"],
        "finalPrice": pass_["price"],
        "discountAmount": 0,
        "promoCode": None,
        "stripePaymentId": session["payment_intent"],
        "stripeSessionId": session["id"],
        "webhookEventId": session["_event"],
        "isActive": True,
        "createdViaWebhook": True,
    }
    if pass_["type"] in clips:
        doc["remainingClips"] = clips[pass_["type"]]
    doc.update(overrides)
    b.docs.append(doc)
    _logs(b, session, written, status="success")
    return doc


def _logs(
    b: _Builder, session: JSON, at: datetime, *, status: str, error: str | None = None
) -> None:
    details: JSON = {"sessionId": session["id"], "metadata": session["metadata"]}
    b.docs.append(
        {
            "_id": b.doc_id(),
            "_type": "webhookLog",
            "eventType": "checkout.session.completed",
            "eventId": session["_event"],
            "status": "processing",
            "timestamp": _iso(at - timedelta(seconds=2)),
            "details": details,
        }
    )
    final = dict(details)
    if error:
        final["error"] = error
    else:
        final["processingTimeMs"] = 1800
    b.docs.append(
        {
            "_id": b.doc_id(),
            "_type": "webhookLog",
            "eventType": "checkout.session.completed",
            "eventId": session["_event"],
            "status": status,
            "timestamp": _iso(at),
            "details": final,
        }
    )


def generate_world(
    *,
    seed: int = 7,
    schools: int = 2,
    purchases: int = 300,
    days: int = 35,
    now: datetime | None = None,
    livemode: bool = False,
    broken: bool = True,
) -> JSON:
    """A world with `purchases` paid pass purchases over `days`, spread over `schools`.

    Every purchase is fulfilled by the webhook, except — with `broken` — a dozen cases, one per
    failure the demo shows (listed in `world["_demo"]`, which the sandbox ignores).
    """
    b = _Builder(random.Random(seed), now or datetime(2026, 11, 28, 8, 0, tzinfo=UTC), livemode)
    school_list = _base(b, schools)
    customers = [
        (_customer(b, s), s) for s in school_list for _ in range(max(1, purchases // (3 * schools)))
    ]
    for _ in range(purchases):
        user, school = b.rng.choice(customers)
        pass_ = b.rng.choice(school["passes"])
        created = b.now - timedelta(seconds=b.rng.randint(3600, days * 86400 - 3600))
        session = _purchase(b, school, user, pass_, created)
        _webhook_pass(b, session, user["_id"], pass_)
    # sessions that are not pass purchases: class bookings, abandoned checkouts
    for i in range(max(2, purchases // 20)):
        user, school = b.rng.choice(customers)
        created = b.now - timedelta(seconds=b.rng.randint(3600, days * 86400 - 3600))
        if i % 2:
            _purchase(b, school, user, school["passes"][0], created, paid=False)
        else:
            s = _purchase(
                b,
                school,
                user,
                school["passes"][0],
                created,
                extra_meta={"type": "", "passId": "", "passType": "", "classId": f"class-{i}"},
            )
            s["metadata"] = {k: v for k, v in s["metadata"].items() if v}
    if broken:
        b.world["_demo"] = _break(b, school_list)
    for session in b.stripe["checkout_sessions"]:
        session.pop("_event", None)
    return b.world


def _break(b: _Builder, schools: list[JSON]) -> JSON:
    """A dozen purchases that went wrong, each a different way."""
    a, c = schools[0], schools[-1]
    drop, clip, monthly, course = a["passes"]

    def hours(n: float) -> datetime:
        return b.now - timedelta(hours=n)

    cases: JSON = {}

    kari = _customer(b, a, first="Kari", last="Nordmann", email="kari.nordmann@example.com")
    s = _purchase(b, a, kari, clip, hours(20))
    _logs(
        b,
        s,
        hours(20) + timedelta(seconds=4),
        status="error",
        error="Sanity request timed out after 3 attempts",
    )
    cases["missing_pass"] = s["id"]
    cases["customer"] = kari["email"]

    u = _customer(b, a)
    s = _purchase(b, a, u, drop, b.now - timedelta(days=33))
    cases["missing_pass_expired"] = s["id"]

    u = _customer(b, c)
    s = _purchase(b, c, u, c["passes"][2], hours(50), delivered=False)
    cases["missing_pass_undelivered"] = s["id"]

    u = _customer(b, a)
    s = _purchase(b, a, u, monthly, hours(72))
    _webhook_pass(b, s, u["_id"], monthly, isActive=False)
    cases["hidden_pass"] = s["id"]

    u = _customer(b, a)
    s = _purchase(b, a, u, course, b.now - timedelta(days=12))
    _webhook_pass(b, s, u["_id"], course, delay=timedelta(days=4))
    cases["wrong_expiry"] = s["id"]

    u = _customer(b, c)
    cpass = c["passes"][1]
    s = _purchase(b, c, u, cpass, b.now - timedelta(days=6))
    _webhook_pass(b, s, u["_id"], cpass, type="single", remainingClips=1)
    cases["mistyped_pass"] = s["id"]

    u = _customer(b, a)
    s = _purchase(b, a, u, drop, b.now - timedelta(days=9))
    _webhook_pass(b, s, u["_id"], drop)
    dup = _webhook_pass(b, s, u["_id"], drop, delay=timedelta(minutes=9))
    for key in ("createdViaWebhook", "webhookEventId"):
        dup.pop(key, None)
    cases["duplicate_pass"] = s["id"]

    u = _customer(b, a)
    s = _purchase(b, a, u, clip, b.now - timedelta(days=15))
    created = datetime.fromtimestamp(s["created"], tz=UTC)
    b.docs.append(
        {
            "_id": b.doc_id(),
            "_type": "subscription",
            "_createdAt": _iso(created + timedelta(days=1)),
            "_rev": b.token(9),
            "user": _ref(u["_id"]),
            "tenant": _ref(a["tenant"]["_id"]),
            "type": "clipcard",
            "startDate": _iso(created + timedelta(days=1)),
            "endDate": _iso(created + timedelta(days=91)),
            "passId": clip["_id"],
            "passName": clip["name"],
            "purchasePrice": 2000,
            "remainingClips": 10,
            "isActive": True,
            "stripePaymentId": "manual_creation_oct13_1760000000",
            "stripeSessionId": "manual_session_oct13_1760000000",
            "manuallyCreated": True,
            "manualCreationReason": "customer emailed a receipt",
        }
    )
    cases["manual_match_ok"] = s["id"]

    u = _customer(b, c)
    b.docs.append(
        {
            "_id": b.doc_id(),
            "_type": "subscription",
            "_createdAt": _iso(b.now - timedelta(days=20)),
            "_rev": b.token(9),
            "user": _ref(u["_id"]),
            "type": "multi-pass",
            "startDate": _iso(b.now - timedelta(days=20)),
            "endDate": _iso(b.now + timedelta(days=40)),
            "passId": c["passes"][3]["_id"],
            "passName": c["passes"][3]["name"],
            "purchasePrice": 2290,
            "remainingClips": 16,
            "isActive": True,
            "manuallyCreated": True,
            "manualCreationReason": "likely course pass purchase",
        }
    )
    cases["unpaid_pass"] = u["email"]

    u = _customer(b, a)
    s = _purchase(b, a, u, monthly, b.now - timedelta(days=8), refunded=True)
    _webhook_pass(b, s, u["_id"], monthly)
    cases["refunded_pass"] = s["id"]

    broken_pass = {
        "_id": f"pass-{a['slug']}-summer-intensive",
        "_type": "pass",
        "_createdAt": "2026-10-01T10:00:00Z",
        "_rev": b.token(9),
        "name": "Summer Intensive  ",
        "type": "multi-pass",
        "price": 1500,
        "validityType": "days",
        "validityDays": None,
        "classesLimit": 6,
        "isActive": True,
        "tenant": _ref(a["tenant"]["_id"]),
    }
    b.docs.append(broken_pass)
    u = _customer(b, a)
    s = _purchase(b, a, u, broken_pass, hours(30))
    _logs(
        b,
        s,
        hours(30),
        status="error",
        error="Pass has no valid expiry configuration: {validityType: days, validityDays: null}",
    )
    cases["unresolvable_purchase"] = s["id"]
    cases["pass_config"] = broken_pass["_id"]

    u = _customer(b, a)
    first = _purchase(b, a, u, drop, b.now - timedelta(days=20))
    old = _webhook_pass(b, first, u["_id"], drop)
    s = _purchase(
        b,
        a,
        u,
        monthly,
        b.now - timedelta(days=2),
        kind="pass_upgrade",
        extra_meta={
            "upgradeFromSubscriptionId": old["_id"],
            "isUpgrade": "true",
            "originalPassPrice": "250",
            "newPassPrice": "990",
            "upgradeCost": "740",
        },
    )
    cases["missing_upgrade"] = s["id"]
    return cases


def demo_world() -> JSON:
    """The built-in demo: two schools, 300 purchases over 35 days, a dozen broken."""
    return generate_world(seed=7, schools=2, purchases=300, days=35)


def add_customer_everywhere(
    world: JSON,
    *,
    email: str,
    missing: int = 3,
    seed: int = 1,
    first: str = "Vera",
    last: str = "Vidde",
) -> list[str]:
    """Add one customer who bought a pass at every school of `world` (a `generate_world` world),
    all fulfilled by the webhook except the first `missing` purchases. Changes `world` in place;
    returns the new purchases' session ids, one per school, in the schools' order.

    One Clerk account and one Sanity user (at the first school), as the platform makes them.
    """
    b = _Builder(
        random.Random(seed),
        datetime.fromisoformat(str(world["now"]).replace("Z", "+00:00")),
        bool(world["stripe"].get("livemode")),
        world,
    )
    docs = world["sanity"]["documents"]
    schools: list[JSON] = []
    for tenant in (d for d in docs if d.get("_type") == "tenant"):
        passes = [
            d
            for d in docs
            if d.get("_type") == "pass"
            and (d.get("tenant") or {}).get("_ref") == tenant["_id"]
            and d.get("name") in {name for name, *_ in PASSES}
        ]
        schools.append(
            {
                "tenant": tenant,
                "account": tenant["stripeConnect"]["accountId"],
                "passes": passes,
                "slug": tenant["slug"]["current"],
            }
        )
    user = _customer(b, schools[0], first=first, last=last, email=email)
    sessions = []
    for i, school in enumerate(schools):
        pass_ = school["passes"][i % len(school["passes"])]
        created = b.now - timedelta(hours=6 + 30 * i)
        session = _purchase(b, school, user, pass_, created)
        if i >= missing:
            _webhook_pass(b, session, user["_id"], pass_)
        session.pop("_event", None)
        sessions.append(str(session["id"]))
    return sessions
