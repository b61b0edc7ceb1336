"""The sandbox's Stripe: the REST API's read endpoints that passbot uses, for stripe-python.

Routes (all ``GET``, form-encoded query parameters as stripe-python sends them, arrays as
``expand[0]=…`` or ``expand[]=…``):

* ``/v1/checkout/sessions`` — filters ``created`` (``created=N`` or ``created[gte|gt|lte|lt]``),
  ``status``, ``customer_details[email]``, ``payment_intent``; ``limit`` (1–100, default 10),
  ``starting_after``/``ending_before``; ``expand[]`` of ``data.payment_intent``,
  ``data.payment_intent.latest_charge``, ``data.line_items``;
* ``/v1/checkout/sessions/{id}`` (``expand[]`` of ``payment_intent``,
  ``payment_intent.latest_charge``, ``line_items``) and ``/v1/checkout/sessions/{id}/line_items``;
* ``/v1/payment_intents/{id}`` (``expand[]`` ``latest_charge``), ``/v1/charges/{id}``
  (``expand[]`` ``payment_intent``);
* ``/v1/events`` — ``type`` (``*`` wildcards such as ``checkout.session.*``) or ``types[]``,
  ``created``, ``delivery_success`` (the world's sandbox-only key), pagination;
* ``/v1/webhook_endpoints`` (the platform's), ``/v1/accounts`` (connected accounts),
  ``/v1/accounts/{id}``, ``/v1/account``.

Every request needs ``Authorization: Bearer <key>`` (or Basic) with an ``sk_`` or ``rk_`` key of the
world's mode (``_test_`` or ``_live_``). ``Stripe-Account`` picks the connected account whose
objects are seen; an account the world does not list answers Stripe's 403 ``account_invalid``.
Anything not modelled — an unknown parameter, route or expansion — answers Stripe's 400/404, so a
client that starts sending something new fails loudly instead of being answered wrongly.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from sandbox.credentials import stripe_keys
from sandbox.stripe_objects import (
    ACCOUNT_FIELDS,
    CHARGE_FIELDS,
    EVENT_FIELDS,
    PAYMENT_INTENT_FIELDS,
    SESSION_FIELDS,
    WEBHOOK_ENDPOINT_FIELDS,
    session_line_items,
    shaped,
)
from sandbox.stripe_store import CreatedRange, Item, Listing, StripeStore
from sandbox.traffic import Traffic, gzip_if_accepted, traffic_middleware

DOCS = "https://stripe.com/docs/error-codes"
_KEY = re.compile(r"^(?P<base>[a-z_]+)(?:\[(?P<sub>[^\[\]]*)\])?$")
_RANGE_OPS = ("gte", "gt", "lte", "lt")
ACCOUNT = web.RequestKey("stripe_account", str)
"""The account scope a request was authorised for."""


class StripeError(Exception):
    """An error answer in Stripe's shape: ``{"error": {"type", "message", "code"?, "param"?}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type_}
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = f"{DOCS}#{code.replace('_', '-')}"
        if param is not None:
            self.body["param"] = param

    def response(self) -> web.Response:
        return web.json_response({"error": self.body}, status=self.status)


def fault_body(status: int) -> dict[str, Any]:
    """The error body of an injected fault with HTTP ``status``."""
    if status == 429:
        error = StripeError(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff "
            "of your requests.",
            code="rate_limit",
        )
    elif status == 401:
        error = StripeError(401, "Invalid API Key provided: sk_****")
    elif status == 403:
        error = StripeError(403, "The provided key does not have the required permissions.")
    elif status == 404:
        error = StripeError(404, "Not found (sandbox fault).", code="resource_missing")
    elif status >= 500:
        error = StripeError(status, "An unknown error occurred (sandbox fault).", type_="api_error")
    else:
        error = StripeError(status, f"Sandbox fault: HTTP {status}.")
    return {"error": error.body}


# --------------------------------------------------------------------------- parameters


