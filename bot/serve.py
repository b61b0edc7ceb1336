"""`passbot serve`: the Slack app in Socket Mode (the default) or over HTTP (`/slack/events`, and
`/healthz` for a load balancer). The shell and the tests serve it on loopback the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Activity, build_app
from bot.settings import Settings
from core.errors import UpstreamError, UsageError
from core.services import Services

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
#: How long a stopping server lets running work finish.
DRAIN_SECONDS = 20.0


def web_application(app: AsyncApp) -> web.Application:
    """The app as an aiohttp application: POST /slack/events and GET /healthz."""

    async def events(request: web.Request) -> web.Response:
        response = await app.async_dispatch(await to_bolt_request(request))
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
    app = build_app(settings, services, activity=activity)
    if http:
        async with serving(app, host=host, port=port) as url:
            announce(
                f"passbot ({who}) serves Slack at {url}{EVENTS_PATH}; health {url}{HEALTH_PATH}"
            )
            await stop.wait()
            await activity.idle(DRAIN_SECONDS)
    else:
        assert settings.slack_app_token is not None
        async with socket_mode(app, settings.slack_app_token.get_secret_value()):
            announce(f"passbot ({who}) is connected to Slack in Socket Mode")
            await stop.wait()
            await activity.idle(DRAIN_SECONDS)
    return 0
