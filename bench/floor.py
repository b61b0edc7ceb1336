"""The network floor of `passbot check`: the same requests with the same concurrency, and
nothing else. Run by bench.reconcile in a child process, beside passbot, against the same
sandbox; prints `{"sessions": N, "requests": {...}}`.

What it sends, exactly as passbot does (same URLs, parameters, headers that matter, GROQ text
and params):

* the catalogue query (tenants and passes), once;
* per Stripe account (every tenant's connected account, then the platform's), at most
  `PASSBOT_CONCURRENCY` accounts at once: the Checkout Session pages of the lookback, 100 a
  page with the payment intent, its charge and the line items expanded, one after another
  (Stripe's cursor makes them sequential), and for each page the Sanity query for its
  purchases' subscriptions and users — naming only the buyers no earlier page named — sent as
  soon as the page is read, while the next page is fetched: the order passbot uses
  (core/usecases/check.py, core/usecases/reading.py, core/usecases/buyers.py);
* the active-subscription pages of the audit, 10,000 a page, one after another: each pass's
  `_id` and `_rev` with its user, then, in one query, the passes passbot has not read at that
  revision during the run (it remembers the last 20,000 subscription documents it read, as
  `Revisions` does here: core/adapters/memo.py, core/adapters/sanity.py).

What it does not do: build models, judge purchases, write anything. It reads each body and
decodes only what the next request needs, with msgspec into structs of those fields alone
(everything else in the JSON is skipped unbuilt): of a Stripe page, its sessions' ids, payment
and charge ids and buyers, and `has_more`; of a page's Sanity answer, its users' ids and Clerk
ids (later queries name them) and its subscriptions' `_id`s and `_rev`s (the audit asks again
for those it has not seen); of an audit page, its passes' `_id`s and `_rev`s. That is the least
work a client
that sends these requests can do. (It decoded whole answers with orjson until passbot itself
decoded Stripe pages narrowly: at 10k that alone cost the floor about 1 s of CPU, so it was no
floor for the CPU.) A body outside those shapes is decoded whole, the tolerant way.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import msgspec
import orjson

from core.adapters.sanity_queries import (
    ACTIVE_BY_ID_CHUNK,
    ACTIVE_BY_ID_QUERY,
    ACTIVE_REVISIONS_QUERY,
    CATALOGUE_QUERY,
    RELATED_QUERY,
)

#: passbot's `core.adapters.stripe.SESSION_EXPAND` (a test keeps them equal; importing the
#: adapter would load stripe-python, which the floor does not use).
EXPAND = ["data.payment_intent", "data.payment_intent.latest_charge", "data.line_items"]
AUDIT_PAGE = 10000
#: How many subscription documents passbot remembers (`ModelMemo`'s default limit; a test keeps
#: them equal).
MEMO_LIMIT = 20000


def _instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def _ids(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))


# The fields the floor reads, and nothing more (msgspec skips the rest of the JSON unbuilt).
class _Charge(msgspec.Struct, gc=False):
    id: str | None = None


class _Intent(msgspec.Struct, gc=False):
    id: str | None = None
    latest_charge: str | _Charge | None = None


class _Metadata(msgspec.Struct, gc=False):
    userId: str | None = None  # noqa: N815 - Stripe's field


class _Session(msgspec.Struct, gc=False):
    id: str | None = None
    payment_intent: str | _Intent | None = None
    metadata: _Metadata | None = None
    client_reference_id: str | None = None


class _Page(msgspec.Struct, gc=False):
    data: list[_Session] = []
    has_more: bool = False


class _User(msgspec.Struct, gc=False):
    _id: str | None = msgspec.field(default=None, name="_id")
    clerkId: str | None = None  # noqa: N815 - the platform's field


class _Doc(msgspec.Struct, gc=False):
    _id: str | None = msgspec.field(default=None, name="_id")
    _rev: str | None = msgspec.field(default=None, name="_rev")


class _Related(msgspec.Struct, gc=False):
    users: list[_User] = []
    subscriptions: list[_Doc] = []


class _RelatedAnswer(msgspec.Struct, gc=False):
    result: _Related


class _AuditAnswer(msgspec.Struct, gc=False):
    result: list[_Doc]


_PAGE = msgspec.json.Decoder(_Page)
_RELATED = msgspec.json.Decoder(_RelatedAnswer)
_AUDIT = msgspec.json.Decoder(_AuditAnswer)


class Purchase(NamedTuple):
    """What the floor takes from one session: its id, payment ids and buyer."""

    session: str
    payments: tuple[str, ...]
    buyer: str


def read_page(body: bytes) -> tuple[list[Purchase], bool]:
    """A Stripe page's purchases and `has_more`."""
    try:
        page = _PAGE.decode(body)
    except msgspec.ValidationError:
        return _read_page_whole(orjson.loads(body))
    purchases = []
    for s in page.data:
        payments: tuple[str, ...] = ()
        intent = s.payment_intent
        if isinstance(intent, _Intent):
            charge = intent.latest_charge
            charge_id = charge.id if isinstance(charge, _Charge) else charge
            payments = (intent.id or "", charge_id or "")
        elif intent:
            payments = (intent,)
        buyer = (s.metadata.userId if s.metadata else None) or s.client_reference_id or ""
        purchases.append(Purchase(s.id or "", payments, buyer))
    return purchases, page.has_more


