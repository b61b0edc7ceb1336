"""`passbot serve`: the Slack app in Socket Mode (the default) or over HTTP (`/slack/events`, and
`/healthz` for a load balancer), with the scheduler posting to PASSBOT_CHANNEL (started with the
app, catching up at once; stopped first on shutdown, letting a run in progress finish). The shell
and the tests serve the app on loopback the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Activity, approval_store, build_app, slack_retry_handlers
from bot.scheduler import RunOutcome, Scheduler, jobs_for, running_scheduler
from bot.settings import Settings
from bot.slack_poster import SlackPoster
from core.errors import UpstreamError, UsageError
from core.usecases.approvals import Approvals
from core.usecases.jobs import Jobs
from core.usecases.services import Services

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
#: How long a stopping server lets running work finish.
DRAIN_SECONDS = 20.0


def web_application(app: AsyncApp) -> web.Application:
    """The app as an aiohttp application: POST /slack/events and GET /healthz."""

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, AttributeError, TypeError):
            # Bolt parses `payload=` before it checks the signature: a body that is not a Slack
            # request gets a plain 400 here, not a 500 and a traceback in the log.
            return web.Response(status=400, text="the body is not a Slack request")
        response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


@asynccontextmanager
async def serving(app: AsyncApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the app over HTTP while the block runs; yields its base URL."""
    runner = web.AppRunner(web_application(app), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def socket_mode(app: AsyncApp, app_token: str) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect the app to Slack in Socket Mode while the block runs."""
    handler = AsyncSocketModeHandler(app, app_token)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in bolt
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in bolt


async def check_token(settings: Settings) -> str:
    """Ask Slack once (auth.test) whether the bot token works; returns "@bot in team".

    Raises:
        UpstreamError: Slack refused the token or could not be reached.
    """
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as err:
        code = err.response.get("error")
        raise UpstreamError("slack", f"the bot token was refused: {code}") from None
    except (SlackClientError, OSError) as err:
        raise UpstreamError("slack", f"auth.test failed: {type(err).__name__}") from err
    return f"@{answer.get('user')} in {answer.get('team')}"


async def run_serve(
    settings: Settings,
    services: Services,
    *,
    http: bool,
    host: str,
    port: int,
    stop: asyncio.Event,
    announce: Callable[[str], None],
) -> int:
    """Run the bot until `stop` is set, then let running work finish; returns the exit status.

    Raises:
        UsageError: a Slack setting the mode needs is missing.
        UpstreamError: Slack refused the token.
    """
    needed = ("slack_bot_token", "slack_signing_secret" if http else "slack_app_token")
    missing = settings.missing(*needed)
    if missing:
        raise UsageError(f"missing settings: {', '.join(missing)}")
    who = await check_token(settings)
    activity = Activity()
    async with jobs_for(settings, services) as jobs:
        app = build_app(settings, services, activity=activity, jobs=jobs)
        if http:
            async with serving(app, host=host, port=port) as url:
                announce(
                    f"passbot ({who}) serves Slack at {url}{EVENTS_PATH}; health {url}{HEALTH_PATH}"
                )
                async with scheduling(settings, services, jobs, announce):
                    await stop.wait()
                await activity.idle(DRAIN_SECONDS)
        else:
            assert settings.slack_app_token is not None
            async with socket_mode(app, settings.slack_app_token.get_secret_value()):
                announce(f"passbot ({who}) is connected to Slack in Socket Mode")
                async with scheduling(settings, services, jobs, announce):
                    await stop.wait()
                await activity.idle(DRAIN_SECONDS)
    return 0


def describe_runs(outcomes: Sequence[RunOutcome]) -> str:
    """ "summary 2026-11-28 posted, early_warning 2026-11-28T09:00 nothing to post"."""
    return ", ".join(
        f"{o.job} {o.period} {o.status.replace('_', ' ')}"
        + (f" ({o.error})" if o.error is not None else "")
        for o in outcomes
    )


def catch_up_reporter(announce: Callable[[str], None]) -> Callable[[list[RunOutcome]], None]:
    """Announce the first catch-up (whatever it did) and every later one that ran something."""
    first = True

    def report(outcomes: list[RunOutcome]) -> None:
        nonlocal first
        if outcomes:
            announce(f"scheduler caught up: {describe_runs(outcomes)}")
        elif first:
            announce("scheduler caught up: every job's latest period had run")
        first = False

    return report


def slack_poster(settings: Settings, services: Services, channel: str) -> SlackPoster:
    """The poster of the scheduled jobs: the bot token's client, PASSBOT_CHANNEL, approvals in
    passbot's store (the same proposals and claims as the app's buttons)."""
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        retry_handlers=slack_retry_handlers(),  # 429s are waited out, as the app's client does
    )
    approvals = Approvals(services, approval_store(services))
    return SlackPoster(client, channel, approvals, tz=ZoneInfo(settings.passbot_timezone))


@asynccontextmanager
async def scheduling(
    settings: Settings, services: Services, jobs: Jobs, announce: Callable[[str], None]
) -> AsyncIterator[Scheduler | None]:
    """The scheduler posting to PASSBOT_CHANNEL while the block runs (off, and said so, when the
    channel is not set)."""
    channel = settings.passbot_channel
    if not channel:
        announce("PASSBOT_CHANNEL is not set: the scheduler is off (no summaries or warnings)")
        yield None
        return
    poster = slack_poster(settings, services, channel)
    async with running_scheduler(
        settings, services, poster, jobs=jobs, on_catch_up=catch_up_reporter(announce)
    ) as scheduler:
        announce(
            f"scheduler posts to {channel} ({settings.passbot_timezone}): the summary daily at "
            "09:00, the sweep on Mondays, health on the first Monday, early warning every 15 min"
        )
        yield scheduler
