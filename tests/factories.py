"""Valid-by-default builders of raw JSON, shaped exactly as the real APIs and dataset hold it.

Every builder returns a fresh dict that a real service could have answered: Sanity documents
(`make_tenant`, `make_pass`, `make_user`, `make_subscription`), Stripe objects (`make_account`,
`make_session`) and Clerk users (`make_clerk_user`). Keyword overrides replace top-level keys;
the `DROP` sentinel removes one (a legacy document that lacks a field).

`World` turns them into a world document (world-format.md), reads it with the core's own
`facts_from_world`, and runs `reconcile` at a fixed `NOW` over a fixed window. Every run also
checks the never-do rules of domain.md §7.8 on whatever the core proposes (`check_never_do`).

All data is synthetic: no email, id or name comes from the platform's repository.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.domain.diagnose import Diagnosis, diagnose
from core.domain.facts import Facts
from core.domain.findings import CreateDoc, Finding, Fix, Kind, Operation, PatchDoc
from core.domain.models import ClerkUser, Window, iso
from core.domain.purchase import Purchase
from core.domain.reconcile import ReconcileReport, reconcile
from core.domain.snapshot import facts_from_world

JSON = dict[str, Any]

#: The clock every test reads, and the window a daily check would cover.
NOW: Final = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
WINDOW: Final = Window(NOW - timedelta(days=35), NOW)
ACTOR: Final = "U0APPROVER"

TENANT_ID: Final = "tenant-aurora"
ACCOUNT_ID: Final = "acct_aurora0001"
OTHER_TENANT_ID: Final = "tenant-bolero"
OTHER_ACCOUNT_ID: Final = "acct_bolero0002"
PASS_ID: Final = "pass-clip10"
USER_ID: Final = "usrKari0001"
CLERK_ID: Final = "user_2kariNordmann0001"
EMAIL: Final = "kari.nordmann@example.com"

#: Default purchase time: two days before NOW.
BOUGHT: Final = NOW - timedelta(days=2)


class _Drop:
    """Sentinel type: the key is absent from the document."""

    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()


def ref(target: str) -> JSON:
    """A Sanity reference."""
    return {"_type": "reference", "_ref": target}


def epoch(value: datetime) -> int:
    """Stripe's `created`: epoch seconds."""
    return int(value.timestamp())


def _merge(base: JSON, overrides: Mapping[str, Any]) -> JSON:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, _Drop):
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------ Sanity


def make_tenant(
    *, tenant_id: str = TENANT_ID, account: str | None = ACCOUNT_ID, **overrides: Any
) -> JSON:
    """A school with an active Stripe Connect account."""
    connect: JSON = {
        "accountStatus": "active",
        "onboardingCompleted": True,
        "chargesEnabled": True,
        "payoutsEnabled": True,
        "country": "NO",
        "currency": "nok",
        "applicationFeePercent": 5,
    }
    if account is not None:
        connect["accountId"] = account
    slug = tenant_id.removeprefix("tenant-")
    doc: JSON = {
        "_id": tenant_id,
        "_type": "tenant",
        "_createdAt": "2025-07-01T10:00:00Z",
        "_rev": f"rev-{tenant_id}",
        "schoolName": f"{slug.capitalize()} Dance",
        "slug": {"_type": "slug", "current": slug},
        "status": "active",
        "stripeConnect": connect,
    }
    return _merge(doc, overrides)


def make_pass(**overrides: Any) -> JSON:
    """A purchasable 10-clip card (`multi`, 90 days) of the default school."""
    doc: JSON = {
        "_id": PASS_ID,
        "_type": "pass",
        "_createdAt": "2025-07-02T10:00:00Z",
        "_rev": "rev-pass",
        "name": "10 Clip Card",
        "description": "Ten classes",
        "type": "multi",
        "price": 2000,
        "validityType": "days",
        "validityDays": 90,
        "classesLimit": 10,
        "isActive": True,
        "tenant": ref(TENANT_ID),
    }
    return _merge(doc, overrides)


