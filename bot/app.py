"""build_app(settings, services): the Slack app — middleware, error handler, listeners.

The app never calls Slack on its own: `authorize` hands Bolt the configured bot token, so there is
no `auth.test` per process (`passbot serve` checks the token once, on purpose, at start).
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener.async_listener_completion_handler import (
    AsyncListenerCompletionHandler,
)
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.container import build_links
from bot.dismiss_guard import require_approvers_to_dismiss
from bot.errors import handle_error
from bot.middleware import (
    Deliveries,
    RejectMalformed,
    drop_redeliveries,
    inject,
    keep_acks,
    require_approvers,
)
from bot.observe import CountSlackCalls, ObservedApp
from bot.settings import Settings
from core.adapters.cards import SqlCards
from core.adapters.store import SqlStore
from core.errors import UsageError
from core.ports import ApprovalStore
from core.usecases.approvals import Approvals
from core.usecases.batch import FixAll
from core.usecases.feedback import Feedback
from core.usecases.jobs import Jobs
from core.usecases.lookup import Lookup
from core.usecases.services import Services
from handlers.cards import CardMemory
from handlers.events.home import Homes


class Activity:
    """How many listeners are still working after their ack (the shell and `serve` wait)."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        """A listener began."""
        self._running += 1
        self._idle.clear()

    def finished(self) -> None:
        """A listener ended (after the error handler, if it failed)."""
        self._running = max(0, self._running - 1)
        if not self._running:
            self._idle.set()

    @property
    def running(self) -> int:
        """Listeners still running."""
        return self._running

    async def idle(self, timeout: float = 60) -> bool:  # noqa: ASYNC109 - a wait with a bound
        """Wait until no listener runs; False if `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def install(self, app: AsyncApp) -> None:
        """Count `app`'s listeners from now on."""
        runner = app.listener_runner
        runner.listener_start_handler = _Started(self)
        runner.listener_completion_handler = _Finished(self)


class _Started(AsyncListenerStartHandler):
    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        del request, response
        self.activity.started()


class _Finished(AsyncListenerCompletionHandler):
    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        del request, response
        self.activity.finished()


#: The longest `Retry-After` from Slack that is waited out; a longer one fails (named Slack).
MAX_SLACK_RETRY_AFTER = 30


class _RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits `Retry-After`, then retries), refusing to wait longer
    than MAX_SLACK_RETRY_AFTER: a command should fail and say so rather than hang."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        assert response is not None
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
        wait = values[0] if values else "1"
        return wait.isascii() and wait.isdigit() and int(wait) <= MAX_SLACK_RETRY_AFTER


def slack_retry_handlers() -> list[AsyncRetryHandler]:
    """Retries for passbot's Web API clients: connection errors (slack_sdk's default) and
    rate limits (429, honouring `Retry-After`), which the default does not retry; each call
    counted for `/metrics` (`CountSlackCalls`, first: it sees every try)."""
    return [CountSlackCalls(), *async_default_handlers(), _RateLimitRetry(max_retry_count=2)]


def approval_store(services: Services) -> ApprovalStore:
    """The store the approvals share with the audit log (passbot's SQLite file)."""
    if isinstance(services.audit, ApprovalStore):
        return services.audit
    raise UsageError("the audit log given cannot hold approvals (use passbot's SQLite store)")


def shared_cards(store: ApprovalStore) -> SqlCards | None:
    """The cards' blocks and leases in the approvals' database (PASSBOT_DB), which replicas
    share; none for a store without one."""
    return SqlCards(store.database) if isinstance(store, SqlStore) else None


class _NotAProblem(logging.Filter):
    """Drops Bolt's warning that the `client` given wins over SLACK_BOT_TOKEN in the
    environment: passbot gives both on purpose (the token comes from `authorize`), and the
    warning would be every start's first log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("passbot.slack")
    if not any(isinstance(f, _NotAProblem) for f in logger.filters):
        logger.addFilter(_NotAProblem())
    return logger


def build_app(
    settings: Settings,
    services: Services,
    *,
    store: ApprovalStore | None = None,
    activity: Activity | None = None,
    jobs: Jobs | None = None,
) -> AsyncApp:
    """The Bolt app over `services` (and, for /passhealth, /passstats, customer reports and
    "Not a problem", the scheduled jobs' use cases and finding history: `jobs`).

    Raises:
        UsageError: SLACK_BOT_TOKEN is not set.
    """
    if settings.slack_bot_token is None:
        raise UsageError("missing settings: SLACK_BOT_TOKEN")
    token = settings.slack_bot_token.get_secret_value()
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    state = store or approval_store(services)
    approvals = Approvals(services, state)
    app = ObservedApp(  # AsyncApp, each request with an id and its one log line
        name="passbot",
        logger=_bolt_logger(),
        # The token comes from authorize.
        client=AsyncWebClient(
            base_url=settings.slack_api_url, retry_handlers=slack_retry_handlers()
        ),
        signing_secret=secret,  # empty: every HTTP request is refused (Socket Mode needs none)
        authorize=authorize,
    )
    app.use(RejectMalformed())
    app.use(keep_acks)
    app.use(drop_redeliveries(Deliveries()))
    app.use(
        inject(
            services=services,
            approvals=approvals,
            tz=ZoneInfo(settings.passbot_timezone),
            jobs=jobs,
            feedback=Feedback(jobs.history, services.clock) if jobs is not None else None,
            fix_all=FixAll(
                approvals, dismissed=jobs.history.dismissed_keys if jobs is not None else None
            ),
            cards=CardMemory(shared_cards(state)),
            lookup=Lookup(services),
            homes=Homes(),
            approvers=settings.approvers,
            links=build_links(settings),
        )
    )
    app.use(require_approvers(settings.approvers, two_person=settings.passbot_two_person))
    app.use(
        require_approvers_to_dismiss(settings.approvers, two_person=settings.passbot_two_person)
    )
    app.error(handle_error)
    handlers.register(app)
    if activity is not None:
        activity.install(app)
    return app
