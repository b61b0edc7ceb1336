"""The watch's alert: the safe fixes applied (PASSBOT_AUTOFIX), then one post for the purchases
whose grace period ended without a pass, and a "likely outage" message when many did.

Every purchase posted was claimed in the run ledger under the early warning's key first; the
claims are finished when the post is made, and marked failed (so the next check retries) when
Slack refuses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.domain.findings import Finding
from core.domain.summary import AutofixOutcome
from core.domain.watch import OUTAGE_WINDOW, WatchAlert, outage_period, outage_suspected
from core.errors import UpstreamError
from core.ports import FindingHistory, RunLedger, WatchPoster, WatchState
from core.usecases.autofix import autofix
from core.usecases.jobs import AUTOFIX_ACTOR, WARNED
from core.usecases.services import Services

#: The run ledger's job for "likely outage" messages (one per hour at most).
OUTAGE = "watch.outage"


class Alerter:
    """Posts what the watch found (see the module's docstring)."""

    def __init__(
        self,
        *,
        services: Services,
        state: WatchState,
        ledger: RunLedger,
        history: FindingHistory,
        poster: WatchPoster | None,
        grace: timedelta,
        autofix: bool = False,
        autofix_actor: str = AUTOFIX_ACTOR,
    ) -> None:
        self.services = services
        self.state = state
        self.ledger = ledger
        self.history = history
        self.poster = poster
        self.grace = grace
        self.autofix = autofix
        self.autofix_actor = autofix_actor

    async def alert(
        self, findings: list[Finding], *, now: datetime
    ) -> tuple[WatchAlert, str | None]:
        """Fix what is safe (PASSBOT_AUTOFIX), then post everything once."""
        created = {f.key: now for f in findings}
        self.history.observe(findings, at=now, occurred=created)
        autofixed: tuple[AutofixOutcome, ...] = ()
        if self.autofix:
            autofixed = await autofix(
                self.services.fixes,
                self.history,
                findings,
                now=now,
                actor=self.autofix_actor,
                tolerate=(UpstreamError,),
            )
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
