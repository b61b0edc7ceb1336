"""Reading the services: the window, the catalogue, every account's purchases, what a page needs.

Every use case reads through a `Reader`, so requests are made the same way everywhere: one
Stripe request per page, accounts read concurrently within a limit, one Sanity query per page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from core.domain.facts import Facts
from core.domain.identity import looks_like_clerk_id
from core.domain.models import AccountScan, Booking, CheckoutSession, Window
from core.domain.reconcile import Reconciliation
from core.errors import UpstreamError, UsageError
from core.ports import Catalogue, Clock, PassStore, PaymentsSource, Related, UserDirectory
from core.usecases.buyers import BuyerMemory

#: Called as pages arrive: (account label, sessions read so far in total).
Progress = Callable[[str, int], None]

#: How an account scan names the platform's own account (pre-Connect purchases, FM-10).
PLATFORM = "platform"


@dataclass
class Reader:
    """Reads purchases and the documents about them through the ports."""

    payments: PaymentsSource
    passes: PassStore
    clock: Clock
    lookback_days: int = 35
    concurrency: int = 8
    #: Clerk, asked about buyers with no Sanity user (FM-21); None: not asked.
    users: UserDirectory | None = None

    def window(self, days: int | None) -> Window:
        """The window ending now and reaching back `days` (default: the configured lookback)."""
        if days is not None and days < 1:
            raise UsageError("--days must be at least 1")
        now = self.clock.now()
        return Window(now - timedelta(days=days or self.lookback_days), now)

    async def catalogue(self) -> Catalogue:
        """Tenants and passes (read once per use case)."""
        return await self.passes.catalogue()

    @staticmethod
    def accounts_of(
        catalogue: Catalogue, tenant: str | None = None
    ) -> list[tuple[str | None, str | None]]:
        """(account, tenant) pairs to read: every school's connected account, and the platform
        account for pre-Connect purchases (FM-10)."""
        pairs: list[tuple[str | None, str | None]] = [
            (t.account_id, t.id)
            for t in catalogue.tenants
            if t.account_id and (tenant is None or t.id == tenant)
        ]
        return [*pairs, (None, None)]

    async def scan(
        self,
        accounts: Sequence[tuple[str | None, str | None]],
        window: Window,
        *,
        on_page: Callable[[list[CheckoutSession]], object] | None = None,
        progress: Progress | None = None,
        collect: bool = True,
    ) -> tuple[list[CheckoutSession], list[AccountScan]]:
        """Read every session in the window on every account, concurrently within a limit
        (`collect=False`: hand each page to `on_page` and keep nothing).

        An account's pages follow each other (Stripe's cursor), but a page's `on_page` (its
        Sanity query and judgement) runs while the account's next page is fetched: one page
        in hand per account at most, and each account's pages handed over in order.
        """
        limit = asyncio.Semaphore(max(1, self.concurrency))
        sessions: list[CheckoutSession] = []
        scans: list[AccountScan] = []
        seen = [0]

        async def handle(page: list[CheckoutSession]) -> None:
            assert on_page is not None
            result = on_page(page)
            if asyncio.iscoroutine(result):
                await result

        async def one(account: str | None, tenant: str | None) -> None:
            label = account or PLATFORM
            pending: asyncio.Task[None] | None = None
            async with limit:
                try:
                    async for page in self.payments.session_pages(
                        account, since=window.start, until=window.end
                    ):
                        seen[0] += len(page)
                        if collect:
                            sessions.extend(page)
                        if pending is not None:
                            await pending
                            pending = None
                        if on_page is not None:
                            pending = asyncio.ensure_future(handle(page))
                        if progress is not None:
                            progress(label, seen[0])
                    if pending is not None:
                        await pending
                except UpstreamError as err:
                    if err.service != "stripe":
                        raise
                    if pending is not None:
                        await pending  # the pages read before the failure are still judged
                    scans.append(AccountScan(label, tenant, error=str(err), denied=err.denied))
                    return
                finally:
                    if pending is not None and not pending.done():
                        pending.cancel()  # only when leaving on another error
            scans.append(AccountScan(label, tenant))

        await asyncio.gather(*(one(a, t) for a, t in accounts))
        order = {a or PLATFORM: i for i, (a, _) in enumerate(accounts)}
        scans.sort(key=lambda s: order.get(s.account, 0))
        if scans and not any(s.ok for s in scans):
            raise stripe_down(scans)
        return sessions, scans

    async def related_to(
        self, page: Sequence[CheckoutSession], buyers: BuyerMemory | None = None
    ) -> Related:
        """One Sanity query for everything a page of purchases needs (with `buyers`, the run's
        memory: naming only the buyers no earlier page of the run has named)."""
        if not page:
            return Related()
        session_ids = [s.id for s in page]
        payment_ids = sorted({p for s in page for p in (s.payment_intent, s.charge_id) if p})
        clerk_ids = sorted({s.user_id for s in page if s.user_id})
        if buyers is None:
            related = await self.passes.related(
                session_ids=session_ids, payment_ids=payment_ids, clerk_ids=clerk_ids
            )
        else:
            related = await buyers.related(
                self._ask, session_ids=session_ids, payment_ids=payment_ids, clerk_ids=clerk_ids
            )
        return await self.with_clerk(page, related)

    async def _ask(
        self,
        session_ids: Sequence[str],
        payment_ids: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str],
    ) -> Related:
        return await self.passes.related(
            session_ids=session_ids,
            payment_ids=payment_ids,
            clerk_ids=clerk_ids,
            known_refs=known_refs,
        )

    async def with_clerk(self, page: Sequence[CheckoutSession], related: Related) -> Related:
        """Ask Clerk about the paid buyers Sanity has no user for (FM-21): one request, and
        none when every buyer has a user. If Clerk fails, they stay unknown (not absent)."""
        if self.users is None:
            return related
        known = {u.clerk_id for u in related.users} | {u.id for u in related.users}
        missing = sorted(
            {
                s.user_id
                for s in page
                if s.user_id
                and s.is_paid
                and s.user_id not in known
                and looks_like_clerk_id(s.user_id)
            }
        )
        if not missing:
            return related
        try:
            found = await self.users.users_by_id(missing)
        except UpstreamError as err:
            if err.service != "clerk":
                raise
            return related
        return replace(related, clerk_users=tuple(found))

    async def read_history(
        self, run: Reconciliation, catalogue: Catalogue, buyers: BuyerMemory | None = None
    ) -> None:
        """Read the purchases from before the window that the deferred passes may be paid by
        (their schools' accounts and the platform's, back to the oldest one's start), so that
        whether a pass is paid never depends on the window (cli-contract). Nothing is read when
        nothing waits. A read that fails leaves those passes judged on what is known."""
        since = run.horizon
        if since is None or since >= run.window.start:
            return
        schools = run.horizon_tenants
        accounts = [(a, t) for a, t in self.accounts_of(catalogue) if a is None or t in schools]

        async def on_page(page: list[CheckoutSession]) -> None:
            run.add_context_page(facts_of_page(page, await self.related_to(page, buyers)))

        try:
            window = Window(since, run.window.start)
            await self.scan(accounts, window, on_page=on_page, collect=False)
        except UpstreamError as err:
            if err.service != "stripe":
                raise


def facts_from(
    catalogue: Catalogue,
    sessions: Sequence[CheckoutSession],
    scans: Sequence[AccountScan],
    related: Sequence[Related],
    *,
    bookings: Sequence[Booking] | None = None,
) -> Facts:
    """The facts of several reads, each document once."""
    return Facts(
        tenants=catalogue.tenants,
        passes=catalogue.passes,
        users=list({u.id: u for r in related for u in r.users}.values()),
        subscriptions=list({s.id: s for r in related for s in r.subscriptions}.values()),
        sessions=list({s.id: s for s in sessions}.values()),
        accounts=list(scans),
        bookings=bookings,
        clerk_users=None
        if all(r.clerk_users is None for r in related)
        else [c for r in related for c in r.clerk_users or ()],
    )


def facts_of_page(page: Sequence[CheckoutSession], related: Related) -> Facts:
    """The facts of one page of purchases and what Sanity (and Clerk) hold about them."""
    return Facts(
        sessions=page,
        subscriptions=related.subscriptions,
        users=related.users,
        clerk_users=related.clerk_users,
    )


def stripe_down(scans: Sequence[AccountScan]) -> UpstreamError:
    """Every account failed: Stripe itself is failing (or the key is refused everywhere), so
    nothing can be said about any purchase — a service failure, never "nothing found"."""
    if all(s.denied for s in scans):
        why = "the key was refused on every account; check the key's access"
    else:
        why = "Stripe is failing (errors or timeouts on every account); try again later"
    first = scans[0].error or ""
    return UpstreamError("stripe", f"no account could be read: {why} ({first})")