def _read_page_whole(page: Any) -> tuple[list[Purchase], bool]:
    purchases = []
    for s in page.get("data") or []:
        payments: tuple[str, ...] = ()
        intent = s.get("payment_intent")
        if isinstance(intent, dict):
            charge = intent.get("latest_charge")
            charge_id = charge.get("id") if isinstance(charge, dict) else charge
            payments = (intent.get("id") or "", charge_id or "")
        elif intent:
            payments = (intent,)
        meta = s.get("metadata") or {}
        buyer = meta.get("userId") or s.get("client_reference_id") or ""
        purchases.append(Purchase(s.get("id") or "", payments, buyer))
    return purchases, bool(page.get("has_more"))


Revision = tuple[str | None, str | None]


def _revision(doc: Any) -> Revision:
    key, rev = doc.get("_id"), doc.get("_rev")
    return (key if isinstance(key, str) else None, rev if isinstance(rev, str) else None)


def read_related(body: bytes) -> tuple[list[tuple[str, str | None]], list[Revision]]:
    """The `_id` and `clerkId` of the users in a page's Sanity answer, and the `_id` and `_rev`
    of its subscriptions."""
    try:
        result = _RELATED.decode(body).result
        users = [(u._id, u.clerkId) for u in result.users if u._id]
        return users, [(d._id, d._rev) for d in result.subscriptions]
    except msgspec.ValidationError:
        whole = orjson.loads(body)["result"]
        users = [
            (u["_id"], u.get("clerkId")) for u in whole["users"] if isinstance(u.get("_id"), str)
        ]
        return users, [_revision(d) for d in whole["subscriptions"]]


def read_revisions(body: bytes) -> list[Revision]:
    """The `_id` and `_rev` of each pass in an answer (an audit page, the passes asked for)."""
    try:
        return [(d._id, d._rev) for d in _AUDIT.decode(body).result]
    except msgspec.ValidationError:
        return [_revision(d) for d in orjson.loads(body)["result"]]


class Revisions:
    """passbot's memo of subscription models (core.adapters.memo.ModelMemo), reduced to what
    decides the audit's requests: the revision each of the last MEMO_LIMIT subscriptions read was
    read at, touched in the order passbot touches its memo."""

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self.limit = limit
        self.items: dict[str, str | None] = {}

    def read(self, key: str | None, rev: str | None) -> None:
        """A whole document was read (`ModelMemo.__call__`)."""
        if key is None:
            return
        had = key in self.items
        known = self.items.pop(key, None)
        if had and rev is not None and known == rev:
            self.items[key] = known
            return
        if len(self.items) >= self.limit:
            del self.items[next(iter(self.items))]
        self.items[key] = rev

    def known(self, key: str, rev: str | None) -> bool:
        """Whether `key` was read at `rev` (`ModelMemo.known`)."""
        if rev is None or self.items.get(key) != rev:
            return False
        self.items[key] = self.items.pop(key)
        return True


