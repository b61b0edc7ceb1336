"""The facts a reconciliation reads, and the lookups over them that every check shares."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from core.domain.identity import reference_set, users_for_clerk_id
from core.domain.models import (
    AccountScan,
    Booking,
    CheckoutSession,
    ClerkUser,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    WebhookLog,
    looks_like_session_id,
)


@dataclass(frozen=True)
class Facts:
    """Everything read from the services for one reconciliation.

    `sessions` may hold sessions outside the window (they are used to tell whether a
    subscription is linked to a paid purchase); only those inside it are judged.
    `bookings` is None when bookings were not read: clip counts are then "unknown".
    """

    tenants: Sequence[Tenant] = ()
    passes: Sequence[Pass] = ()
    users: Sequence[SanityUser] = ()
    subscriptions: Sequence[Subscription] = ()
    sessions: Sequence[CheckoutSession] = ()
    accounts: Sequence[AccountScan] = ()
    webhook_logs: Sequence[WebhookLog] = ()
    bookings: Sequence[Booking] | None = None
    #: Clerk users of buyers with no Sanity user (FM-21); None when Clerk was not asked.
    clerk_users: Sequence[ClerkUser] | None = None


@dataclass
class Index:
    """Lookups over `Facts`, built once per reconciliation."""

    facts: Facts
    _refsets: dict[str, frozenset[str]] = field(default_factory=dict)

    @cached_property
    def tenants(self) -> dict[str, Tenant]:
        """Tenants by `_id`."""
        return {t.id: t for t in self.facts.tenants}

    @cached_property
    def tenant_by_account(self) -> dict[str, Tenant]:
        """Tenants by their Connect account id."""
        return {t.account_id: t for t in self.facts.tenants if t.account_id}

    @cached_property
    def passes(self) -> dict[str, Pass]:
        """Passes by `_id`, active or not (the webhook does not filter on `isActive`)."""
        return {p.id: p for p in self.facts.passes}

    @cached_property
    def pass_ids_by_tenant(self) -> dict[str, frozenset[str]]:
        """Each tenant's pass ids (for tenant-less legacy subscriptions, §1.10)."""
        grouped: dict[str, set[str]] = defaultdict(set)
        for p in self.facts.passes:
            if p.tenant_id:
                grouped[p.tenant_id].add(p.id)
        return {k: frozenset(v) for k, v in grouped.items()}

    @cached_property
    def users(self) -> dict[str, SanityUser]:
        """Users by `_id`."""
        return {u.id: u for u in self.facts.users}

    @cached_property
    def users_by_ref(self) -> dict[str, list[SanityUser]]:
        """Users under their `_id` and under their `clerkId`, in the facts' order: every user a
        Clerk id can name, without a scan of all users for each purchase."""
        grouped: dict[str, list[SanityUser]] = defaultdict(list)
        for u in self.facts.users:
            grouped[u.id].append(u)
            if u.clerk_id and u.clerk_id != u.id:
                grouped[u.clerk_id].append(u)
        return grouped

    @cached_property
    def clerk_ids(self) -> frozenset[str]:
        """Every `clerkId` some user carries."""
        return frozenset(u.clerk_id for u in self.facts.users if u.clerk_id)

    @cached_property
    def subs_by_session(self) -> dict[str, list[Subscription]]:
        """Subscriptions by `stripeSessionId`."""
        grouped: dict[str, list[Subscription]] = defaultdict(list)
        for s in self.facts.subscriptions:
            if s.stripe_session_id:
                grouped[s.stripe_session_id].append(s)
        return grouped

    @cached_property
    def subs_by_payment(self) -> dict[str, list[Subscription]]:
        """Subscriptions by any non-null payment id field (FM-47: never by null)."""
        grouped: dict[str, list[Subscription]] = defaultdict(list)
        for s in self.facts.subscriptions:
            for pid in set(s.payment_ids):
                grouped[pid].append(s)
        return grouped

    @cached_property
    def subs_by_user_ref(self) -> dict[str, list[Subscription]]:
        """Subscriptions by `user._ref`."""
        grouped: dict[str, list[Subscription]] = defaultdict(list)
        for s in self.facts.subscriptions:
            if s.user_ref:
                grouped[s.user_ref].append(s)
        return grouped

    @cached_property
    def subscriptions(self) -> dict[str, Subscription]:
        """Subscriptions by `_id`."""
        return {s.id: s for s in self.facts.subscriptions}

    @cached_property
    def sessions(self) -> dict[str, CheckoutSession]:
        """Every known session by id."""
        return {s.id: s for s in self.facts.sessions}

    @cached_property
    def sessions_by_payment(self) -> dict[str, CheckoutSession]:
        """Known sessions by PaymentIntent and Charge id."""
        out: dict[str, CheckoutSession] = {}
        for s in self.facts.sessions:
            for pid in (s.payment_intent, s.charge_id):
                if pid:
                    out[pid] = s
        return out

    @cached_property
    def logs_by_session(self) -> dict[str, list[WebhookLog]]:
        """The platform webhook's logs by `details.sessionId`."""
        grouped: dict[str, list[WebhookLog]] = defaultdict(list)
        for log in self.facts.webhook_logs:
            if log.session_id:
                grouped[log.session_id].append(log)
        return grouped

    def refset(self, clerk_id: str) -> frozenset[str]:
        """The reference set of a Clerk id (cached)."""
        if clerk_id not in self._refsets:
            named = self.users_by_ref.get(clerk_id, ())
            self._refsets[clerk_id] = reference_set(clerk_id, named)
        return self._refsets[clerk_id]

    @cached_property
    def clerk_by_id(self) -> dict[str, ClerkUser]:
        """Clerk users read for buyers with no Sanity user, by id."""
        return {c.id: c for c in self.facts.clerk_users or ()}

    def users_for_clerk_id(self, clerk_id: str) -> list[SanityUser]:
        """The users a Clerk id names: by `clerkId` (oldest first), then legacy `_id`."""
        return users_for_clerk_id(clerk_id, self.users_by_ref.get(clerk_id, ()))

    def user_for(self, clerk_id: str) -> SanityUser | None:
        """The user a new subscription should reference: `clerkId` match first, then legacy."""
        found = self.users_for_clerk_id(clerk_id)
        return found[0] if found else None

    def exact_matches(self, session: CheckoutSession) -> list[Subscription]:
        """Subscriptions linked to this session by its id or a non-null payment id (§7.2 1–2)."""
        seen: dict[str, Subscription] = {}
        for sub in self.subs_by_session.get(session.id, ()):
            seen[sub.id] = sub
        for pid in (session.payment_intent, session.charge_id):
            if pid:
                for sub in self.subs_by_payment.get(pid, ()):
                    seen[sub.id] = sub
        return list(seen.values())

    def linked_session(self, sub: Subscription) -> CheckoutSession | None:
        """The known session a subscription names, by session id or payment id."""
        if sub.stripe_session_id and (found := self.sessions.get(sub.stripe_session_id)):
            return found
        for pid in sub.payment_ids:
            if found := self.sessions_by_payment.get(pid):
                return found
        return None

    def is_linked_elsewhere(self, sub: Subscription, session: CheckoutSession) -> bool:
        """Linked to another *paid* purchase than `session` (then it is that purchase's pass).

        A link to a session that was read and is not paid (an abandoned checkout) does not
        count (cli-contract: "not already linked to another paid session"); a link to one that
        was not read does, since nothing shows it unpaid.
        """
        others: list[CheckoutSession | None] = []
        if looks_like_session_id(sub.stripe_session_id) and sub.stripe_session_id != session.id:
            others.append(self.sessions.get(sub.stripe_session_id or ""))
        own = {session.payment_intent, session.charge_id}
        others.extend(
            self.sessions_by_payment.get(pid) for pid in sub.real_payment_ids if pid not in own
        )
        return any(other is None or other.is_paid for other in others)
