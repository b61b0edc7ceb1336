"""SanityPasses: the `PassStore` port over Sanity's Content Lake HTTP API (GROQ and mutations).

Reads are GROQ queries sent as `POST /v{version}/data/query/{dataset}` with the values in
`params` — never spliced into the query text — to the API host, never the CDN (FM-44). Every
query asks for `perspective=published`: drafts (`drafts.…`) are Studio edits in progress, not
what the webhook writes, and counting `drafts.X` beside `X` would make every edited
subscription look like a duplicate. Each port method is one HTTP request (zero when there is
nothing to ask), so a Stripe page of sessions costs one Sanity request.

Writes are one transaction per `apply`: `createIfNotExists` for each created document (its id is
deterministic, so a second run creates nothing), and `patch` + `set` guarded by `ifRevisionID`
for each patched one. A write is never retried blindly: when its outcome is unknown (timeout,
dropped connection, 5xx), the documents are re-read — Sanity sets `_rev` to the id of the
transaction that last wrote a document — to tell whether it happened.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from core.adapters import telemetry, wire
from core.adapters.memo import ModelMemo
from core.adapters.retry import DEFAULT_RETRY, RetryPolicy, send_with_retry, transport_error
from core.adapters.sanity_queries import (
    ACTIVE_BY_ID_CHUNK,
    ACTIVE_BY_ID_QUERY,
    ACTIVE_QUERY,
    ACTIVE_REVISIONS_QUERY,
    BOOKINGS_QUERY,
    CATALOGUE_QUERY,
    CUSTOMER_QUERY,
    DOCUMENTS_QUERY,
    NAMED_USERS_QUERY,
    RELATED_QUERY,
    USERS_FOR_ID_QUERY,
    WEBHOOK_LOGS_QUERY,
)
from core.domain.findings import CreateDoc, Operation
from core.domain.models import (
    JSON,
    Booking,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    WebhookLog,
    iso,
)
from core.domain.snapshot import bookings_from_instances
from core.errors import StaleFixError, UpstreamError
from core.ports import Applied, Catalogue, Related

logger = logging.getLogger(__name__)

SERVICE = "sanity"
PERSPECTIVE = "published"
PROBE_ID = "passbot-write-probe"
"""The document a `can_write` dry run would create (it is never written)."""

# ------------------------------------------------------------------------------------ clients


def make_sanity_client(
    host: str, token: str, *, timeout: float = 20.0, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for Sanity's API host with the token set.

    Args:
        host: `SANITY_API_HOST`, e.g. `https://<project>.api.sanity.io`.
        token: `SANITY_API_TOKEN`.
        timeout: seconds per request (connect, read, write, pool).
        verify: the TLS context (default: httpx's own, a new one); clients may share one, as
            loading the CA bundle costs more CPU than a small reconciliation's requests.

    Raises:
        ValueError: the host is Sanity's CDN, whose answers may be stale (FM-44).
    """
    if "apicdn.sanity.io" in host:
        raise ValueError(
            "SANITY_API_HOST points at Sanity's CDN (apicdn); passbot reads the API host only"
        )
    return httpx.AsyncClient(
        base_url=host,
        headers={"Authorization": f"Bearer {token}", "User-Agent": "passbot"},
        timeout=timeout,
        verify=verify,
    )


