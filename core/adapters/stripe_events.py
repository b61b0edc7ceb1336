"""Stripe's Events API read forward from a cursor (the `EventFeed` port), and the verification
of Stripe's webhook signatures — both through stripe-python.

`new_events` asks for the watched types with one request per account while nothing happens:
`ending_before=<cursor>` returns the events just newer than the cursor, newest first; while
`has_more`, the next page is the one newer than the newest seen. Without a cursor (or when
Stripe no longer has that event: it keeps 30 days) it lists by `created[gte]` instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import stripe
from stripe.params import EventListParams

from core.adapters.retry import DEFAULT_RETRY, RetryPolicy
from core.adapters.stripe import MAX_PAGE, StripePayments, _options, _read
from core.domain.models import JSON
from core.errors import UpstreamError

#: Stripe's default tolerance for a signature's timestamp (seconds).
SIGNATURE_TOLERANCE = 300


class StripeEventFeed:
    """Events per account, oldest first, after a cursor."""

    def __init__(self, client: stripe.StripeClient, *, retry: RetryPolicy = DEFAULT_RETRY):
        self._client = client
        self._retry = retry

    @classmethod
    def of(cls, payments: StripePayments) -> StripeEventFeed:
        """A feed over the same client (key, base, HTTP pool) as the payments adapter."""
        return cls(payments._client, retry=payments._retry)

    async def new_events(
        self, account: str | None, *, types: Sequence[str], after: str | None, since: datetime
    ) -> list[JSON]:
        """Events of `types` newer than `after` (else created at or after `since`), oldest
        first.

        Raises:
            UpstreamError: the account's events could not be read.
        """
        if after is not None:
            try:
                return await self._forward(account, types, after)
            except UpstreamError as err:
                cause = err.__cause__
                if not (
                    isinstance(cause, stripe.InvalidRequestError)
                    and cause.code == "resource_missing"
                ):
                    raise
        return await self._since(account, types, since)

    async def _page(
        self, account: str | None, params: EventListParams
    ) -> stripe.ListObject[stripe.Event]:
        return await _read(
            lambda: self._client.v1.events.list_async(params, _options(account)),
            policy=self._retry,
            action="listing events",
            account=account,
        )

    async def _forward(self, account: str | None, types: Sequence[str], after: str) -> list[JSON]:
        out: list[JSON] = []
        cursor = after
        while True:
            params: EventListParams = {
                "types": list(types),
                "limit": MAX_PAGE,
                "ending_before": cursor,
            }
            page = await self._page(account, params)
            items = [item.to_dict() for item in page.data]
            out += reversed(items)
            if not page.has_more or not items:
                return out
            cursor = str(items[0]["id"])

    async def _since(
        self, account: str | None, types: Sequence[str], since: datetime
    ) -> list[JSON]:
        out: list[JSON] = []
        params: EventListParams = {
            "types": list(types),
            "created": {"gte": math.floor(since.timestamp())},
            "limit": MAX_PAGE,
        }
        while True:
            page = await self._page(account, params)
            items = [item.to_dict() for item in page.data]
            out += items
            if not page.has_more or not items:
                out.reverse()
                return out
            params["starting_after"] = str(items[-1]["id"])


class SignatureError(ValueError):
    """A webhook request whose `Stripe-Signature` does not verify (or whose body is not an
    event); the message is safe to log."""


def verify_webhook(
    payload: bytes, header: str | None, secret: str, *, tolerance: int = SIGNATURE_TOLERANCE
) -> JSON:
    """The event of a webhook request, after Stripe's own signature check (HMAC-SHA256 of
    `"<t>.<payload>"` with the endpoint's secret, timestamp within `tolerance` seconds).

    Raises:
        SignatureError: no header, a bad or stale signature, or a body that is not an event.
    """
    if not header:
        raise SignatureError("no Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, header, secret, tolerance)
    except stripe.SignatureVerificationError as err:
        raise SignatureError(f"the signature does not verify: {err.user_message or err}") from None
    except ValueError:
        raise SignatureError("the body is not a Stripe event") from None
    body: JSON = event.to_dict()
    return body