def make_user(**overrides: Any) -> JSON:
    """A Sanity user mirroring a Clerk user (the modern shape: random `_id`, `clerkId` set)."""
    doc: JSON = {
        "_id": USER_ID,
        "_type": "user",
        "_createdAt": "2026-05-12T08:00:00.000Z",
        "_rev": "rev-user",
        "clerkId": CLERK_ID,
        "email": EMAIL,
        "name": "Kari Nordmann",
        "firstName": "Kari",
        "lastName": "Nordmann",
        "role": "student",
        "isActive": True,
        "tenant": ref(TENANT_ID),
    }
    return _merge(doc, overrides)


#: The webhook's mapping (domain.md §2.4 step 6), written out independently of core.domain.rule.
_WEBHOOK_TYPES: Final[dict[str, str]] = {
    "single": "single",
    "multi-pass": "multi-pass",
    "multi": "clipcard",
    "unlimited": "monthly",
}


def webhook_end(pass_: Mapping[str, Any], base: datetime) -> datetime:
    """The webhook's `endDate` for the simple, valid configurations the factories build."""
    if pass_.get("validityType") == "date" and pass_.get("expiryDate"):
        parsed = datetime.fromisoformat(str(pass_["expiryDate"]).replace("Z", "+00:00"))
        return parsed.astimezone(UTC)
    return base + timedelta(days=float(pass_["validityDays"]))


def make_subscription(
    session: Mapping[str, Any] | None = None,
    *,
    pass_: Mapping[str, Any] | None = None,
    owner: Mapping[str, Any] | None = None,
    processed_at: datetime | None = None,
    **overrides: Any,
) -> JSON:
    """The subscription the platform's webhook writes for `session` (domain.md §2.4).

    `owner` is the Sanity user it belongs to; `processed_at` is when the webhook ran (its
    `endDate` base, FM-50); default: 3 s after the purchase, so the dates agree with the rule.
    """
    session = session if session is not None else make_session()
    pass_ = pass_ if pass_ is not None else make_pass()
    owner = owner if owner is not None else make_user()
    meta = session["metadata"]
    created = datetime.fromtimestamp(session["created"], tz=UTC)
    processed = processed_at or created + timedelta(seconds=3)
    intent = session["payment_intent"]
    intent_id = intent["id"] if isinstance(intent, Mapping) else intent
    total = session.get("amount_total")
    doc: JSON = {
        "_id": "sub" + str(session["id"]).rsplit("_", 1)[-1],
        "_type": "subscription",
        "_createdAt": iso(processed),
        "_rev": "rev-" + str(session["id"])[-6:],
        "user": ref(str(owner["_id"])),
        "tenant": ref(str(meta["tenantId"])),
        "type": _WEBHOOK_TYPES[str(pass_["type"])],
        "startDate": iso(created),
        "endDate": iso(webhook_end(pass_, processed)),
        "passId": pass_["_id"],
        "passName": pass_["name"],
        "purchasePrice": total / 100 if total else pass_["price"],
        "originalPrice": float(meta.get("originalPrice", pass_["price"])),
        "finalPrice": float(meta.get("finalPrice", (total or 0) / 100)),
        "discountAmount": float(meta.get("discountAmount") or 0),
        "promoCode": meta.get("promoCode") or None,
        "stripePaymentId": intent_id,
        "stripeSessionId": session["id"],
        "webhookEventId": "evt_" + str(session["id"]).rsplit("_", 1)[-1],
        "isActive": True,
        "createdViaWebhook": True,
    }
    if pass_["type"] == "single":
        doc["remainingClips"] = 1
    elif pass_["type"] in ("multi", "multi-pass"):
        doc["remainingClips"] = pass_.get("classesLimit")
    return _merge(doc, overrides)


def make_manual_subscription(**overrides: Any) -> JSON:
    """A hand-made pass as the operator scripts wrote it: placeholder Stripe ids (FM-41)."""
    doc: JSON = {
        "_id": "subManual0001",
        "_type": "subscription",
        "_createdAt": iso(BOUGHT + timedelta(days=1)),
        "_rev": "rev-manual",
        "user": ref(USER_ID),
        "tenant": ref(TENANT_ID),
        "type": "clipcard",
        "startDate": iso(BOUGHT),
        "endDate": iso(BOUGHT + timedelta(days=90)),
        "passId": PASS_ID,
        "passName": "10 Clip Card",
        "purchasePrice": 2000,
        "remainingClips": 10,
        "isActive": True,
        "stripePaymentId": "manual_creation_oct13_1760300000",
        "stripeSessionId": "manual_session_oct13_1760300000",
        "manuallyCreated": True,
        "manualCreationReason": "customer paid but no pass",
    }
    return _merge(doc, overrides)


