"""The watch: every paid purchase followed as it happens, and posted at once when its grace
period ends without a pass (issue 13).

Two steps, each safe to run in any number of processes sharing passbot's state database:

* `poll` reads Stripe's Events API per account (the platform's and every school's) from the
  account's cursor — `checkout.session.completed` and `…async_payment_succeeded`, one request
  per account while nothing happens — and follows each paid session until `paid + grace`;
* `check` takes the purchases whose grace period ended, reads each session again (its own
  account only) and what Sanity holds for them (one query), and judges them with the
  reconciliation's own rule. A purchase with a pass is settled; one without is claimed in the
  run ledger under the early warning's key (so neither the watch in another replica nor the
  15-minute early warning posts it again), fixed at once when PASSBOT_AUTOFIX is on and the fix
  is the safe kind, and posted with its Approve button. Several at once make one "likely
  outage" message naming the health check to look at.

The Events API is the source of truth: a Stripe webhook only makes the next `poll` come sooner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain.facts import Facts
from core.domain.findings import Finding
from core.domain.models import CheckoutSession, Window
from core.domain.reconcile import Reconciliation
from core.domain.summary import NO_PASS_KINDS
from core.domain.watch import (
    FIRST_LOOK,
    WATCHED_EVENTS,
    Seen,
    WatchAlert,
    account_key,
    newest,
    seen_from_event,
)
from core.errors import UpstreamError
from core.ports import EventFeed, FindingHistory, RunLedger, WatchPoster, WatchState
from core.usecases.jobs import AUTOFIX_ACTOR, WARNED
from core.usecases.services import Services
from core.usecases.watch_alert import Alerter

logger = logging.getLogger(__name__)

#: Settled outcomes of a followed purchase.
FULFILLED, ALERTED, ELSEWHERE, NOT_PASS, GONE = (
    "fulfilled",
    "alerted",
    "alerted_elsewhere",
    "not_pass",
    "gone",
)


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll: accounts read, events received, purchases newly followed, accounts failed."""

    accounts: int
    events: int
    new: int
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of the purchases whose grace period ended."""

    due: int = 0
    fulfilled: int = 0
    alert: WatchAlert | None = None
    posted: str | None = None
    settled: dict[str, str] = field(default_factory=dict)


class Watch:
    """Follow paid purchases through Stripe's events; post those left without a pass."""

    def __init__(
        self,
        *,
        services: Services,
        events: EventFeed,
        state: WatchState,
        ledger: RunLedger,
        history: FindingHistory,
        poster: WatchPoster | None,
        grace: timedelta,
        autofix: bool = False,
        autofix_actor: str = AUTOFIX_ACTOR,
    ) -> None:
        """Args:
        events: Stripe's Events API.
        state: cursors and followed purchases (PASSBOT_DB).
        ledger: the run ledger: one claim per purchase posted, shared with the early warning.
        history: the finding history (what was found, and fixed, for the metrics).
        poster: where alerts go; None only reads (nothing is claimed or settled as alerted).
        grace: PASSBOT_WATCH_GRACE: how long after payment a purchase may have no pass.
        autofix: PASSBOT_AUTOFIX: apply the safe fix at once, through the audited path.
        """
        self.services = services
        self.events = events
        self.state = state
        self.ledger = ledger
        self.history = history
        self.poster = poster
        self.grace = grace
        self.alerter = Alerter(
            services=services,
            state=state,
            ledger=ledger,
            history=history,
            poster=poster,
            grace=grace,
            autofix=autofix,
            autofix_actor=autofix_actor,
        )

    # ---------------------------------------------------------------------------- poll

    async def accounts(self) -> list[str | None]:
        """Every school's connected account and the platform account (None)."""
        catalogue = await self.services.catalogue()
        return [account for account, _ in self.services.reader.accounts_of(catalogue)]

    async def poll(self, accounts: Sequence[str | None] | None = None) -> PollResult:
        """Read each account's new events; follow the paid purchases they announce.

        An account that cannot be read is named in the result and read again next time (its
        cursor has not moved); the others go on.
        """
        if accounts is None:
            accounts = await self.accounts()
        gate = asyncio.Semaphore(max(1, self.services.concurrency))

        async def one(account: str | None) -> tuple[int, int] | str:
            key = account_key(account)
            now = self.services.clock.now()
            cursor = self.state.cursor(key)
            since = datetime.fromtimestamp(cursor[1], tz=now.tzinfo) if cursor else now - FIRST_LOOK
            async with gate:
                try:
                    found = await self.events.new_events(
                        account,
                        types=WATCHED_EVENTS,
                        after=cursor[0] if cursor else None,
                        since=since,
                    )
                except UpstreamError as err:
                    logger.warning("watch: reading events of %s failed: %s", key or "platform", err)
                    return key or "platform"
            seen = [s for e in found if (s := seen_from_event(e, grace=self.grace)) is not None]
            new = self.state.follow(seen, at=now) if seen else 0
            latest = newest(found)
            if latest is not None:
                self.state.advance(key, latest[0], latest[1], at=now)
            return len(found), new

        results = await asyncio.gather(*(one(a) for a in accounts))
        counts = [r for r in results if not isinstance(r, str)]
        return PollResult(
            accounts=len(accounts),
            events=sum(c[0] for c in counts),
            new=sum(c[1] for c in counts),
            failed=tuple(r for r in results if isinstance(r, str)),
        )

    # --------------------------------------------------------------------------- check

    async def check(self) -> CheckResult:
        """Judge the purchases whose grace period ended; post those without a pass.

        Raises:
            UpstreamError: Sanity could not be read, or Slack refused the post (the purchases
                stay followed and their claims are released: the next check tries again).
        """
        now = self.services.clock.now()
        due = self.state.due(now)
        if not due:
            return CheckResult()
        sessions, gone = await reread(self.services, due)
        settled: dict[str, str] = dict.fromkeys(gone, GONE)
        catalogue = await self.services.catalogue()
        related = await self.services.reader.related_to(sessions)
        earliest = min(s.created for s in sessions) if sessions else now
        run = Reconciliation(
            tenants=catalogue.tenants,
            passes=catalogue.passes,
            now=now,
            window=Window(min(earliest, now), now),
            keep_purchases=True,
        )
        run.add_page(
            Facts(sessions=sessions, subscriptions=related.subscriptions, users=related.users)
        )
        judged = {p.session.id: p for p in run.purchases}
        missing: list[Finding] = []
        fulfilled = 0
        for session in sessions:
            purchase = judged.get(session.id)
            if purchase is None:
                settled[session.id] = NOT_PASS
                continue
            finding = next((f for f in purchase.findings if f.kind in NO_PASS_KINDS), None)
            if finding is None:
                settled[session.id] = FULFILLED
                fulfilled += 1
            elif self.poster is not None:
                missing.append(finding)
        claimed = [f for f in missing if f.session and self._claim(f.session, now)]
        for finding in missing:
            if finding not in claimed and finding.session:
                settled[finding.session] = ELSEWHERE
        alert = None
        posted = None
        if claimed:
            alert, posted = await self.alerter.alert(claimed, now=now)
            for finding in claimed:
                assert finding.session is not None
                settled[finding.session] = ALERTED
        for outcome in {*settled.values()}:
            self.state.settle(
                [s for s, o in settled.items() if o == outcome], outcome=outcome, at=now
            )
        return CheckResult(
            due=len(due), fulfilled=fulfilled, alert=alert, posted=posted, settled=settled
        )

    def _claim(self, session: str, now: datetime) -> bool:
        """Claim the purchase for posting (once across replicas, restarts, the early warning)."""
        return self.ledger.claim_run(WARNED, session, at=now)


async def reread(
    services: Services, due: Sequence[Seen]
) -> tuple[list[CheckoutSession], list[str]]:
    """Each due session read again from its own account (fresh: refunds, payment state); and
    the sessions no account has any more."""
    gate = asyncio.Semaphore(max(1, services.concurrency))

    async def one(seen: Seen) -> CheckoutSession | None:
        async with gate:
            return await services.payments.find_session(
                seen.session, accounts=[seen.account or None]
            )

    found = await asyncio.gather(*(one(s) for s in due))
    sessions = [s for s in found if s is not None]
    gone = [s.session for s, f in zip(due, found, strict=True) if f is None]
    return sessions, gone