@dataclass
class Params:
    """A request's parameters, checked against what the endpoint accepts."""

    scalars: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)

    def integer(self, name: str, value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise StripeError(400, f"Invalid integer: {value}", param=name) from None

    def created(self, name: str = "created") -> CreatedRange:
        if name in self.scalars:
            exact = self.integer(name, self.scalars[name])
            return CreatedRange(gte=exact, lte=exact)
        given = self.ranges.get(name, {})
        bounds = {op: self.integer(f"{name}[{op}]", value) for op, value in given.items()}
        return CreatedRange(**bounds)

    def limit(self) -> int:
        if "limit" not in self.scalars:
            return 10
        value = self.integer("limit", self.scalars["limit"])
        if value < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="limit")
        if value > 100:
            raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
        return value

    def boolean(self, name: str) -> bool | None:
        if name not in self.scalars:
            return None
        value = self.scalars[name]
        if value not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {value}", param=name)
        return value == "true"

    def expand(self, allowed: frozenset[str]) -> set[str]:
        wanted = set(self.arrays.get("expand", []))
        for path in sorted(wanted):
            if path not in allowed:
                raise StripeError(
                    400, f"This property cannot be expanded ({path}).", param="expand"
                )
        return wanted


def read_params(
    query: MultiMapping[str],
    *,
    scalars: frozenset[str] = frozenset(),
    ranges: frozenset[str] = frozenset(),
    objects: dict[str, frozenset[str]] | None = None,
    arrays: frozenset[str] = frozenset({"expand"}),
) -> Params:
    """Parse and check a query string; anything not accepted is Stripe's "unknown parameter"."""
    objects = objects or {}
    params = Params()
    indexed: dict[str, list[tuple[int, int, str]]] = {}
    for order, (key, value) in enumerate(query.items()):
        match = _KEY.match(key)
        if match is None:
            raise _unknown(key)
        base, sub = match.group("base"), match.group("sub")
        if base in arrays and sub is not None and (sub == "" or sub.isdigit()):
            slot = int(sub) if sub else order
            indexed.setdefault(base, []).append((slot, order, value))
        elif base in ranges and sub in _RANGE_OPS:
            params.ranges.setdefault(base, {})[sub] = value
        elif base in objects and sub is not None and sub in objects[base]:
            params.objects.setdefault(base, {})[sub] = value
        elif (base in scalars or base in ranges) and sub is None:
            params.scalars[base] = value
        else:
            raise _unknown(key)
    for base, slots in indexed.items():
        params.arrays[base] = [value for _, _, value in sorted(slots)]
    return params


def _unknown(key: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key
    )


PAGINATION = frozenset({"limit", "starting_after", "ending_before"})


def _check_cursors(params: Params, listing: Listing, noun: str) -> tuple[str | None, str | None]:
    after = params.scalars.get("starting_after")
    before = params.scalars.get("ending_before")
    if after is not None and before is not None:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    for name, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor is not None and cursor not in listing.position:
            raise StripeError(
                400, f"No such {noun}: '{cursor}'", code="resource_missing", param=name
            )
    return after, before


def _list_object(url: str, data: list[Item], has_more: bool) -> Item:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


# --------------------------------------------------------------------------- the service


