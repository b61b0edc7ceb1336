"""StripePayments: the `PaymentsSource` port over stripe-python's `StripeClient` (async methods).

Read-only. A connected account is read with `stripe_account=` on each request (`None` is the
platform account, domain.md §2.2). Checkout Sessions are listed a page at a time — one request
per page of up to 100, with the PaymentIntent and its latest Charge expanded so that refunds
and disputes cost no further calls. Retries are passbot's one policy (core.adapters.retry: 429
honouring `Retry-After`, 409, 5xx, connection errors), so stripe-python's own are off
(`max_network_retries=0` in `make_stripe_client`). Every `stripe.StripeError`
leaves this module as an `UpstreamError("stripe", …)` whose message names what failed and the
account, never the key.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import stripe
from stripe.params import EventListParams, WebhookEndpointListParams
from stripe.params.checkout import SessionListParams

from core.adapters import wire
from core.adapters.retry import (
    DEFAULT_RETRY,
    RetryPolicy,
    Verdict,
    call_with_retry,
    parse_retry_after,
)
from core.adapters.stripe_pages import SessionPage, read_page
from core.domain.models import JSON, CheckoutSession
from core.errors import UpstreamError

T = TypeVar("T")

SERVICE = "stripe"
#: The line items are expanded so that a purchase whose pass is gone can name what was bought
#: (domain.md FM-43: "show the product name and price from the session line item").
SESSION_EXPAND = ["data.payment_intent", "data.payment_intent.latest_charge", "data.line_items"]
RETRIEVE_EXPAND = ["payment_intent", "payment_intent.latest_charge", "line_items"]
MAX_PAGE = 100
#: Seconds per Stripe request (stripe-python's default of 80 let a hung Stripe stall `check`).
STRIPE_TIMEOUT = 30.0

_KEY = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+")


def stripe_mode(api_key: str) -> Literal["live", "test"]:
    """`live` for a live secret or restricted key (`sk_live_…`, `rk_live_…`); else `test`."""
    return "live" if api_key.startswith(("sk_live_", "rk_live_")) else "test"


def make_stripe_client(
    api_key: str,
    *,
    api_base: str,
    max_network_retries: int = 0,
    timeout: float = STRIPE_TIMEOUT,
    http_client: stripe.HTTPClient | None = None,
) -> stripe.StripeClient:
    """A `StripeClient` on httpx with explicit retries.

    Args:
        api_key: `STRIPE_API_KEY` (a restricted read-only key is enough).
        api_base: `STRIPE_API_BASE`, e.g. `https://api.stripe.com`.
        max_network_retries: stripe-python's own retries; none, as passbot's policy retries.
        timeout: seconds per request (for the default HTTP client): Stripe's documented 30 s,
            not stripe-python's 80 s default.
        http_client: the HTTP client to use; by default a new `stripe.HTTPXClient()`, which the
            caller closes with `await client.close_async()` — pass your own to keep hold of it.
    """
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        http_client=http_client if http_client is not None else stripe.HTTPXClient(timeout=timeout),
        max_network_retries=max_network_retries,
    )


class StripePayments:
    """Checkout Sessions, events, webhook endpoints and accounts, read from Stripe."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        mode: str,
        page_size: int = MAX_PAGE,
        concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        """Args:
        client: the Stripe client (see `make_stripe_client`).
        mode: `live` or `test` (see `stripe_mode`).
        page_size: sessions per list request, at most 100.
        concurrency: the most accounts `find_session` asks at once.
        retry: how failed reads are retried.
        """
        self._client = client
        self._mode = mode
        self._page_size = max(1, min(page_size, MAX_PAGE))
        self._concurrency = max(1, concurrency)
        self._retry = retry

    @property
    def mode(self) -> str:
        """`live` or `test`."""
        return self._mode

    async def session_pages(
        self, account: str | None, *, since: datetime, until: datetime
    ) -> AsyncIterator[list[CheckoutSession]]:
        """Checkout Sessions created in [since, until], newest first, one list per request.

        Raises:
            UpstreamError: the account cannot be read (the message names it).
        """
        params: SessionListParams = {
            "created": {"gte": math.ceil(since.timestamp()), "lte": math.floor(until.timestamp())},
            "limit": self._page_size,
            "expand": list(SESSION_EXPAND),
        }
        while True:
            page = await _read(
                lambda: self._get_page("/v1/checkout/sessions", params, account),
                policy=self._retry,
                action="listing checkout sessions",
                account=account,
            )
            if page.sessions:
                yield page.sessions
            if not page.has_more or not page.sessions:
                return
            if page.last_id is None:  # no cursor: the last item had no id (as before, a KeyError)
                raise KeyError("id")
            params["starting_after"] = page.last_id

    async def _get_json(
        self, path: str, params: Mapping[str, Any], account: str | None
    ) -> dict[str, Any]:
        """GET a Stripe path as plain JSON, with stripe-python's auth, retries and errors.

        stripe-python would turn every object of a page into a `StripeObject` (and passbot back
        into a dict): with sessions expanded down to their charge that costs ~1 ms a session,
        which made the CPU, not the network, the pace of a scan (bench/fixpass.py). Its raw
        request still decodes each answer with `json.loads(object_pairs_hook=OrderedDict)`,
        the largest single cost of a 10k reconciliation (bench/reconcile.py). So the request is
        sent through stripe-python's own requestor and HTTP client (the same wire request,
        headers and retries), a success is decoded with orjson (core.adapters.wire), and
        anything else goes back to stripe-python to raise the same `StripeError` as ever.
        """
        rbody, rcode, rheaders = await self._send(path, params, account)
        data: object = None
        if 200 <= rcode < 300:
            try:
                data = wire.loads(rbody)
            except ValueError:
                data = None
        if data is None:  # an error, or no JSON: stripe-python raises its StripeError for it
            data = self._client._requestor._interpret_response(rbody, rcode, rheaders, "V1").data
        if not isinstance(data, dict):
            raise stripe.APIError("the answer is not a JSON object", http_status=rcode)
        return data

    async def _get_page(
        self, path: str, params: Mapping[str, Any], account: str | None
    ) -> SessionPage:
        """GET a list of Checkout Sessions, decoded by core.adapters.stripe_pages (msgspec into
        the fields read, else as `_get_json` and `CheckoutSession.from_json` would), with the
        same errors as `_get_json`."""
        rbody, rcode, rheaders = await self._send(path, params, account)
        if 200 <= rcode < 300:
            page = read_page(rbody, account)
            if page is not None:
                return page
        # An error, or no JSON object: stripe-python raises its StripeError for the first (and
        # for a body that is no JSON), `_get_json`'s APIError is raised for the rest.
        self._client._requestor._interpret_response(rbody, rcode, rheaders, "V1")
        raise stripe.APIError("the answer is not a JSON object", http_status=rcode)

    async def _send(
        self, path: str, params: Mapping[str, Any], account: str | None
    ) -> tuple[Any, int, Mapping[str, str]]:
        """Send a GET through stripe-python's requestor and HTTP client: its body (bytes),
        status and headers, whatever the status."""
        options = {"stripe_account": account} if account else {}
        requestor = self._client._requestor  # private, but stripe-python is pinned (pyproject)
        # What `request_raw_async` does, less its debug log line, which formats the whole body
        # (repr and logfmt of ~400 kB a page) whatever the log level.
        method, url, headers, post_data, retries, usage, _, _ = (
            requestor._args_for_request_with_retries(
                "get",
                path,
                dict(params),
                options,  # type: ignore[arg-type]
                base_address="api",
                api_mode="V1",
                usage=["raw_request", "async"],
            )
        )
        return await requestor._get_http_client().request_with_retries_async(
            method, url, headers, post_data, max_network_retries=retries, _usage=usage
        )

    async def find_session(
        self, session_id: str, *, accounts: Sequence[str | None]
    ) -> CheckoutSession | None:
        """The session with this id on whichever of `accounts` holds it, expanded like a page.

        Asks the accounts concurrently (at most `concurrency` at once); "no such session" on an
        account means it is not there.

        Raises:
            UpstreamError: no account holds it and at least one could not be asked.
        """
        gate = asyncio.Semaphore(self._concurrency)

        async def look(account: str | None) -> CheckoutSession | UpstreamError | None:
            async with gate:
                try:
                    obj = await _read(
                        lambda: self._get_json(
                            f"/v1/checkout/sessions/{quote(session_id, safe='')}",
                            {"expand": list(RETRIEVE_EXPAND)},
                            account,
                        ),
                        policy=self._retry,
                        action=f"looking up {session_id}",
                        account=account,
                    )
                except UpstreamError as err:
                    cause = err.__cause__
                    if (
                        isinstance(cause, stripe.InvalidRequestError)
                        and cause.http_status == 404
                        and cause.code in (None, "resource_missing")
                    ):
                        return None
                    return err
                return CheckoutSession.from_json(obj, account=account)

        outcomes = await asyncio.gather(*(look(a) for a in dict.fromkeys(accounts)))
        for outcome in outcomes:
            if isinstance(outcome, CheckoutSession):
                return outcome
        for outcome in outcomes:
            if isinstance(outcome, UpstreamError):
                raise outcome
        return None

    async def find_session_by_payment(
        self, payment_id: str, *, accounts: Sequence[str | None]
    ) -> CheckoutSession | None:
        """The session a PaymentIntent (`pi_…`) or Charge (`ch_…`, `py_…`) paid, on whichever of
        `accounts` holds it: per account, the charge (for its PaymentIntent) and then the
        sessions listed with `payment_intent=` — one or two requests, accounts concurrently.

        Raises:
            UpstreamError: no account holds it and at least one could not be asked.
        """
        gate = asyncio.Semaphore(self._concurrency)

        async def look(account: str | None) -> CheckoutSession | UpstreamError | None:
            async with gate:
                try:
                    intent = payment_id
                    if not payment_id.startswith("pi_"):
                        charge = await _read(
                            lambda: self._get_json(
                                f"/v1/charges/{quote(payment_id, safe='')}", {}, account
                            ),
                            policy=self._retry,
                            action=f"looking up {payment_id}",
                            account=account,
                        )
                        intent = str(charge.get("payment_intent") or "")
                        if not intent:
                            return None
                    page = await _read(
                        lambda: self._get_json(
                            "/v1/checkout/sessions",
                            {"payment_intent": intent, "limit": 1, "expand": SESSION_EXPAND},
                            account,
                        ),
                        policy=self._retry,
                        action=f"looking up the session of {payment_id}",
                        account=account,
                    )
                except UpstreamError as err:
                    return None if _missing(err) else err
                items = [i for i in page.get("data") or [] if isinstance(i, dict)]
                return CheckoutSession.from_json(items[0], account=account) if items else None

        outcomes = await asyncio.gather(*(look(a) for a in dict.fromkeys(accounts)))
        found = next((o for o in outcomes if isinstance(o, CheckoutSession)), None)
        if found is not None:
            return found
        for outcome in outcomes:
            if isinstance(outcome, UpstreamError):
                raise outcome
        return None

    async def webhook_endpoints(self) -> list[JSON]:
        """Every webhook endpoint of the platform account, as Stripe returns it."""
        params: WebhookEndpointListParams = {"limit": MAX_PAGE}
        out: list[JSON] = []
        while True:
            page = await _read(
                lambda: self._client.v1.webhook_endpoints.list_async(params),
                policy=self._retry,
                action="listing webhook endpoints",
                account=None,
            )
            out += [item.to_dict() for item in page.data]
            if not page.has_more or not page.data:
                return out
            params["starting_after"] = page.data[-1].id

    async def events(
        self,
        account: str | None,
        *,
        type_pattern: str,
        since: datetime,
        delivery_success: bool | None = None,
    ) -> list[JSON]:
        """Events of one account created at or after `since`, newest first, every page.

        `type_pattern` is an exact type or a wildcard (`checkout.session.*`); Stripe keeps 30
        days of events.
        """
        params: EventListParams = {
            "type": type_pattern,
            "created": {"gte": math.ceil(since.timestamp())},
            "limit": MAX_PAGE,
        }
        if delivery_success is not None:
            params["delivery_success"] = delivery_success
        out: list[JSON] = []
        while True:
            page = await _read(
                lambda: self._client.v1.events.list_async(params, _options(account)),
                policy=self._retry,
                action="listing events",
                account=account,
            )
            out += [item.to_dict() for item in page.data]
            if not page.has_more or not page.data:
                return out
            params["starting_after"] = page.data[-1].id

    async def account(self, account_id: str) -> JSON:
        """A connected account, as Stripe returns it (read from the platform)."""
        obj = await _read(
            lambda: self._client.v1.accounts.retrieve_async(account_id),
            policy=self._retry,
            action="reading the account",
            account=account_id,
        )
        return obj.to_dict()


