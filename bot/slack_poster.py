"""A `Poster` (core.ports) that posts to Slack: the scheduled jobs' summaries, early warnings and
health checks go to PASSBOT_CHANNEL as Block Kit (handlers/blocks), details as thread replies.

The fix buttons are the /fixpass card's: before posting, each open finding's fix is proposed
through `Approvals.propose` (stored with its plan's hash, requested by the scheduler), so a press
is claimed, re-derived and applied exactly as on a card, by the approvers only. Only the main
message can fail a run (then nothing was posted and the run is tried again); a thread reply that
fails is logged, so a run is never posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import tzinfo

from slack_sdk.web.async_client import AsyncWebClient

from core.domain.findings import Finding
from core.domain.health import HealthReport
from core.domain.summary import EarlyWarning, Summary
from core.domain.watch import WatchAlert
from core.errors import UpstreamError
from core.usecases.approvals import Approvals
from core.usecases.proposals import Offer
from handlers.blocks.health import build_health_card
from handlers.blocks.kit import Message
from handlers.blocks.summary import FIX_ALL_MAX, build_summary_post, finding_order
from handlers.blocks.warning import build_warning_post
from handlers.blocks.watch import build_watch_post
from handlers.chart import chart_title, render_chart
from handlers.messages import post, upload_png

logger = logging.getLogger(__name__)

#: Who the proposals of a scheduled post are recorded as requested by (not a person, so the
#: two-person rule lets any approver approve them).
SCHEDULER = "passbot:scheduler"


class SlackPoster:
    """Posts what the scheduled jobs found to one channel."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        approvals: Approvals,
        *,
        tz: tzinfo,
        fix_limit: int = FIX_ALL_MAX,
    ) -> None:
        """Args:
        client: a Web API client holding the bot token.
        channel: PASSBOT_CHANNEL (the bot must be in it).
        approvals: where the fixes offered on the posts are proposed.
        fix_limit: purchases whose fixes are offered on one post (each costs a preview).
        """
        self.client = client
        self.channel = channel
        self.approvals = approvals
        self.tz = tz
        self.fix_limit = fix_limit

    async def post_summary(self, summary: Summary) -> str | None:
        """The daily summary or the weekly sweep, its fixes offered; the rest in its thread."""
        offers = await self._offers(summary.open_findings)
        main, thread = build_summary_post(summary, offers, tz=self.tz)
        ts = await self._post(main, thread)
        if summary.daily:  # the sweep: its 35-day chart in the thread
            await self._chart(summary, ts)
        return ts

    async def _chart(self, summary: Summary, ts: str) -> None:
        """Upload the chart to the post's thread; a failure is logged (the post stands)."""
        png = render_chart(summary.daily, subtitle=f"passbot weekly sweep · {summary.mode} mode")
        try:
            await upload_png(self.client, self.channel, png, filename="passbot-35-days.png",
                             title=chart_title(summary.daily), thread_ts=ts)  # fmt: skip
        except UpstreamError as err:
            logger.warning("the sweep's chart could not be uploaded: %s", err)

    async def post_warning(self, warning: EarlyWarning) -> str | None:
        """The early warning, each purchase with its fix."""
        offers = await self._offers(warning.findings)
        catalogue = await self.approvals.services.catalogue()
        schools = {t.id: t.name for t in catalogue.tenants}
        main, thread = build_warning_post(warning, offers, schools=schools, tz=self.tz)
        return await self._post(main, thread)

    async def post_watch(self, alert: WatchAlert) -> str | None:
        """The watch's alert: purchases without a pass after the grace period, each with its fix
        (those PASSBOT_AUTOFIX fixed, one line each)."""
        offers = await self._offers(alert.open_findings)
        catalogue = await self.approvals.services.catalogue()
        schools = {t.id: t.name for t in catalogue.tenants}
        main, thread = build_watch_post(alert, offers, schools=schools, tz=self.tz)
        return await self._post(main, thread)

    async def post_health(self, report: HealthReport) -> str | None:
        """The health check, each check with what to do."""
        return await self._post(build_health_card(report, tz=self.tz), [])

    async def _offers(self, findings: Sequence[Finding]) -> tuple[Offer, ...]:
        """Proposals for the findings' fixes, the most severe first (as the post orders them)."""
        ordered = sorted(findings, key=finding_order)
        return await self.approvals.propose(ordered, requested_by=SCHEDULER, limit=self.fix_limit)

    async def _post(self, main: Message, thread: Sequence[Message]) -> str:
        card = await post(self.client, self.channel, main)
        for n, reply in enumerate(thread, 1):
            try:
                await post(self.client, card.channel, reply, thread_ts=card.ts)
            except UpstreamError as err:
                logger.warning(
                    "thread reply %d of %d to %s failed: %s", n, len(thread), card.ts, err
                )
        return card.ts
