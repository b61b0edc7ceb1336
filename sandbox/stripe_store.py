"""The Stripe state of a world, indexed for fast lists.

Every object belongs to one account scope: a connected account's id, or the platform account's.
Within a scope, checkout sessions, events, webhook endpoints and accounts are kept in *listings*:
newest first (``created`` descending, ties broken by the world's order, later first), with a
position per id for cursors and a sorted key array for bisecting ``created`` ranges. A list request
then costs a bisect plus a walk over the matching positions, whatever the world's size.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, Any]
Predicate = Callable[[Item], bool]


@dataclass(frozen=True)
class CreatedRange:
    """A ``created`` filter: each bound is optional, all are epoch seconds."""

    gte: int | None = None
    gt: int | None = None
    lte: int | None = None
    lt: int | None = None


class Listing:
    """Objects of one kind in one scope, newest first."""

    def __init__(self, items: Iterable[Item]) -> None:
        given = list(items)
        created = [_created(item) for item in given]
        # Newest first; equal times keep the world's order reversed (a stable sort, reversed).
        order = sorted(range(len(given) - 1, -1, -1), key=created.__getitem__, reverse=True)
        self.items: list[Item] = [given[n] for n in order]
        self._keys: list[int] = [-created[n] for n in order]
        self.position: dict[str, int] = {str(item["id"]): n for n, item in enumerate(self.items)}
        self._indexes: dict[str, dict[Any, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Item) -> None:
        """Put a new object in its place (newest first; before older ones of the same second,
        as a later object of the world would be). Indexes are rebuilt on their next use."""
        key = -_created(item)
        at = bisect.bisect_left(self._keys, key)
        self.items.insert(at, item)
        self._keys.insert(at, key)
        for n in range(at, len(self.items)):
            self.position[str(self.items[n]["id"])] = n
        self._indexes.clear()

    def bounds(self, created: CreatedRange) -> tuple[int, int]:
        """The positions ``[lo, hi)`` whose ``created`` lies in the range."""
        lo, hi = 0, len(self._keys)
        # keys are -created, ascending.
        if created.lte is not None:
            lo = max(lo, bisect.bisect_left(self._keys, -created.lte))
        if created.lt is not None:
            lo = max(lo, bisect.bisect_right(self._keys, -created.lt))
        if created.gte is not None:
            hi = min(hi, bisect.bisect_right(self._keys, -created.gte))
        if created.gt is not None:
            hi = min(hi, bisect.bisect_left(self._keys, -created.gt))
        return lo, max(lo, hi)

    def index(self, name: str, key: Callable[[Item], Any]) -> dict[Any, list[int]]:
        """Positions by the value of ``key`` (built on first use, ascending positions)."""
        found = self._indexes.get(name)
        if found is None:
            found = {}
            for n, item in enumerate(self.items):
                value = key(item)
                if value is not None:
                    found.setdefault(value, []).append(n)
            self._indexes[name] = found
        return found

    def page(
        self,
        *,
        created: CreatedRange,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        candidates: Sequence[int] | None = None,
        predicate: Predicate | None = None,
    ) -> tuple[list[Item], bool]:
        """One page of a list request, and whether more items lie beyond it.

        ``candidates`` (ascending positions from an index) narrows the walk; ``predicate`` filters
        what remains. With ``ending_before`` the page holds the ``limit`` matches just newer than
        the cursor, still newest first, and ``has_more`` says whether there are newer ones still.
        """
        lo, hi = self.bounds(created)
        backwards = ending_before is not None
        if starting_after is not None:
            lo = max(lo, self.position[starting_after] + 1)
        if ending_before is not None:
            hi = min(hi, self.position[ending_before])
        found: list[Item] = []
        for n in self._walk(lo, hi, candidates, backwards):
            item = self.items[n]
            if predicate is None or predicate(item):
                found.append(item)
                if len(found) > limit:
                    break
        has_more = len(found) > limit
        found = found[:limit]
        if backwards:
            found.reverse()
        return found, has_more

    @staticmethod
    def _walk(lo: int, hi: int, candidates: Sequence[int] | None, backwards: bool) -> Iterator[int]:
        if hi <= lo:
            return iter(())
        if candidates is None:
            return iter(range(hi - 1, lo - 1, -1) if backwards else range(lo, hi))
        start = bisect.bisect_left(candidates, lo)
        stop = bisect.bisect_left(candidates, hi)
        chosen = candidates[start:stop]
        return reversed(chosen) if backwards else iter(chosen)


def _created(item: Item) -> int:
    value = item.get("created")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class Scope:
    """What one account (connected or the platform) holds."""

    sessions: list[Item] = field(default_factory=list)
    events: list[Item] = field(default_factory=list)
    payment_intents: dict[str, Item] = field(default_factory=dict)
    charges: dict[str, Item] = field(default_factory=dict)
    session_by_id: dict[str, Item] = field(default_factory=dict)
    session_listing: Listing = field(default_factory=lambda: Listing(()))
    event_listing: Listing = field(default_factory=lambda: Listing(()))


class StripeStore:
    """A world's ``stripe`` section, scoped by account and indexed."""

    def __init__(self, section: dict[str, Any]) -> None:
        self.platform: str = section.get("platform_account") or "acct_platform"
        self.livemode: bool = bool(section.get("livemode", False))
        self.accounts: dict[str, Item] = {a["id"]: a for a in section.get("accounts", [])}
        self.scopes: dict[str, Scope] = {self.platform: Scope()}
        for account_id in self.accounts:
            self.scope(account_id)
        for session in section.get("checkout_sessions", []):
            scope = self._scope_of(session.get("account"))
            scope.sessions.append(session)
            scope.session_by_id[session["id"]] = session
        for intent in section.get("payment_intents", []):
            self._scope_of(intent.get("account")).payment_intents[intent["id"]] = intent
        for charge in section.get("charges", []):
            self._scope_of(charge.get("account")).charges[charge["id"]] = charge
        for event in section.get("events", []):
            self._scope_of(event.get("account")).events.append(event)
        for scope in self.scopes.values():
            scope.session_listing = Listing(scope.sessions)
            scope.event_listing = Listing(scope.events)
        self.webhook_endpoints = Listing(section.get("webhook_endpoints", []))
        self.account_listing = Listing(
            a for a in self.accounts.values() if a["id"] != self.platform
        )

    def add(self, kind: str, item: Item) -> None:
        """Add one new object (``checkout_sessions``, ``payment_intents``, ``charges`` or
        ``events``, with its sandbox-only ``account``) to its account's scope."""
        scope = self._scope_of(item.get("account"))
        if kind == "checkout_sessions":
            scope.sessions.append(item)
            scope.session_by_id[item["id"]] = item
            scope.session_listing.add(item)
        elif kind == "payment_intents":
            scope.payment_intents[item["id"]] = item
        elif kind == "charges":
            scope.charges[item["id"]] = item
        elif kind == "events":
            scope.events.append(item)
            scope.event_listing.add(item)
        else:
            raise ValueError(f"cannot add {kind}")

    def _scope_of(self, account: Any) -> Scope:
        key = account if isinstance(account, str) and account else self.platform
        return self.scope(key)

    def scope(self, account: str) -> Scope:
        """The scope of an account id the caller may access (see :meth:`can_access`)."""
        found = self.scopes.get(account)
        if found is None:
            found = self.scopes[account] = Scope()
        return found

    def can_access(self, account: str) -> bool:
        """Whether the platform's key reaches ``account`` (itself or a listed connected account)."""
        return account == self.platform or account in self.accounts

    def account_object(self, account: str) -> Item:
        """The Account object of ``account``; the platform's is made up when the world has none."""
        found = self.accounts.get(account)
        if found is not None:
            return found
        return {
            "id": account,
            "object": "account",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "type": "standard",
        }
