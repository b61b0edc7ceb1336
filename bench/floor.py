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
* the active-subscription pages of the audit, 10,000 a page, one after another.

What it does not do: build models, judge purchases, write anything. It reads each body and
decodes the Stripe pages with orjson (the cursor and the page's ids are in them) and the
Sanity answers about pages (the buyers' user ids, which later queries name) — the least work a
client that sends these requests can do.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from core.adapters.sanity_queries import ACTIVE_PAGE_QUERY, CATALOGUE_QUERY, RELATED_QUERY

#: passbot's `core.adapters.stripe.SESSION_EXPAND` (a test keeps them equal; importing the
#: adapter would load stripe-python, which the floor does not use).
EXPAND = ["data.payment_intent", "data.payment_intent.latest_charge", "data.line_items"]
AUDIT_PAGE = 10000


def _instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def _ids(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))


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
            page = orjson.loads(answer.content)
            items = page.get("data") or []
            if pending is not None:
                await pending
                pending = None
            if items:
                self.sessions += len(items)
                pending = asyncio.create_task(self.related(items))
            if not page.get("has_more") or not items:
                break
            params["starting_after"] = items[-1]["id"]
        if pending is not None:
            await pending

    async def related(self, items: list[dict[str, Any]]) -> bytes:
        payments: set[str] = set()
        clerk: set[str] = set()
        for s in items:
            intent = s.get("payment_intent")
            if isinstance(intent, dict):
                payments.add(intent.get("id") or "")
                charge = intent.get("latest_charge")
                payments.add((charge.get("id") if isinstance(charge, dict) else charge) or "")
            elif intent:
                payments.add(intent)
            meta = s.get("metadata") or {}
            clerk.add(meta.get("userId") or s.get("client_reference_id") or "")
        buyers = _ids(sorted(c for c in clerk if c))
        new = [c for c in buyers if c not in self.asked]
        self.asked.update(new)
        known: dict[str, None] = {}
        for c in buyers:
            if c not in new:
                known[c] = None
                known.update(dict.fromkeys(self.users_of.get(c, ())))
        params = {
            "sessionIds": _ids(s.get("id") for s in items),
            "paymentIds": _ids(sorted(p for p in payments if p)),
            "clerkIds": new,
            "knownRefs": list(known),
        }
        body = await self.query(RELATED_QUERY, params)
        for user in orjson.loads(body)["result"]["users"]:
            for key in {user.get("_id"), user.get("clerkId")}:
                if key:
                    self.users_of.setdefault(key, set()).add(user["_id"])
        return body

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
        after = ""
        while True:
            body = await self.query(
                ACTIVE_PAGE_QUERY, {"now": _iso(self.now), "after": after, "size": AUDIT_PAGE}
            )
            page = orjson.loads(body)["result"]
            if len(page) < AUDIT_PAGE:
                break
            after = page[-1]["_id"]

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