def make_class_instance(bookings: Iterable[Any], **overrides: Any) -> JSON:
    """A `classInstance` with bookings inside it (each booking consumed a clip)."""
    doc: JSON = {
        "_id": "instance-0001",
        "_type": "classInstance",
        "date": iso(NOW - timedelta(days=1)),
        "isCancelled": False,
        "bookings": copy.deepcopy(list(bookings)),
        "tenant": ref(TENANT_ID),
    }
    return _merge(doc, overrides)


def make_booking(
    *, student: str = USER_ID, booking_type: str = "clipcard", at: datetime | None = None
) -> JSON:
    """One booking inside a class instance."""
    return {
        "_key": f"bk{student[-4:]}{epoch(at or NOW)}",
        "student": ref(student),
        "bookingType": booking_type,
        "bookingTime": iso(at or NOW - timedelta(days=1)),
        "tenant": ref(TENANT_ID),
    }


# ------------------------------------------------------------------------------------ Stripe


def make_account(*, account: str = ACCOUNT_ID, **overrides: Any) -> JSON:
    """A connected account the platform key can read."""
    doc: JSON = {
        "id": account,
        "object": "account",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "default_currency": "nok",
        "country": "NO",
    }
    return _merge(doc, overrides)


def ids_for(n: int) -> tuple[str, str, str]:
    """Session, PaymentIntent and Charge ids of purchase number `n` (real-looking ids)."""
    suffix = f"Purchase{n:04d}"
    return f"cs_test_{suffix}", f"pi_test_{suffix}", f"ch_test_{suffix}"


