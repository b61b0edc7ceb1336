"""The platform scripts' way, for comparison: list each account's sessions, then one Sanity
query per paid pass session (`CMS/diagnose-missing-passes.mjs` does this, per session). Reads
the same settings as passbot; prints `{"missing": N}`. Run by bench.reconcile."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

import stripe

from bot.settings import Settings
from core.adapters.sanity import make_sanity_client
from core.adapters.stripe import StripePayments, make_stripe_client, stripe_mode

QUERY = (
    '*[_type == "subscription" && (stripeSessionId == $sessionId'
    " || stripePaymentId == $paymentId)][0]{_id}"
)


async def run(settings: Settings) -> int:
    """Count paid pass sessions with no subscription, one Sanity query per session."""
    assert settings.stripe_api_key is not None
    assert settings.sanity_api_token is not None
    assert settings.sanity_host is not None
    assert settings.passbot_now is not None
    key = settings.stripe_api_key.get_secret_value()
    http = stripe.HTTPXClient()
    payments = StripePayments(
        make_stripe_client(key, api_base=settings.stripe_api_base, http_client=http),
        mode=stripe_mode(key),
    )
    sanity = make_sanity_client(settings.sanity_host, settings.sanity_api_token.get_secret_value())
    path = f"/{settings.sanity_api_version}/data/query/{settings.sanity_dataset}"
    catalogue = (await sanity.post(path, json={"query": '*[_type == "tenant"]'})).json()
    accounts = [t["stripeConnect"]["accountId"] for t in catalogue["result"]]
    until = settings.passbot_now
    since = until - timedelta(days=settings.passbot_lookback_days)
    limit = asyncio.Semaphore(settings.passbot_concurrency)
    missing = 0

    async def one(session_id: str, payment_id: str | None) -> None:
        nonlocal missing
        async with limit:
            answer = await sanity.post(
                path,
                json={"query": QUERY, "params": {"sessionId": session_id, "paymentId": payment_id}},
            )
            answer.raise_for_status()
            missing += answer.json()["result"] is None

    async def scan(account: str | None) -> None:
        async with limit:
            pages = [p async for p in payments.session_pages(account, since=since, until=until)]
        await asyncio.gather(
            *(
                one(s.id, s.payment_intent)
                for page in pages
                for s in page
                if s.is_paid and s.is_pass_session
            )
        )

    try:
        await asyncio.gather(*(scan(a) for a in [*accounts, None]))
    finally:
        await sanity.aclose()
        await http.close_async()  # type: ignore[no-untyped-call]
    return missing


def main() -> int:
    """Entry point."""
    missing = asyncio.run(run(Settings()))
    sys.stdout.write(json.dumps({"missing": missing}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
