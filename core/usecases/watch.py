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
from core.domain.findings import Finding, Kind
from core.domain.fixes import FixPlan
from core.domain.models import CheckoutSession, Window
from core.domain.reconcile import Reconciliation
from core.domain.summary import NO_PASS_KINDS, AutofixOutcome, autofixable
from core.domain.watch import (
    FIRST_LOOK,
    OUTAGE_WINDOW,
    WATCHED_EVENTS,
    Seen,
    WatchAlert,
    account_key,
    newest,
    outage_period,
    outage_suspected,
    seen_from_event,
)
from core.errors import NotFoundError, RefusedError, StaleFixError, UpstreamError, UsageError
from core.ports import EventFeed, FindingHistory, RunLedger, WatchPoster, WatchState
from core.usecases.jobs import AUTOFIX_ACTOR, WARNED
from core.usecases.services import Services

logger = logging.getLogger(__name__)

#: The run ledger's job for "likely outage" messages (one per hour at most).
OUTAGE = "watch.outage"
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
        self.autofix = autofix
        self.autofix_actor = autofix_actor

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
        sessions, gone = await self._sessions(due)
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
            alert, posted = await self._alert(claimed, now=now)
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

    async def _sessions(self, due: Sequence[Seen]) -> tuple[list[CheckoutSession], list[str]]:
        """Each due session read again from its own account (fresh: refunds, payment state)."""
        gate = asyncio.Semaphore(max(1, self.services.concurrency))

        async def one(seen: Seen) -> CheckoutSession | None:
            async with gate:
                return await self.services.payments.find_session(
                    seen.session, accounts=[seen.account or None]
                )

        found = await asyncio.gather(*(one(s) for s in due))
        sessions = [s for s in found if s is not None]
        gone = [s.session for s, f in zip(due, found, strict=True) if f is None]
        return sessions, gone

    def _claim(self, session: str, now: datetime) -> bool:
        """Claim the purchase for posting (once across replicas, restarts, the early warning)."""
        return self.ledger.claim_run(WARNED, session, at=now)

    async def _alert(
        self, findings: list[Finding], *, now: datetime
    ) -> tuple[WatchAlert, str | None]:
        """Fix what is safe (PASSBOT_AUTOFIX), then post everything once."""
        created = {f.key: now for f in findings}
        self.history.observe(findings, at=now, occurred=created)
        autofixed = await self._autofix(findings, now=now) if self.autofix else ()
        recent = self.state.alerted_since(now - OUTAGE_WINDOW) + len(findings)
        outage = outage_suspected(recent) and self.ledger.claim_run(
            OUTAGE, outage_period(now), at=now
        )
        alert = WatchAlert(
            generated_at=now,
            grace=self.grace,
            findings=tuple(findings),
            autofixed=autofixed,
            outage=outage,
            unfulfilled_recently=recent,
        )
        assert self.poster is not None
        try:
            posted = await self.poster.post_watch(alert)
        except UpstreamError:
            for finding in findings:
                assert finding.session is not None
                self.ledger.finish_run(WARNED, finding.session, at=now, status="failed")
            if outage:
                self.ledger.finish_run(OUTAGE, outage_period(now), at=now, status="failed")
            raise
        for finding in findings:
            assert finding.session is not None
            self.ledger.finish_run(WARNED, finding.session, at=now, status="done")
        if outage:
            self.ledger.finish_run(OUTAGE, outage_period(now), at=now, status="done")
        return alert, posted

    async def _autofix(
        self, findings: Sequence[Finding], *, now: datetime
    ) -> tuple[AutofixOutcome, ...]:
        """The safe fixes, each re-derived and applied through the audited fix path; a fix that
        is no longer only the safe kind is left for a person."""

        def only_safe(plan: FixPlan) -> None:
            kinds = {f.kind for f in plan.resolves}
            if plan.refused or kinds - {Kind.MISSING_PASS}:
                raise RefusedError(plan.refused or f"the fix now also resolves {sorted(kinds)}")

        outcomes: list[AutofixOutcome] = []
        dismissed = self.history.dismissed_keys()
        for finding in findings:
            if not autofixable(finding) or finding.key in dismissed or finding.session is None:
                continue
            try:
                outcome = await self.services.apply_fix(
                    finding.session,
                    actor=self.autofix_actor,
                    source="autofix",
                    expect=only_safe,
                    look_first=(finding.account,),
                )
            except (RefusedError, StaleFixError, UsageError, NotFoundError, UpstreamError) as err:
                outcomes.append(AutofixOutcome(finding.session, finding.key, False, error=str(err)))
                continue
            result = outcome.applied_result
            written = tuple((result.created + result.patched) if result else ())
            outcomes.append(
                AutofixOutcome(
                    finding.session,
                    finding.key,
                    applied=bool(written) or outcome.already_fixed,
                    documents=written,
                    audit_id=outcome.audit_id,
                )
            )
            self.history.resolve([finding.key], at=now, by=self.autofix_actor)
        return tuple(outcomes)
