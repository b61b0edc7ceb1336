"""`passbot serve`: the Slack app in Socket Mode (the default) or over HTTP (`/slack/events`, and
`/healthz` for a load balancer), with the scheduler posting to PASSBOT_CHANNEL (started with the
app, catching up at once; stopped first on shutdown, letting a run in progress finish). The shell
and the tests serve the app on loopback the same way."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Activity, approval_store, build_app, slack_retry_handlers
from bot.observe import HEALTH_PATH, METRICS_PATH, READY_PATH, Readiness, add_health_routes
from bot.scheduler import RunOutcome, Scheduler, jobs_for, running_scheduler
from bot.settings import Settings
from bot.slack_poster import SlackPoster
from bot.watcher import STRIPE_WEBHOOK_PATH, WebhookHandler, watching, webhook_handler
from core.errors import UpstreamError, UsageError
from core.usecases.approvals import Approvals
from core.usecases.jobs import Jobs
from core.usecases.services import Services

EVENTS_PATH = "/slack/events"
#: How long a stopping server lets running listeners finish, and the scheduler a run in
#: progress: together well within the 10 s a SIGTERM may take (bot/cli.py cuts off at 9 s).
DRAIN_SECONDS = 4.0
SCHEDULER_DRAIN_SECONDS = 4.0
SOCKET_LOGGER = logging.getLogger("slack_sdk.socket_mode")


def web_application(
    app: AsyncApp,
    readiness: Readiness | None = None,
    *,
    stripe_webhook: WebhookHandler | None = None,
) -> web.Application:
    """The app as an aiohttp application: POST /slack/events, and GET /healthz, /readyz and
    /metrics (`bot.observe`; /readyz answers 503 without a `readiness`); with the watch and
    PASSBOT_STRIPE_WEBHOOK_SECRET, POST /stripe/webhook too."""

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, AttributeError, TypeError):
            # Bolt parses `payload=` before it checks the signature: a body that is not a Slack
            # request gets a plain 400 here, not a 500 and a traceback in the log.
            return web.Response(status=400, text="the body is not a Slack request")
        response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    add_health_routes(web_app, readiness)
    if stripe_webhook is not None:
        web_app.router.add_post(STRIPE_WEBHOOK_PATH, stripe_webhook)
    return web_app


@asynccontextmanager
async def serving(
    app: AsyncApp | None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    readiness: Readiness | None = None,
    stripe_webhook: WebhookHandler | None = None,
) -> AsyncIterator[str]:
    """Serve the app over HTTP while the block runs (or, with no app, only the health and
    metrics endpoints); yields its base URL.

    Raises:
        UsageError: the address cannot be listened on (the port is taken, say).
    """
    if app is not None:
        web_app = web_application(app, readiness, stripe_webhook=stripe_webhook)
    else:
        web_app = web.Application()
        add_health_routes(web_app, readiness)
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as err:
            reason = err.strerror or str(err)
            raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def socket_mode(
    app: AsyncApp, app_token: str, *, url: str | None = None
) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect the app to Slack in Socket Mode while the block runs (to `url`, a Socket Mode
    URL already issued by `check_app_token`, so that Slack is asked once)."""
    # slack_sdk's own logger, not the app's: its reconnect loop logs at INFO and ERROR.
    handler = AsyncSocketModeHandler(app, app_token, logger=SOCKET_LOGGER)
    if url is not None:
        handler.client.wss_uri = url
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


async def check_app_token(settings: Settings) -> str:
    """Ask Slack once (apps.connections.open) whether the app-level token works; returns the
    Socket Mode URL it issued.

    Raises:
        UsageError: Slack refused the token (a bad setting: nothing retries it).
        UpstreamError: Slack could not be reached.
    """
    assert settings.slack_app_token is not None
    client = AsyncWebClient(base_url=settings.slack_api_url)
    try:
        answer = await client.apps_connections_open(
            app_token=settings.slack_app_token.get_secret_value()
        )
    except SlackApiError as err:
        code = err.response.get("error")
        raise UsageError(f"bad setting SLACK_APP_TOKEN: Slack refused it ({code})") from None
    except (SlackClientError, OSError, TimeoutError) as err:
        raise UpstreamError("slack", f"apps.connections.open failed: {type(err).__name__}") from err
    return str(answer.get("url") or "")


@dataclass(frozen=True, slots=True)
class ServeChecks:
    """What `serve` learnt before starting: who the bot is, and (Socket Mode) the URL Slack
    issued for the connection."""

    who: str
    socket_url: str | None