async def _read(
    call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, action: str, account: str | None
) -> T:
    """One Stripe read under passbot's retry policy (core.adapters.retry): 429 (honouring
    `Retry-After`), 409, 5xx and connection errors are retried, as Stripe advises and as its
    `Stripe-Should-Retry` header says; anything else fails at once. Reads only: passbot never
    writes to Stripe."""
    try:
        return await call_with_retry(
            call, judge=_judge, service=SERVICE, action=action, policy=policy
        )
    except stripe.StripeError as exc:
        raise stripe_error(exc, action=action, account=account) from exc


def _missing(err: UpstreamError) -> bool:
    """Whether Stripe answered "no such object" (a 404 resource_missing) on that account."""
    cause = err.__cause__
    return (
        isinstance(cause, stripe.InvalidRequestError)
        and cause.http_status == 404
        and cause.code in (None, "resource_missing")
    )


def _judge(_result: object, error: BaseException | None) -> Verdict:
    """Whether a Stripe read that ended so is worth another try."""
    if error is None:
        return Verdict(False)
    what = type(error).__name__
    if not isinstance(error, stripe.StripeError):
        return Verdict(False, what=what, failed=True)
    headers = dict(error.headers or {})
    advice = next((v for k, v in headers.items() if k.lower() == "stripe-should-retry"), None)
    if advice in ("true", "false"):
        retry = advice == "true"
    else:
        status = error.http_status
        retry = isinstance(error, stripe.RateLimitError | stripe.APIConnectionError) or (
            status is not None and (status == 409 or status >= 500)
        )
    status_text = f"HTTP {error.http_status}" if error.http_status else what
    return Verdict(retry, parse_retry_after(headers), status_text, True)