def make_session(
    n: int = 1,
    *,
    pass_: Mapping[str, Any] | None = None,
    clerk_id: str = CLERK_ID,
    tenant: str = TENANT_ID,
    account: str | None = ACCOUNT_ID,
    created: datetime = BOUGHT,
    amount: int | None = None,
    meta: Mapping[str, Any] | None = None,
    expand: bool = False,
    refunded: bool = False,
    amount_refunded: int | None = None,
    disputed: bool = False,
    **overrides: Any,
) -> JSON:
    """A paid `pass_purchase` Checkout Session on a connected account (domain.md §2.1).

    Args:
        n: which purchase; gives distinct, real-looking ids.
        pass_: the pass bought (default: the default pass).
        amount: `amount_total` in minor units (default: the pass price × 100).
        meta: metadata keys to add, replace, or `DROP`.
        expand: give `payment_intent` expanded with its `latest_charge`, as a list call with
            `expand[]=data.payment_intent.latest_charge` answers; implied by the refund and
            dispute flags.
        refunded, amount_refunded, disputed: the latest charge's state.
        overrides: top-level keys of the session.
    """
    pass_ = pass_ if pass_ is not None else make_pass()
    sid, pid, cid = ids_for(n)
    price = pass_.get("price")
    total = amount if amount is not None else round(float(price or 0) * 100)
    metadata: JSON = {
        "type": "pass_purchase",
        "passId": pass_["_id"],
        "passType": pass_.get("type"),
        "userId": clerk_id,
        "tenantId": tenant,
        "tenantSlug": tenant.removeprefix("tenant-"),
        "originalPrice": str(price),
        "finalPrice": str(total / 100 if total % 100 else total // 100),
        "discountAmount": "0",
    }
    metadata = _merge(metadata, meta or {})
    session: JSON = {
        "id": sid,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "created": epoch(created),
        "expires_at": epoch(created + timedelta(days=1)),
        "currency": "nok",
        "customer": None,
        "customer_email": None,
        "client_reference_id": None,
        "customer_details": {"email": EMAIL, "name": "Kari Nordmann", "phone": None},
        "livemode": False,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": pid,
        "payment_status": "paid",
        "status": "complete",
        "success_url": "https://dance.example/aurora/payment/success",
        "url": None,
    }
    if account is not None:
        session["account"] = account  # world-format's sandbox-only owner key
    if expand or refunded or disputed or amount_refunded is not None:
        charge = {
            "id": cid,
            "object": "charge",
            "amount": total,
            "amount_captured": total,
            "amount_refunded": amount_refunded
            if amount_refunded is not None
            else (total if refunded else 0),
            "refunded": refunded,
            "disputed": disputed,
            "paid": True,
            "captured": True,
            "status": "succeeded",
            "payment_intent": pid,
            "currency": "nok",
            "created": epoch(created),
            "livemode": False,
        }
        session["payment_intent"] = {
            "id": pid,
            "object": "payment_intent",
            "amount": total,
            "amount_received": total,
            "currency": "nok",
            "status": "succeeded",
            "latest_charge": charge,
            "created": epoch(created),
            "livemode": False,
            "metadata": {},
        }
    return _merge(session, overrides)


def make_upgrade_session(
    n: int,
    *,
    old: Mapping[str, Any],
    old_pass: Mapping[str, Any],
    new_pass: Mapping[str, Any],
    **kw: Any,
) -> JSON:
    """A paid `pass_upgrade` session: the price difference, charged for the new pass (§2.1.7)."""
    cost = max(0.0, float(new_pass["price"]) - float(old_pass["price"]))
    charged = cost if cost > 0 else 1.0  # the 1 NOK "minimal processing fee" (FM-52)
    meta: JSON = {
        "type": "pass_upgrade",
        "upgradeFromSubscriptionId": old["_id"],
        "isUpgrade": "true",
        "originalPassPrice": str(old_pass["price"]),
        "newPassPrice": str(new_pass["price"]),
        "upgradeCost": str(int(cost) if cost == int(cost) else cost),
        "originalPrice": DROP,
        "finalPrice": DROP,
        "discountAmount": DROP,
        **kw.pop("meta", {}),
    }
    return make_session(n, pass_=new_pass, amount=round(charged * 100), meta=meta, **kw)


# ------------------------------------------------------------------------------------- Clerk


def make_clerk_user(*, clerk_id: str = CLERK_ID, email: str = EMAIL, **overrides: Any) -> JSON:
    """A Clerk user as `GET /v1/users` returns it."""
    email_id = "idn_" + clerk_id.removeprefix("user_")
    doc: JSON = {
        "id": clerk_id,
        "object": "user",
        "first_name": "Kari",
        "last_name": "Nordmann",
        "primary_email_address_id": email_id,
        "email_addresses": [
            {"id": email_id, "object": "email_address", "email_address": email},
        ],
        "created_at": 1778572800000,
    }
    return _merge(doc, overrides)


# ------------------------------------------------------------------------------------- World


@dataclass
class World:
    """One state of Stripe, Sanity and Clerk; reconciled through the core's own snapshot reader.

    Sessions are kept as the API returns them (possibly expanded); `world_json` stores them the
    way world-format.md does, with PaymentIntents and Charges in their own lists.
    """

    documents: list[JSON] = field(default_factory=list)
    sessions: list[JSON] = field(default_factory=list)
    accounts: list[JSON] = field(default_factory=list)
    clerk_users: list[JSON] = field(default_factory=list)

    @classmethod
    def default(cls) -> World:
        """One school with a readable account, a 10-clip pass, and one customer."""
        return cls(
            documents=[make_tenant(), make_pass(), make_user()],
            accounts=[make_account()],
            clerk_users=[make_clerk_user()],
        )

    @classmethod
    def empty(cls) -> World:
        """Nothing at all."""
        return cls()

    # ------------------------------------------------------------------ building

    def add(self, *docs: JSON) -> World:
        """Add Sanity documents."""
        self.documents.extend(docs)
        return self

    def add_session(self, *sessions: JSON) -> World:
        """Add Checkout Sessions."""
        self.sessions.extend(sessions)
        return self

    def doc(self, doc_id: str) -> JSON:
        """The document with this `_id`."""
        for doc in self.documents:
            if doc.get("_id") == doc_id:
                return doc
        raise KeyError(doc_id)

    def replace(self, doc_id: str, **overrides: Any) -> JSON:
        """Replace fields of a stored document (DROP removes one)."""
        for i, doc in enumerate(self.documents):
            if doc.get("_id") == doc_id:
                self.documents[i] = _merge(doc, overrides)
                return self.documents[i]
        raise KeyError(doc_id)

    def buy(self, n: int = 1, **kw: Any) -> JSON:
        """A paid purchase of (by default) the default pass, added to the world."""
        session = make_session(n, **kw)
        self.add_session(session)
        return session

    def fulfil(self, session: JSON, **overrides: Any) -> JSON:
        """The webhook's subscription for `session`, added to the world."""
        meta = session["metadata"]
        pass_ = self.doc(meta["passId"])
        user = next(
            (
                d
                for d in self.documents
                if d.get("_type") == "user" and d.get("clerkId") == meta["userId"]
            ),
            None,
        )
        assert user is not None, f"no user with clerkId {meta['userId']}"
        doc = make_subscription(session, pass_=pass_, owner=user, **overrides)
        self.add(doc)
        return doc

    # ------------------------------------------------------------------ reading

    def world_json(self, *, now: datetime = NOW) -> JSON:
        """The world document (world-format.md) this state is."""
        sessions: list[JSON] = []
        intents: list[JSON] = []
        charges: list[JSON] = []
        for raw in self.sessions:
            session = copy.deepcopy(raw)
            intent = session.get("payment_intent")
            if isinstance(intent, dict):
                charge = intent.get("latest_charge")
                if isinstance(charge, dict):
                    charges.append({**charge, "account": session.get("account")})
                    intent["latest_charge"] = charge["id"]
                intents.append({**intent, "account": session.get("account")})
                session["payment_intent"] = intent["id"]
            sessions.append(session)
        return {
            "now": iso(now),
            "stripe": {
                "platform_account": "acct_platform0000",
                "livemode": False,
                "accounts": copy.deepcopy(self.accounts),
                "checkout_sessions": sessions,
                "payment_intents": intents,
                "charges": charges,
                "events": [],
                "webhook_endpoints": [],
            },
            "sanity": {
                "project_id": "demo123",
                "dataset": "test",
                "documents": copy.deepcopy(self.documents),
            },
            "clerk": {"users": copy.deepcopy(self.clerk_users)},
        }

    def facts(self) -> Facts:
        """The facts a reconciliation reads from this world."""
        return facts_from_world(self.world_json())[0]

    def clerk(self) -> list[ClerkUser]:
        """The Clerk users, parsed."""
        return facts_from_world(self.world_json())[1]

    def run(
        self,
        *,
        now: datetime = NOW,
        window: Window = WINDOW,
        actor: str | None = ACTOR,
        **kw: Any,
    ) -> ReconcileReport:
        """`reconcile` at a fixed clock, with the never-do rules checked on the result."""
        facts = self.facts()
        report = reconcile(facts, now=now, window=window, actor=actor, **kw)
        check_never_do(report.findings, facts)
        return report

    def diagnose(self, email: str = EMAIL, *, now: datetime = NOW) -> Diagnosis:
        """`diagnose` at a fixed clock, with the never-do rules checked on the result."""
        facts, clerk = facts_from_world(self.world_json())
        result = diagnose(email, facts, clerk_users=clerk, now=now, window=WINDOW, actor=ACTOR)
        check_never_do(result.findings, facts)
        return result

    def apply(self, operations: Iterable[Operation]) -> None:
        """Apply a fix as Sanity would: `createIfNotExists`, and `patch` with `set`."""
        for op in operations:
            if isinstance(op, CreateDoc):
                if not any(d.get("_id") == op.id for d in self.documents):
                    self.documents.append(copy.deepcopy(op.document))
            else:
                self.replace(op.id, **copy.deepcopy(op.set))


# ---------------------------------------------------------------------------- reading reports


def purchase_of(report: ReconcileReport, session: Mapping[str, Any] | str) -> Purchase:
    """The verdict on one session."""
    sid = session if isinstance(session, str) else session["id"]
    found = [p for p in report.purchases if p.session.id == sid]
    assert len(found) == 1, f"{sid} judged {len(found)} times"
    return found[0]


def kinds(findings: Iterable[Finding]) -> list[str]:
    """The kinds of the findings, in order."""
    return [f.kind.value for f in findings]


def only(findings: Iterable[Finding], kind: Kind | str) -> Finding:
    """The one finding of this kind."""
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, f"expected one {kind}, got {kinds(findings)}"
    return found[0]


def patch_set(fix: Fix | None, doc_id: str | None = None) -> JSON:
    """The fields a fix sets on one document (the first patch when `doc_id` is None)."""
    assert fix is not None, "no fix offered"
    for op in fix.operations:
        if isinstance(op, PatchDoc) and (doc_id is None or op.id == doc_id):
            return op.set
    raise AssertionError(f"no patch of {doc_id} in {fix.operations}")


def created_doc(fix: Fix | None) -> JSON:
    """The document a fix creates."""
    assert fix is not None, "no fix offered"
    docs = [op.document for op in fix.operations if isinstance(op, CreateDoc)]
    assert len(docs) == 1, fix.operations
    return docs[0]


# ---------------------------------------------------------------------------- never-do rules

#: Kinds that never come with a fix (cli-contract.md, "the fix it may offer": none).
NEVER_FIXED: Final = frozenset(
    {
        Kind.UNPAID_PASS,
        Kind.REFUNDED_PASS,
        Kind.BROKEN_REFERENCE,
        Kind.PASS_CONFIG,
        Kind.UNRESOLVABLE_PURCHASE,
        Kind.ACCOUNT_UNREACHABLE,
    }
)


def check_never_do(findings: Iterable[Finding], facts: Facts) -> None:
    """The rules of domain.md §7.8 and the contract, on every operation any fix proposes.

    * a finding without a fix says why (`why_no_fix`), and the "none" kinds never have one;
    * only creates and patches exist (no delete), and they touch only subscriptions;
    * a create is `subscription-<session>`, for a paid session that was read, on the tenant of
      the pass bought (never defaulted), marked `createdVia: passbot` with its approver;
    * a patch never re-points `user` or `tenant`: it may only fill one that is absent.
    """
    paid = {s.id: s for s in facts.sessions if s.is_paid}
    passes = {p.id: p for p in facts.passes}
    subs = {s.id: s for s in facts.subscriptions}
    for finding in findings:
        if finding.fix is None:
            assert finding.why_no_fix, f"{finding.kind} without fix or reason: {finding.summary}"
            continue
        assert finding.kind not in NEVER_FIXED, f"{finding.kind} must not offer a fix"
        op_lists = [finding.fix.operations, *(a.operations for a in finding.fix.alternatives)]
        for ops in op_lists:
            assert ops, "a fix with no operations"
            for op in ops:
                assert isinstance(op, CreateDoc | PatchDoc), f"unknown operation {op!r}"
                if isinstance(op, CreateDoc):
                    _check_create(op.document, paid, passes)
                else:
                    _check_patch(op, subs)


def _check_create(doc: JSON, paid: Mapping[str, Any], passes: Mapping[str, Any]) -> None:
    session_id = doc.get("stripeSessionId")
    assert session_id in paid, f"create without a paid session: {session_id}"
    assert doc["_id"] == f"subscription-{session_id}"
    assert doc["_type"] == "subscription"
    assert doc["createdVia"] == "passbot"
    assert "approvedAt" in doc
    assert "approvedBy" in doc
    pass_ = passes[str(doc["passId"])]
    assert pass_.tenant_id, "created for a pass with no tenant"
    assert doc["tenant"] == {"_type": "reference", "_ref": pass_.tenant_id}, "tenant defaulted"
    assert doc["stripePaymentId"] == paid[str(session_id)].payment_intent


def _check_patch(op: PatchDoc, subs: Mapping[str, Any]) -> None:
    assert op.id in subs, f"patch of a document that is not a subscription: {op.id}"
    sub = subs[op.id]
    assert "_id" not in op.set
    assert "_type" not in op.set
    if "user" in op.set:
        assert sub.user_ref is None, f"re-points user of {op.id} from {sub.user_ref}"
    if "tenant" in op.set:
        assert sub.tenant_ref is None, f"re-points tenant of {op.id} from {sub.tenant_ref}"