class SanityPasses:
    """Subscriptions, users, passes, tenants and webhook logs in one Sanity dataset."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        dataset: str,
        api_version: str,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        """Args:
        client: based at the API host, with the `Authorization` header set.
        dataset: the dataset name.
        api_version: a dated API version, with or without its `v` (`2025-02-19`).
        retry: the policy for reads.
        """
        self._client = client
        self._dataset = dataset
        self._version = api_version.removeprefix("v")
        self._retry = retry
        # The same documents come back page after page (core.adapters.memo).
        self._subscription = ModelMemo(Subscription.from_json, json_of=_raw_subscription)
        self._user = ModelMemo(SanityUser.from_json, json_of=_raw_user)

    @property
    def dataset(self) -> str:
        """The dataset name."""
        return self._dataset

    # ------------------------------------------------------------------------------- reads

    async def catalogue(self) -> Catalogue:
        """Every tenant and pass, in one query."""
        result = await self._query(CATALOGUE_QUERY, {}, action="reading tenants and passes")
        return Catalogue(
            tenants=tuple(Tenant.from_json(d) for d in _docs(result, "tenants")),
            passes=tuple(Pass.from_json(d) for d in _docs(result, "passes")),
        )

    async def related(
        self,
        *,
        session_ids: Sequence[str],
        payment_ids: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str] = (),
    ) -> Related:
        """Subscriptions linked to the sessions or payments, every subscription of the buyers,
        and the buyers' user documents — one query (none when there is nothing to ask); linked
        subscriptions referencing `known_refs` are left out (see RELATED_QUERY)."""
        params = {
            "sessionIds": _ids(session_ids),
            "paymentIds": _ids(payment_ids),
            "clerkIds": _ids(clerk_ids),
        }
        if not any(params.values()):
            return Related()
        params["knownRefs"] = _ids(known_refs)
        result = await self._query(
            RELATED_QUERY, params, action="reading the subscriptions of a page of purchases"
        )
        return _related(result, self._subscription, self._user)

    async def active_subscriptions(self, *, now: datetime) -> Related:
        """Active, unexpired subscriptions and the users they reference, in one query."""
        result = await self._query(
            ACTIVE_QUERY, {"now": iso(now)}, action="reading active subscriptions"
        )
        return _active(result, self._subscription, self._user)

    async def active_subscription_pages(
        self, *, now: datetime, page_size: int = 10000
    ) -> AsyncIterator[Related]:
        """`active_subscriptions`, `page_size` at a time (one query per page)."""
        after = ""
        while True:
            result = await self._query(
                ACTIVE_REVISIONS_QUERY,
                {"now": iso(now), "after": after, "size": page_size},
                action="reading active subscriptions",
            )
            rows = _docs(result)
            page = await self._active_page(rows, now=now)
            if page.subscriptions:
                yield page
            if len(rows) < page_size:
                return
            last = rows[-1].get("_id")
            if not isinstance(last, str):  # no cursor (Sanity always gives an `_id`)
                raise UpstreamError(
                    SERVICE, "reading active subscriptions: a pass without an _id", retryable=False
                )
            after = last

    async def _active_page(self, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> Related:
        """An audit page (ACTIVE_REVISIONS_QUERY's rows) with each pass whole: as read earlier in
        the run when it is at the same revision, else asked for by id (ACTIVE_BY_ID_QUERY, up to
        ACTIVE_BY_ID_CHUNK a query): the `Related` that reading the whole passes with the page
        would give."""
        held: dict[str, Subscription] = {}
        missing: list[str] = []
        for row in rows:
            key, rev = row.get("_id"), row.get("_rev")
            if not isinstance(key, str):
                continue
            model = self._subscription.known(key, rev) if isinstance(rev, str) else None
            if model is None:
                missing.append(key)
            else:
                held[key] = model
        fetched: dict[str, Mapping[str, Any]] = {}
        for at in range(0, len(missing), ACTIVE_BY_ID_CHUNK):
            result = await self._query(
                ACTIVE_BY_ID_QUERY,
                {"now": iso(now), "ids": missing[at : at + ACTIVE_BY_ID_CHUNK]},
                action="reading active subscriptions",
            )
            fetched.update((d["_id"], d) for d in _docs(result) if isinstance(d.get("_id"), str))
        subscriptions: list[Subscription] = []
        users: dict[str, SanityUser] = {}
        for row in rows:
            key = row.get("_id")
            if not isinstance(key, str):
                continue
            sub = held.get(key)
            if sub is not None:
                user = row.get("passbotReferencedUser")
            elif key in fetched:  # else: no longer active, or gone, since the page was read
                plain = dict(fetched[key])
                user = plain.pop("passbotReferencedUser", None)
                sub = self._subscription(plain)
            else:
                continue
            subscriptions.append(sub)
            if isinstance(user, Mapping):
                user_id = user.get("_id")
                # A user's passes carry the same projection of it: built (or looked up) once.
                if isinstance(user_id, str) and user_id not in users:
                    users[user_id] = self._user(user)
        return Related(subscriptions=tuple(subscriptions), users=tuple(users.values()))

    async def customer(self, email: str, *, clerk_ids: Sequence[str]) -> Related:
        """Users with this email (any case) or these Clerk ids, everyone sharing their Clerk ids,
        and every subscription referencing any of them — one query."""
        params = {"email": email.strip(), "clerkIds": _ids(clerk_ids)}
        result = await self._query(CUSTOMER_QUERY, params, action="reading a customer")
        return _related(result, self._subscription, self._user)

    async def bookings(self, references: Sequence[str]) -> list[Booking]:
        """The bookings made under these user references (one query; none for no references)."""
        refs = _ids(references)
        if not refs:
            return []
        result = await self._query(BOOKINGS_QUERY, {"refs": refs}, action="reading bookings")
        return bookings_from_instances(_docs(result))

    async def webhook_logs(self, *, since: datetime) -> list[WebhookLog]:
        """`webhookLog` documents with a `timestamp` at or after `since`, oldest first."""
        result = await self._query(
            WEBHOOK_LOGS_QUERY, {"since": iso(since)}, action="reading webhook logs"
        )
        return [WebhookLog.from_json(d) for d in _docs(result)]

    async def users_for_id(self, doc_id: str) -> list[SanityUser]:
        """The users a user, Clerk or subscription id leads to (one query)."""
        result = await self._query(
            USERS_FOR_ID_QUERY, {"id": doc_id.strip()}, action="looking up a document id"
        )
        return [SanityUser.from_json(d) for d in _docs(result)]

    async def named_users(self) -> list[SanityUser]:
        """Every user with a name, projected to what a name lookup needs (one query)."""
        result = await self._query(NAMED_USERS_QUERY, {}, action="looking up a name")
        return [SanityUser.from_json(d) for d in _docs(result)]

    # ------------------------------------------------------------------------------ writes

    async def apply(self, operations: Sequence[Operation], *, transaction_id: str) -> Applied:
        """Apply the operations as one transaction, then re-read the documents.

        Two requests: the mutation (never retried) and the re-read (retried like any read).
        When the mutation's outcome is unknown (no answer, or a 5xx), the re-read decides: see
        `_settle`. If the write committed but the re-read fails, `documents` is empty.

        Raises:
            StaleFixError: a patched document changed (or vanished) since it was read.
            UpstreamError: anything else; nothing was written (a transaction is atomic).
        """
        if not operations:
            return Applied(transaction_id=None)
        applied = await self._apply(operations, transaction_id=transaction_id)
        if applied.created or applied.patched:
            telemetry.fix_applied()
        return applied

    async def _apply(self, operations: Sequence[Operation], *, transaction_id: str) -> Applied:
        ids = _ids(op.id for op in operations)
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        action = f"writing {shown}"
        body = {"mutations": [_mutation(op) for op in operations]}
        params = {
            "returnIds": "true",
            "visibility": "sync",
            "transactionId": transaction_id,
        }
        telemetry.service_request(SERVICE)
        try:
            response = await self._client.post(self._path("mutate"), params=params, json=body)
        except httpx.TransportError as exc:
            telemetry.service_error(SERVICE)
            # The request may or may not have reached Sanity: find out by reading.
            return await self._settle(
                operations, transaction_id, transport_error(SERVICE, exc, action=action)
            )
        if response.status_code != 200:
            telemetry.service_error(SERVICE)
        if response.status_code == 200:
            results = _results(response)
            try:
                documents = await self._documents(ids)
            except UpstreamError as exc:
                # Committed: failing the call now would report a write that happened as one
                # that did not. Report it without the documents instead.
                logger.warning(
                    "sanity: transaction %s committed; re-read failed: %s", transaction_id, exc
                )
                documents = {}
            return _applied(operations, results, documents, transaction_id)
        if response.status_code >= 500:
            return await self._settle(
                operations, transaction_id, sanity_error(response, action=action)
            )
        stale = _stale(response)
        if stale is not None:
            raise stale
        if _error_body(response)[0] == "transactionIdAlreadyExistsError":
            # This transaction id was committed before (an earlier try whose answer was lost):
            # the documents say whether it was these operations.
            return await self._settle(
                operations,
                transaction_id,
                UpstreamError(
                    SERVICE,
                    f"{action}: transaction id {transaction_id} was already used for other "
                    "changes; nothing was written",
                ),
            )
        raise sanity_error(response, action=action)

    async def can_write(self) -> bool:
        """Whether the token may create documents, asked with a `dryRun` mutation (FM-11).

        Returns False on a 401 or 403; raises UpstreamError for anything else that fails.
        """
        body = {"mutations": [{"createIfNotExists": {"_id": PROBE_ID, "_type": "passbotProbe"}}]}
        action = "checking write access"
        try:
            response = await self._client.post(
                self._path("mutate"), params={"dryRun": "true"}, json=body
            )
        except httpx.TransportError as exc:
            raise transport_error(SERVICE, exc, action=action) from exc
        if response.status_code in (401, 403):
            logger.info("sanity: %s", sanity_error(response, action=action))
            return False
        if response.status_code != 200:
            raise sanity_error(response, action=action)
        return True

    # ---------------------------------------------------------------------------- internals

    def _path(self, endpoint: str) -> str:
        return f"/v{self._version}/data/{endpoint}/{self._dataset}"

    async def _query(self, query: str, params: Mapping[str, object], *, action: str) -> Any:
        """Run one GROQ query (retrying what may succeed later) and return its `result`."""

        async def send() -> httpx.Response:
            return await self._client.post(
                self._path("query"),
                params={"perspective": PERSPECTIVE, "returnQuery": "false"},
                json={"query": query, "params": dict(params)},
            )

        response = await send_with_retry(send, service=SERVICE, action=action, policy=self._retry)
        if response.status_code != 200:
            raise sanity_error(response, action=action)
        try:
            payload = wire.loads(response.content)
        except ValueError as exc:
            raise UpstreamError(
                SERVICE, f"{action}: the answer is not JSON", retryable=True
            ) from exc
        if not isinstance(payload, Mapping) or "result" not in payload:
            raise UpstreamError(SERVICE, f"{action}: the answer has no result", retryable=True)
        return payload["result"]

    async def _documents(self, ids: Sequence[str]) -> dict[str, JSON]:
        """The current documents with these ids (uncached, published), by id."""
        result = await self._query(
            DOCUMENTS_QUERY, {"ids": list(ids)}, action="re-reading written documents"
        )
        return {str(d["_id"]): dict(d) for d in _docs(result) if "_id" in d}

    async def _settle(
        self, operations: Sequence[Operation], transaction_id: str, failure: UpstreamError
    ) -> Applied:
        """After a write whose outcome is unknown: did the transaction happen?

        It did if a target document now carries `_rev == transaction_id` (and then all of it
        did: a transaction is all or nothing). If none does but the documents already are what
        the operations would make (every created id exists, every patched field holds its new
        value), nothing needs writing and that is reported as unchanged. Otherwise nothing was
        written and `failure` is raised.
        """
        ids = _ids(op.id for op in operations)
        try:
            documents = await self._documents(ids)
        except UpstreamError as exc:
            raise UpstreamError(
                SERVICE,
                f"{failure.args[0].split(': ', 1)[-1]}; whether the write happened is unknown "
                "(re-reading failed too)",
                retryable=True,
            ) from exc
        ours = {i for i, d in documents.items() if d.get("_rev") == transaction_id}
        if ours:
            logger.warning(
                "sanity: transaction %s answered with an error but was applied", transaction_id
            )
            results = {
                op.id: (
                    "none"
                    if op.id not in ours
                    else "create"
                    if isinstance(op, CreateDoc)
                    else "update"
                )
                for op in operations
            }
            return _applied(operations, results, documents, transaction_id)
        if all(_in_place(op, documents) for op in operations):
            return _applied(operations, dict.fromkeys(ids, "none"), documents, transaction_id)
        raise failure


# ------------------------------------------------------------------------------- translation


def _ids(values: Any) -> list[str]:
    """Distinct non-blank strings, in order: never a null or "" inside an `in` (FM-47)."""
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value.strip():
            seen.setdefault(value, None)
    return list(seen)


def _docs(result: Any, key: str | None = None) -> list[Mapping[str, Any]]:
    value = result.get(key) if key is not None and isinstance(result, Mapping) else result
    if not isinstance(value, list):
        return []
    return [d for d in value if isinstance(d, Mapping)]


def _raw_subscription(model: Subscription) -> Mapping[str, Any]:
    return model.raw


def _raw_user(model: SanityUser) -> Mapping[str, Any]:
    return model.raw


SubscriptionBuilder = Callable[[Mapping[str, Any]], Subscription]
UserBuilder = Callable[[Mapping[str, Any]], SanityUser]


def _active(
    result: Any,
    subscription: SubscriptionBuilder = Subscription.from_json,
    user_of: UserBuilder = SanityUser.from_json,
) -> Related:
    """Active subscriptions with their dereferenced users (see ACTIVE_QUERY)."""
    subscriptions: list[Subscription] = []
    users: dict[str, SanityUser] = {}
    for doc in _docs(result):
        plain = dict(doc)
        user = plain.pop("passbotReferencedUser", None)
        subscriptions.append(subscription(plain))
        if isinstance(user, Mapping) and isinstance(user.get("_id"), str):
            users[user["_id"]] = user_of(user)
    return Related(subscriptions=tuple(subscriptions), users=tuple(users.values()))


def _related(
    result: Any,
    subscription: SubscriptionBuilder = Subscription.from_json,
    user_of: UserBuilder = SanityUser.from_json,
) -> Related:
    """Users and subscriptions; a subscription that came twice (RELATED_QUERY's two halves
    can both hold it) is kept once, at its first place."""
    seen: set[str] = set()
    subscriptions: list[Subscription] = []
    for doc in _docs(result, "subscriptions"):
        key = doc.get("_id")
        if isinstance(key, str):
            if key in seen:
                continue
            seen.add(key)
        subscriptions.append(subscription(doc))
    return Related(
        subscriptions=tuple(subscriptions),
        users=tuple(user_of(d) for d in _docs(result, "users")),
    )


def _mutation(op: Operation) -> JSON:
    if isinstance(op, CreateDoc):
        return {"createIfNotExists": dict(op.document)}
    patch: JSON = {"id": op.id, "set": dict(op.set)}
    if op.if_revision is not None:
        patch["ifRevisionID"] = op.if_revision
    return {"patch": patch}


def _results(response: httpx.Response) -> dict[str, str]:
    """`{id: operation}` from a mutation's answer (`create`, `update`, `none`, …)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    results = payload.get("results") if isinstance(payload, Mapping) else None
    out: dict[str, str] = {}
    for item in results if isinstance(results, list) else []:
        # Several mutations on one id: any write beats "none".
        if (
            isinstance(item, Mapping)
            and isinstance(item.get("id"), str)
            and out.get(item["id"]) in (None, "none")
        ):
            out[item["id"]] = str(item.get("operation") or "none")
    return out


def _applied(
    operations: Sequence[Operation],
    results: Mapping[str, str],
    documents: dict[str, JSON],
    transaction_id: str,
) -> Applied:
    """Sort the targets by what the transaction did to them (`results`: id → operation)."""
    created: list[str] = []
    patched: list[str] = []
    unchanged: list[str] = []
    for op in operations:
        outcome = results.get(op.id)
        if outcome is None:  # no result for the id: the document's _rev says who wrote it
            ours = documents.get(op.id, {}).get("_rev") == transaction_id
            outcome = ("create" if isinstance(op, CreateDoc) else "update") if ours else "none"
        if outcome == "none":
            unchanged.append(op.id)
        elif isinstance(op, CreateDoc):
            created.append(op.id)
        else:
            patched.append(op.id)
    created = _ids(created)
    patched = [i for i in _ids(patched) if i not in created]
    unchanged = [i for i in _ids(unchanged) if i not in created and i not in patched]
    return Applied(
        transaction_id=transaction_id,
        created=tuple(created),
        patched=tuple(patched),
        unchanged=tuple(unchanged),
        documents=documents,
    )


def _in_place(op: Operation, documents: Mapping[str, JSON]) -> bool:
    """Whether the documents already are what `op` would make of them."""
    current = documents.get(op.id)
    if current is None:
        return False
    if isinstance(op, CreateDoc):
        return True
    return all(
        "." not in key and "[" not in key and current.get(key) == value
        for key, value in op.set.items()
    )


def _error_body(response: httpx.Response) -> tuple[str | None, str, list[Mapping[str, Any]]]:
    """(type, description, items) from either of Sanity's error shapes."""
    try:
        payload = response.json()
    except ValueError:
        return None, _one_line(response.text) or response.reason_phrase, []
    if not isinstance(payload, Mapping):
        return None, response.reason_phrase, []
    error = payload.get("error")
    if isinstance(error, Mapping):  # nested: {"error": {"type", "description", "items"?}}
        items = error.get("items")
        return (
            str(error.get("type")) if error.get("type") else None,
            _one_line(str(error.get("description") or error.get("message") or "")),
            [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else [],
        )
    # flat: {"error": "Unauthorized", "message": "...", "statusCode": 401}
    message = payload.get("message") or error or response.reason_phrase
    return None, _one_line(str(message)), []


_PERMISSION = re.compile(r'permission\s+"?([A-Za-z_-]+)"?\s+required', re.IGNORECASE)


def sanity_error(response: httpx.Response, *, action: str) -> UpstreamError:
    """A safe, one-line `UpstreamError` for a failed Sanity answer (no token, no documents)."""
    status = response.status_code
    kind, description, items = _error_body(response)
    if status == 401:
        return UpstreamError(SERVICE, f"{action}: the token was rejected (401): {description}")
    if status == 403:
        permission = next(
            (
                str(i["error"].get("permission"))
                for i in items
                if isinstance(i.get("error"), Mapping) and i["error"].get("permission")
            ),
            None,
        )
        if permission is None and (found := _PERMISSION.search(description)):
            permission = found.group(1)
        missing = (
            f'the token lacks the "{permission}" permission'
            if permission
            else ("the token lacks a permission")
        )
        return UpstreamError(SERVICE, f"{action}: {missing} (403): {description}")
    if status == 429:
        return UpstreamError(
            SERVICE, f"{action}: rate limited (429): {description}", retryable=True
        )
    if status >= 500:
        return UpstreamError(
            SERVICE, f"{action}: Sanity answered {status}: {description}", retryable=True
        )
    label = f"{kind}: " if kind else ""
    return UpstreamError(SERVICE, f"{action}: Sanity answered {status}: {label}{description}")


def _stale(response: httpx.Response) -> StaleFixError | None:
    """A 409 saying a patched document changed or vanished since it was read; else None."""
    if response.status_code != 409:
        return None
    for item in _error_body(response)[2]:
        error = item.get("error")
        if not isinstance(error, Mapping):
            continue
        target = error.get("id") or "a document"
        if error.get("type") == "documentRevisionIDDoesNotMatchError":
            return StaleFixError(
                f"{target} changed since the fix was proposed (revision "
                f"{error.get('currentRevisionID')}, expected {error.get('expectedRevisionID')}); "
                "nothing was written"
            )
        if error.get("type") == "documentNotFoundError":
            return StaleFixError(f"{target} no longer exists; nothing was written")
    return None


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