def check_listen(host: str, port: int) -> None:
    """Whether `host:port` can be listened on now (port 0, any free port, always can).

    Raises:
        UsageError: the port is taken, or the address is not this machine's.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            probe.bind(address)
    except OSError as err:
        reason = err.strerror or str(err)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None


async def preflight_serve(settings: Settings, *, http: bool, host: str, port: int) -> ServeChecks:
    """Everything `serve` checks before it starts: the settings its mode needs, the port(s) it
    listens on, the bot token (one auth.test) and, in Socket Mode, the app-level token (one
    apps.connections.open).

    Raises:
        UsageError: a setting is missing or refused, or a port is taken.
        UpstreamError: Slack refused the bot token or could not be reached.
    """
    needed = ("slack_bot_token", "slack_signing_secret" if http else "slack_app_token")
    missing = settings.missing(*needed)
    if missing:
        raise UsageError(f"missing settings: {', '.join(missing)}")
    if http:
        check_listen(host, port)
    elif settings.passbot_health_port is not None:
        check_listen(host, settings.passbot_health_port)
    who = await check_token(settings)
    return ServeChecks(who, None if http else await check_app_token(settings))


async def run_serve(
    settings: Settings,
    services: Services,
    *,
    http: bool,
    host: str,
    port: int,
    stop: asyncio.Event,
    announce: Callable[[str], None],
    checks: ServeChecks | None = None,
) -> int:
    """Run the bot until `stop` is set, then let running work finish; returns the exit status.
    `checks`: `preflight_serve`'s answer, when the caller asked before building the services.

    Raises:
        UsageError: a Slack setting the mode needs is missing or refused, or the port is taken.
        UpstreamError: Slack refused the bot token or could not be reached.
    """
    checked = checks or await preflight_serve(settings, http=http, host=host, port=port)
    who, socket_url = checked.who, checked.socket_url
    activity = Activity()
    channel = settings.passbot_channel
    watch_poster = slack_poster(settings, services, channel) if channel else None
    async with (
        jobs_for(settings, services) as jobs,
        watching(settings, services, jobs, watch_poster, announce) as watcher,
    ):
        app = build_app(settings, services, activity=activity, jobs=jobs)
        history = jobs.history
        readiness = Readiness(
            database=lambda: jobs.ledger.has_run("readyz", "probe"),
            open_findings=history.open_records,
        )
        if http:
            secret = settings.passbot_stripe_webhook_secret
            hook = (
                webhook_handler(secret.get_secret_value(), watcher)
                if watcher is not None and secret is not None and secret.get_secret_value()
                else None
            )
            async with serving(
                app, host=host, port=port, readiness=readiness, stripe_webhook=hook
            ) as url:
                readiness.slack = _true  # the token was accepted; Slack sends the requests
                announce(
                    f"passbot ({who}) serves Slack at {url}{EVENTS_PATH}; ready {url}{READY_PATH}"
                    f", metrics {url}{METRICS_PATH}, health {url}{HEALTH_PATH}"
                    + (f"; Stripe webhook {url}{STRIPE_WEBHOOK_PATH}" if hook else "")
                )
                await _serve_until(stop, settings, services, jobs, announce, readiness)
                await activity.idle(DRAIN_SECONDS)
        else:
            assert settings.slack_app_token is not None
            async with AsyncExitStack() as stack:
                if settings.passbot_health_port is not None:
                    url = await stack.enter_async_context(
                        serving(None, host=host, port=settings.passbot_health_port,
                                readiness=readiness)
                    )  # fmt: skip
                    announce(
                        f"ready {url}{READY_PATH}, metrics {url}{METRICS_PATH}, "
                        f"health {url}{HEALTH_PATH}"
                    )
                handler = await stack.enter_async_context(
                    socket_mode(app, settings.slack_app_token.get_secret_value(), url=socket_url)
                )
                readiness.slack = handler.client.is_connected
                announce(f"passbot ({who}) is connected to Slack in Socket Mode")
                await _serve_until(stop, settings, services, jobs, announce, readiness)
                await activity.idle(DRAIN_SECONDS)
    return 0


async def _true() -> bool:
    return True


async def _serve_until(
    stop: asyncio.Event,
    settings: Settings,
    services: Services,
    jobs: Jobs,
    announce: Callable[[str], None],
    readiness: Readiness,
) -> None:
    """Run the scheduler (readiness watching it) until `stop` is set."""
    async with scheduling(settings, services, jobs, announce) as scheduler:
        if scheduler is None:
            readiness.scheduler_off = True
        else:
            readiness.scheduler = lambda: scheduler.aps is not None and bool(scheduler.aps.running)
        await stop.wait()


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
        settings,
        services,
        poster,
        jobs=jobs,
        on_catch_up=catch_up_reporter(announce),
        drain=SCHEDULER_DRAIN_SECONDS,
    ) as scheduler:
        announce(
            f"scheduler posts to {channel} ({settings.passbot_timezone}): the summary daily at "
            "09:00, the sweep on Mondays, health on the first Monday, early warning every 15 min"
        )
        yield scheduler