class StripeService:
    """The aiohttp application of the sandbox's Stripe."""

    def __init__(self, get_store: Callable[[], StripeStore], get_traffic: Callable[[], Traffic]):
        self._get_store = get_store
        self.app = web.Application(
            middlewares=[
                traffic_middleware(get_traffic, "stripe", fault_body),
                self._errors_and_auth,
            ]
        )
        routes = [
            ("/v1/checkout/sessions", self.list_sessions),
            ("/v1/checkout/sessions/{id}", self.get_session),
            ("/v1/checkout/sessions/{id}/line_items", self.list_line_items),
            ("/v1/payment_intents/{id}", self.get_payment_intent),
            ("/v1/charges/{id}", self.get_charge),
            ("/v1/events", self.list_events),
            ("/v1/webhook_endpoints", self.list_webhook_endpoints),
            ("/v1/accounts", self.list_accounts),
            ("/v1/accounts/{id}", self.get_account),
            ("/v1/account", self.get_own_account),
        ]
        for path, handler in routes:
            self.app.router.add_get(path, handler, allow_head=False)
        self.app.router.add_route("*", "/{tail:.*}", self.unrecognised)

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _errors_and_auth(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        try:
            store = self._get_store()
            key = _api_key(request)
            if key is None:
                raise StripeError(
                    401,
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY').",
                )
            mode = "live" if store.livemode else "test"
            if key not in stripe_keys(mode):  # only the keys this "account" issued
                raise StripeError(401, f"Invalid API Key provided: {_masked(key)}")
            account = request.headers.get("Stripe-Account") or store.platform
            if not store.can_access(account):
                raise StripeError(
                    403,
                    f"The provided key '{_masked(key)}' does not have access to account "
                    f"'{account}' (or that account does not exist). Application access may "
                    "have been revoked.",
                    code="account_invalid",
                )
            request[ACCOUNT] = account
            response: web.StreamResponse = await handler(request)
        except StripeError as error:
            response = error.response()
        response.headers["Request-Id"] = f"req_sandbox{secrets.token_hex(7)}"
        gzip_if_accepted(request, response)
        return response

    def _store(self) -> StripeStore:
        return self._get_store()

    @staticmethod
    def _account(request: web.Request) -> str:
        return request[ACCOUNT]

    async def unrecognised(self, request: web.Request) -> web.Response:
        raise StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    # ------------------------------------------------------------------ rendering

    def _session(self, request: web.Request, raw: Item, expand: set[str]) -> Item:
        store = self._store()
        out = shaped(SESSION_FIELDS, raw, store.livemode)
        if "line_items" in expand:
            out["line_items"] = _list_object(
                f"/v1/checkout/sessions/{raw['id']}/line_items",
                session_line_items(raw, store.livemode),
                False,
            )
        if _wants(expand, "payment_intent") and isinstance(out.get("payment_intent"), str):
            intent = store.scope(self._account(request)).payment_intents.get(out["payment_intent"])
            if intent is not None:
                inner = {p.removeprefix("payment_intent.") for p in expand if "." in p}
                out["payment_intent"] = self._payment_intent(request, intent, inner)
        return out

    def _payment_intent(self, request: web.Request, raw: Item, expand: set[str]) -> Item:
        store = self._store()
        out = shaped(PAYMENT_INTENT_FIELDS, raw, store.livemode)
        if "latest_charge" in expand and isinstance(out.get("latest_charge"), str):
            charge = store.scope(self._account(request)).charges.get(out["latest_charge"])
            if charge is not None:
                out["latest_charge"] = shaped(CHARGE_FIELDS, charge, store.livemode)
        return out

    def _event(self, raw: Item) -> Item:
        out = shaped(EVENT_FIELDS, raw, self._store().livemode)
        if raw.get("account"):
            out["account"] = raw["account"]  # the real Connect field, unlike on other objects
        return out

    @staticmethod
    def _account_object(raw: Item) -> Item:
        out = dict(ACCOUNT_FIELDS)
        out.update(raw)
        if out.get("external_accounts") is None:
            out["external_accounts"] = _list_object(
                f"/v1/accounts/{raw['id']}/external_accounts", [], False
            )
        return out

    # ------------------------------------------------------------------ checkout sessions

    async def list_sessions(self, request: web.Request) -> web.Response:
        params = read_params(
            request.query,
            scalars=PAGINATION | {"status", "payment_intent"},
            ranges=frozenset({"created"}),
            objects={"customer_details": frozenset({"email"})},
        )
        expand = params.expand(
            frozenset(
                {"data.payment_intent", "data.payment_intent.latest_charge", "data.line_items"}
            )
        )
        listing = self._store().scope(self._account(request)).session_listing
        after, before = _check_cursors(params, listing, "checkout.session")
        status = params.scalars.get("status")
        if status is not None and status not in ("open", "complete", "expired"):
            raise StripeError(
                400,
                f"Invalid status: must be one of open, complete, or expired (got {status!r}).",
                param="status",
            )
        candidates = None
        intent = params.scalars.get("payment_intent")
        if intent is not None:
            candidates = listing.index("payment_intent", _payment_intent_id).get(intent, [])
        email = params.objects.get("customer_details", {}).get("email")
        if email is not None:
            by_email = listing.index("email", _customer_email).get(email, [])
            candidates = by_email if candidates is None else sorted(set(candidates) & set(by_email))

        def keep(item: Item) -> bool:
            return status is None or item.get("status") == status

        found, has_more = listing.page(
            created=params.created(),
            limit=params.limit(),
            starting_after=after,
            ending_before=before,
            candidates=candidates,
            predicate=keep if status is not None else None,
        )
        inner = {path.removeprefix("data.") for path in expand}
        data = [self._session(request, item, inner) for item in found]
        return web.json_response(_list_object("/v1/checkout/sessions", data, has_more))

    def _find_session(self, request: web.Request) -> Item:
        session_id = request.match_info["id"]
        found = self._store().scope(self._account(request)).session_by_id.get(session_id)
        if found is None:
            raise StripeError(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
            )
        return found

    async def get_session(self, request: web.Request) -> web.Response:
        params = read_params(request.query)
        expand = params.expand(
            frozenset({"payment_intent", "payment_intent.latest_charge", "line_items"})
        )
        return web.json_response(self._session(request, self._find_session(request), expand))

    async def list_line_items(self, request: web.Request) -> web.Response:
        params = read_params(request.query, scalars=PAGINATION)
        params.expand(frozenset())
        session = self._find_session(request)
        items = session_line_items(session, self._store().livemode)
        ids = [str(item["id"]) for item in items]
        limit = params.limit()
        after = params.scalars.get("starting_after")
        before = params.scalars.get("ending_before")
        for name, cursor in (("starting_after", after), ("ending_before", before)):
            if cursor is not None and cursor not in ids:
                raise StripeError(
                    400, f"No such line item: '{cursor}'", code="resource_missing", param=name
                )
        if after is not None:
            window = items[ids.index(after) + 1 :]
            page, has_more = window[:limit], len(window) > limit
        elif before is not None:
            window = items[: ids.index(before)]
            page, has_more = window[-limit:], len(window) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return web.json_response(_list_object(url, page, has_more))

    # ------------------------------------------------------------------ payments

    async def get_payment_intent(self, request: web.Request) -> web.Response:
        params = read_params(request.query, scalars=frozenset({"client_secret"}))
        expand = params.expand(frozenset({"latest_charge"}))
        intent_id = request.match_info["id"]
        found = self._store().scope(self._account(request)).payment_intents.get(intent_id)
        if found is None:
            raise StripeError(
                404,
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
            )
        return web.json_response(self._payment_intent(request, found, expand))

    async def get_charge(self, request: web.Request) -> web.Response:
        params = read_params(request.query)
        expand = params.expand(frozenset({"payment_intent"}))
        store = self._store()
        scope = store.scope(self._account(request))
        charge_id = request.match_info["id"]
        found = scope.charges.get(charge_id)
        if found is None:
            raise StripeError(
                404, f"No such charge: '{charge_id}'", code="resource_missing", param="id"
            )
        out = shaped(CHARGE_FIELDS, found, store.livemode)
        if "payment_intent" in expand and isinstance(out.get("payment_intent"), str):
            intent = scope.payment_intents.get(out["payment_intent"])
            if intent is not None:
                out["payment_intent"] = self._payment_intent(request, intent, set())
        return web.json_response(out)

    # ------------------------------------------------------------------ events

    async def list_events(self, request: web.Request) -> web.Response:
        params = read_params(
            request.query,
            scalars=PAGINATION | {"type", "delivery_success"},
            ranges=frozenset({"created"}),
            arrays=frozenset({"expand", "types"}),
        )
        params.expand(frozenset())
        listing = self._store().scope(self._account(request)).event_listing
        after, before = _check_cursors(params, listing, "event")
        type_ = params.scalars.get("type")
        types = params.arrays.get("types")
        if type_ is not None and types is not None:
            raise StripeError(
                400, "You may only specify one of these parameters: type, types.", param="types"
            )
        if types is not None and len(types) > 20:
            raise StripeError(400, "You can only specify up to 20 event types.", param="types")
        delivered = params.boolean("delivery_success")
        candidates: list[int] | None = None
        by_type = listing.index("type", lambda item: item.get("type"))
        if type_ is not None and "*" in type_:
            pattern = re.compile("^" + ".*".join(re.escape(p) for p in type_.split("*")) + "$")
            candidates = sorted(
                n for name, ns in by_type.items() if pattern.match(str(name)) for n in ns
            )
        elif type_ is not None:
            candidates = by_type.get(type_, [])
        elif types is not None:
            candidates = sorted(n for name in set(types) for n in by_type.get(name, []))

        def keep(item: Item) -> bool:
            return _delivered(item) == delivered

        found, has_more = listing.page(
            created=params.created(),
            limit=params.limit(),
            starting_after=after,
            ending_before=before,
            candidates=candidates,
            predicate=keep if delivered is not None else None,
        )
        data = [self._event(item) for item in found]
        return web.json_response(_list_object("/v1/events", data, has_more))

    # ------------------------------------------------------------------ endpoints and accounts

    async def list_webhook_endpoints(self, request: web.Request) -> web.Response:
        params = read_params(request.query, scalars=PAGINATION)
        params.expand(frozenset())
        store = self._store()
        listing = (
            store.webhook_endpoints if self._account(request) == store.platform else Listing(())
        )
        after, before = _check_cursors(params, listing, "webhook_endpoint")
        found, has_more = listing.page(
            created=CreatedRange(), limit=params.limit(), starting_after=after, ending_before=before
        )
        data = [
            shaped(
                WEBHOOK_ENDPOINT_FIELDS,
                {k: v for k, v in item.items() if k != "secret"},
                store.livemode,
            )
            for item in found
        ]
        return web.json_response(_list_object("/v1/webhook_endpoints", data, has_more))

    async def list_accounts(self, request: web.Request) -> web.Response:
        params = read_params(request.query, scalars=PAGINATION, ranges=frozenset({"created"}))
        params.expand(frozenset())
        store = self._store()
        listing = store.account_listing if self._account(request) == store.platform else Listing(())
        after, before = _check_cursors(params, listing, "account")
        found, has_more = listing.page(
            created=params.created(),
            limit=params.limit(),
            starting_after=after,
            ending_before=before,
        )
        data = [self._account_object(item) for item in found]
        return web.json_response(_list_object("/v1/accounts", data, has_more))

    async def get_account(self, request: web.Request) -> web.Response:
        read_params(request.query).expand(frozenset())
        store = self._store()
        account_id = request.match_info["id"]
        if not store.can_access(account_id):
            key = _api_key(request) or ""
            raise StripeError(
                403,
                f"The provided key '{_masked(key)}' does not have access to account "
                f"'{account_id}' (or that account does not exist). Application access may "
                "have been revoked.",
                code="account_invalid",
            )
        return web.json_response(self._account_object(store.account_object(account_id)))

    async def get_own_account(self, request: web.Request) -> web.Response:
        read_params(request.query).expand(frozenset())
        store = self._store()
        return web.json_response(self._account_object(store.account_object(self._account(request))))


def _wants(expand: set[str], name: str) -> bool:
    """Whether ``name`` is expanded (asking for ``name.x`` expands ``name`` too)."""
    return any(path == name or path.startswith(f"{name}.") for path in expand)


def _payment_intent_id(item: Item) -> Any:
    value = item.get("payment_intent")
    if isinstance(value, dict):
        return value.get("id")
    return value


def _delivered(event: Item) -> bool:
    """The world's ``delivery_success``; without it, whether no webhook is still pending."""
    if "delivery_success" in event:
        return bool(event["delivery_success"])
    return not event.get("pending_webhooks")


def _customer_email(item: Item) -> Any:
    details = item.get("customer_details")
    return details.get("email") if isinstance(details, dict) else None


def _api_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _masked(key: str) -> str:
    prefix, _, rest = key.rpartition("_")
    if not prefix:
        return "*" * max(len(key) - 4, 0) + key[-4:]
    return f"{prefix}_{'*' * max(len(rest) - 4, 0)}{rest[-4:]}"
