"""The watch inside `passbot serve` (core/usecases/watch.py): a loop that reads Stripe's events
every PASSBOT_WATCH_INTERVAL, checks each purchase the moment its PASSBOT_WATCH_GRACE ends, and
wakes at once when Stripe's webhook (`POST /stripe/webhook`, HTTP mode) says something happened
on an account. The webhook is verified with stripe-python against PASSBOT_STRIPE_WEBHOOK_SECRET
and only wakes the loop: the Events API stays the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from aiohttp import web

from bot.settings import Settings
from bot.slack_poster import SlackPoster
from core.adapters.stripe import StripePayments
from core.adapters.stripe_events import SignatureError, StripeEventFeed, verify_webhook
from core.adapters.watch_state import open_watch_state
from core.domain.watch import next_wake
from core.errors import CoreError
from core.usecases.jobs import Jobs
from core.usecases.services import Services
from core.usecases.watch import Watch

logger = logging.getLogger(__name__)

STRIPE_WEBHOOK_PATH = "/stripe/webhook"
#: After a failed round, wait at least this long (a service down is not asked in a loop).
RETRY_SECONDS = 5.0
#: The fewest seconds between two rounds (a burst of webhooks makes one round).
MIN_GAP_SECONDS = 0.2

WebhookHandler = Callable[[web.Request], Awaitable[web.Response]]


class Watcher:
    """Runs the watch: poll on the interval or when woken, check what fell due."""

    def __init__(self, watch: Watch, *, interval: float) -> None:
        self.watch = watch
        self.interval = interval
        self._woken: set[str | None] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.rounds = 0

    def wake(self, account: str | None) -> None:
        """Read this account's events now (a Stripe webhook said something happened there)."""
        self._woken.add(account)
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the round in progress."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Poll, check, sleep until the next poll or the next purchase's grace end; repeat."""
        next_poll = time.monotonic()
        while not self._stop.is_set():
            failed = False
            try:
                if time.monotonic() >= next_poll:
                    self._woken.clear()
                    next_poll = time.monotonic() + self.interval
                    await self.watch.poll()
                elif self._woken:
                    accounts = list(self._woken)
                    self._woken.clear()
                    await self.watch.poll(accounts)
                await self.watch.check()
            except CoreError as err:
                failed = True
                logger.warning("watch: %s", err)
            except Exception:
                failed = True
                logger.exception("watch: unexpected failure")
            self.rounds += 1
            await self._sleep(next_poll, failed)

    async def _sleep(self, next_poll: float, failed: bool) -> None:
        clock = self.watch.services.clock
        now = clock.now()
        due = self.watch.state.next_due()
        wall_poll = now + timedelta(seconds=max(0.0, next_poll - time.monotonic()))
        wake = next_wake(now, next_poll=wall_poll, next_due=due)
        delay = max(MIN_GAP_SECONDS, (wake - now).total_seconds())
        if failed:
            delay = max(delay, min(RETRY_SECONDS, self.interval))
        self._wake.clear()
        if self._woken or self._stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)


def webhook_handler(secret: str, watcher: Watcher) -> WebhookHandler:
    """`POST /stripe/webhook`: a verified event wakes the watch for its account (200); a bad,
    stale or missing signature is refused (400) and wakes nothing."""

    async def handle(request: web.Request) -> web.Response:
        payload = await request.read()
        try:
            event = verify_webhook(payload, request.headers.get("Stripe-Signature"), secret)
        except SignatureError as err:
            logger.warning("stripe webhook refused: %s", err)
            return web.json_response({"error": str(err)}, status=400)
        account = event.get("account")
        watcher.wake(account if isinstance(account, str) and account else None)
        return web.json_response({"received": True})

    return handle


@asynccontextmanager
async def watching(
    settings: Settings,
    services: Services,
    jobs: Jobs,
    poster: SlackPoster | None,
    announce: Callable[[str], None],
) -> AsyncIterator[Watcher | None]:
    """The watch running while the block runs (off, and said so, without PASSBOT_CHANNEL)."""
    if poster is None:
        yield None
        return
    if settings.passbot_now is not None:
        announce("watch: off — PASSBOT_NOW fixes the clock, so nothing new can happen")
        yield None
        return
    payments = services.payments
    assert isinstance(payments, StripePayments)
    state = open_watch_state(settings.passbot_db)
    watch = Watch(
        services=services,
        events=StripeEventFeed.of(payments),
        state=state,
        ledger=jobs.ledger,
        history=jobs.history,
        poster=poster,
        grace=timedelta(seconds=settings.passbot_watch_grace),
        autofix=settings.passbot_autofix,
    )
    watcher = Watcher(watch, interval=settings.passbot_watch_interval)
    task = asyncio.create_task(watcher.run(), name="passbot-watch")
    announce(
        f"watch: Stripe events every {settings.passbot_watch_interval:g} s, each purchase "
        f"checked {settings.passbot_watch_grace:g} s after payment"
        + (", fixed at once when safe (PASSBOT_AUTOFIX)" if settings.passbot_autofix else "")
    )
    try:
        yield watcher
    finally:
        watcher.stop()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            logger.warning("watch: a round was still going after 30 s; stopped")
        finally:
            state.close()