def _options(account: str | None) -> stripe.RequestOptions:
    return {"stripe_account": account} if account else {}


def stripe_error(exc: stripe.StripeError, *, action: str, account: str | None) -> UpstreamError:
    """A safe, one-line `UpstreamError` for a Stripe failure: what failed, on which account.

    A permission or authentication failure on a connected account reads "cannot access account
    acct_…: …", so a caller can report that school's account as unreachable. Keys that Stripe
    quotes in its messages (redacted or not) are removed.
    """
    where = f"account {account}" if account else "the platform account"
    reason = _safe(exc)
    status = exc.http_status
    retryable = isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError) or (
        isinstance(exc, stripe.APIError) or (status is not None and status >= 500)
    )
    if isinstance(exc, stripe.PermissionError | stripe.AuthenticationError) or (
        exc.code == "account_invalid"
    ):
        message = f"cannot access {where}: {reason}"
        if isinstance(exc, stripe.AuthenticationError):
            message = f"the API key was rejected while {action} on {where}: {reason}"
    elif isinstance(exc, stripe.APIConnectionError):
        message = f"{action} on {where}: Stripe could not be reached"
    else:
        code = f" ({status})" if status else ""
        message = f"{action} on {where} failed{code}: {reason}"
    denied = isinstance(exc, stripe.PermissionError | stripe.AuthenticationError) or status in (
        401,
        403,
    )
    return UpstreamError(SERVICE, message, retryable=retryable, denied=denied)


def _safe(exc: stripe.StripeError) -> str:
    text: Any = exc.user_message or type(exc).__name__
    flat = " ".join(_KEY.sub("[key]", str(text)).split())
    if isinstance(exc, stripe.APIConnectionError):
        flat = flat.split("(Network error:", 1)[-1].rstrip(")").strip() or flat
    return flat if len(flat) <= 300 else flat[:299] + "…"