class Floor:
    """The requests of one `passbot check`, counted."""

    def __init__(self, env: dict[str, str]) -> None:
        self.now = _instant(env["PASSBOT_NOW"]) if env.get("PASSBOT_NOW") else datetime.now(UTC)
        days = int(env.get("PASSBOT_LOOKBACK_DAYS", "35"))
        self.since = self.now - timedelta(days=days)
        self.concurrency = max(1, int(env.get("PASSBOT_CONCURRENCY", "8")))
        host = env.get("SANITY_API_HOST") or f"https://{env['SANITY_PROJECT_ID']}.api.sanity.io"
        version = env.get("SANITY_API_VERSION", "v2025-02-19").removeprefix("v")
        self.query_path = f"/v{version}/data/query/{env.get('SANITY_DATASET', 'production')}"
        self.sanity = httpx.AsyncClient(
            base_url=host.rstrip("/"),
            headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"},
            timeout=60,
        )
        self.stripe = httpx.AsyncClient(
            base_url=env.get("STRIPE_API_BASE", "https://api.stripe.com"),
            headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"},
            timeout=60,
        )
        self.requests = {"stripe": 0, "sanity": 0}
        #: Buyers a page's query has named: later pages name only new ones, and leave out the
        #: linked subscriptions referencing the earlier ones (their ids and their users' ids,
        #: read from the answers), as passbot's `BuyerMemory` does (core/usecases/buyers.py).
        self.asked: set[str] = set()
        self.users_of: dict[str, set[str]] = {}
        self.revisions = Revisions()
        self.sessions = 0

    async def query(self, query: str, params: dict[str, Any]) -> bytes:
        self.requests["sanity"] += 1
        answer = await self.sanity.post(
            self.query_path,
            params={"perspective": "published", "returnQuery": "false"},
            json={"query": query, "params": params},
        )
        answer.raise_for_status()
        return answer.content

    async def account(self, account: str | None) -> None:
        params: dict[str, Any] = {
            "created[gte]": math.ceil(self.since.timestamp()),
            "created[lte]": math.floor(self.now.timestamp()),
            "limit": 100,
            "expand[]": EXPAND,
        }
        headers = {"Stripe-Account": account} if account else {}
        pending: asyncio.Task[bytes] | None = None
        while True:
            self.requests["stripe"] += 1
            answer = await self.stripe.get("/v1/checkout/sessions", params=params, headers=headers)
            answer.raise_for_status()
            items, has_more = read_page(answer.content)
            if pending is not None:
                await pending
                pending = None
            if items:
                self.sessions += len(items)
                pending = asyncio.create_task(self.related(items))
            if not has_more or not items:
                break
            params["starting_after"] = items[-1].session
        if pending is not None:
            await pending

    async def related(self, items: list[Purchase]) -> bytes:
        payments = {p for item in items for p in item.payments}
        clerk = {item.buyer for item in items}
        buyers = _ids(sorted(c for c in clerk if c))
        new = [c for c in buyers if c not in self.asked]
        self.asked.update(new)
        known: dict[str, None] = {}
        for c in buyers:
            if c not in new:
                known[c] = None
                known.update(dict.fromkeys(self.users_of.get(c, ())))
        params = {
            "sessionIds": _ids(item.session for item in items),
            "paymentIds": _ids(sorted(p for p in payments if p)),
            "clerkIds": new,
            "knownRefs": list(known),
        }
        body = await self.query(RELATED_QUERY, params)
        users, subscriptions = read_related(body)
        for user_id, clerk_id in users:
            for key in {user_id, clerk_id}:
                if key:
                    self.users_of.setdefault(key, set()).add(user_id)
        seen: set[str] = set()  # a subscription in both halves of the answer is read once
        for sub_id, rev in subscriptions:
            if sub_id is not None:
                if sub_id in seen:
                    continue
                seen.add(sub_id)
            self.revisions.read(sub_id, rev)
        return body

    async def audit(self) -> None:
        after = ""
        while True:
            rows = read_revisions(
                await self.query(
                    ACTIVE_REVISIONS_QUERY,
                    {"now": _iso(self.now), "after": after, "size": AUDIT_PAGE},
                )
            )
            missing = [k for k, rev in rows if k is not None and not self.revisions.known(k, rev)]
            fetched: dict[str | None, str | None] = {}
            for at in range(0, len(missing), ACTIVE_BY_ID_CHUNK):
                ids = missing[at : at + ACTIVE_BY_ID_CHUNK]
                body = await self.query(ACTIVE_BY_ID_QUERY, {"now": _iso(self.now), "ids": ids})
                fetched.update(read_revisions(body))
            for key in missing:
                if key in fetched:
                    self.revisions.read(key, fetched[key])
            if len(rows) < AUDIT_PAGE:
                return
            after = str(rows[-1][0])

    async def run(self) -> None:
        catalogue = orjson.loads(await self.query(CATALOGUE_QUERY, {}))["result"]
        accounts: list[str | None] = [
            t["stripeConnect"]["accountId"]
            for t in catalogue.get("tenants") or []
            if isinstance(t.get("stripeConnect"), dict) and t["stripeConnect"].get("accountId")
        ]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(account: str | None) -> None:
            async with gate:
                await self.account(account)

        await asyncio.gather(*(one(a) for a in [*accounts, None]))
        await self.audit()

    async def close(self) -> None:
        await self.sanity.aclose()
        await self.stripe.aclose()


async def _main() -> Floor:
    floor = Floor(dict(os.environ))
    try:
        await floor.run()
    finally:
        await floor.close()
    return floor


def main() -> int:
    """Entry point (bench.reconcile runs it in a child process)."""
    floor = asyncio.run(_main())
    sys.stdout.write(json.dumps({"sessions": floor.sessions, "requests": floor.requests}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
