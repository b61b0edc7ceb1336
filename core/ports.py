"""Interfaces the use cases need from the outside world. Implemented in core/adapters (Stripe,
Sanity, Clerk) and bot (the SQLite store, the clock), faked in tests.

Ports speak domain: they take and return `core.domain.models` types. Every adapter raises only
`core.errors.UpstreamError` (naming its service) for a failure of its service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.domain.findings import Finding, Operation
from core.domain.models import (
    JSON,
    Booking,
    CheckoutSession,
    ClerkUser,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    WebhookLog,
)

# Named in annotations only: a process that never uses these ports (`check`) never loads them.
if TYPE_CHECKING:
    from core.domain.approval import Claim, Press, Proposal
    from core.domain.health import HealthReport, ProbeAnswer
    from core.domain.metrics import FindingRecord
    from core.domain.summary import EarlyWarning, Summary
    from core.domain.watch import Seen, WatchAlert


class Clock(Protocol):
    """Where "now" comes from (a world's `now` in the sandbox, the wall clock otherwise)."""

    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...


class PaymentsSource(Protocol):
    """Stripe, read-only. `account=None` means the platform account."""

    @property
    def mode(self) -> str:
        """`live` or `test`, from the key (FM-09)."""
        ...

    def session_pages(
        self, account: str | None, *, since: datetime, until: datetime
    ) -> AsyncIterator[list[CheckoutSession]]:
        """Checkout Sessions created in [since, until], newest first, a page at a time, with
        the PaymentIntent and its latest Charge expanded (refunds and disputes, no extra calls).
        Raises UpstreamError when the account cannot be read."""
        ...

    async def find_session(
        self, session_id: str, *, accounts: Sequence[str | None]
    ) -> CheckoutSession | None:
        """The session with this id on whichever of `accounts` holds it, expanded as above."""
        ...

    async def webhook_endpoints(self) -> list[JSON]:
        """The platform's webhook endpoints, as Stripe returns them."""
        ...

    async def events(
        self,
        account: str | None,
        *,
        type_pattern: str,
        since: datetime,
        delivery_success: bool | None = None,
    ) -> list[JSON]:
        """Events of one account (Stripe keeps 30 days), filtered by type (wildcards allowed)."""
        ...

    async def account(self, account_id: str) -> JSON:
        """A connected account, as Stripe returns it (charges_enabled, payouts_enabled, …)."""
        ...

    async def find_session_by_payment(
        self, payment_id: str, *, accounts: Sequence[str | None]
    ) -> CheckoutSession | None:
        """The Checkout Session paid by this PaymentIntent (`pi_…`) or Charge (`ch_…`, `py_…`)
        on whichever of `accounts` holds it, expanded like a page; None if none does."""
        ...


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The small, slow-changing part of Sanity: schools and their passes."""

    tenants: tuple[Tenant, ...]
    passes: tuple[Pass, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """What Sanity holds about a set of purchases: their passes and their buyers."""

    subscriptions: tuple[Subscription, ...] = ()
    users: tuple[SanityUser, ...] = ()
    #: Clerk users of buyers with no Sanity user (FM-21); None when Clerk was not asked.
    clerk_users: tuple[ClerkUser, ...] | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """The result of one Sanity transaction, with the documents as re-read afterwards."""

    transaction_id: str | None
    created: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    documents: dict[str, JSON] = field(default_factory=dict)


class PassStore(Protocol):
    """Sanity: GROQ reads (never the CDN) and transactional, idempotent writes."""

    @property
    def dataset(self) -> str:
        """The dataset name (`production` is protected from test-mode writes, FM-09)."""
        ...

    async def catalogue(self) -> Catalogue:
        """Every tenant and pass, in one query."""
        ...

    async def related(
        self,
        *,
        session_ids: Sequence[str],
        payment_ids: Sequence[str],
        clerk_ids: Sequence[str],
        known_refs: Sequence[str] = (),
    ) -> Related:
        """In one query: subscriptions linked to these sessions or payment ids, every
        subscription of these buyers (their reference sets, for hand-made passes), and the
        buyers' user documents (by `clerkId` or legacy `_id`). Linked subscriptions whose
        `user._ref` is one of `known_refs` (held by the caller already) are left out."""
        ...

    async def active_subscriptions(self, *, now: datetime) -> Related:
        """Active, unexpired subscriptions and the users they reference (for the audit)."""
        ...

    def active_subscription_pages(
        self, *, now: datetime, page_size: int = 10000
    ) -> AsyncIterator[Related]:
        """The same, `page_size` passes per query, so an audit never holds them all at once."""
        ...

    async def customer(self, email: str, *, clerk_ids: Sequence[str]) -> Related:
        """Users with this email (any case) or these Clerk ids, and all their subscriptions."""
        ...

    async def bookings(self, references: Sequence[str]) -> list[Booking]:
        """Bookings made by these user references (they consumed clips)."""
        ...

    async def webhook_logs(self, *, since: datetime) -> list[WebhookLog]:
        """`webhookLog` documents written since `since`."""
        ...

    async def apply(self, operations: Sequence[Operation], *, transaction_id: str) -> Applied:
        """Apply the operations as one transaction: creates as `createIfNotExists` (ids are
        deterministic), patches guarded by `ifRevisionID`. Raises StaleFixError on a revision
        mismatch, UpstreamError otherwise; either way nothing is half-written."""
        ...

    async def can_write(self) -> bool:
        """Whether the token may write, checked with a `dryRun` mutation (FM-11)."""
        ...

    async def users_for_id(self, doc_id: str) -> list[SanityUser]:
        """The users a document id leads to: the user with that `_id` or `clerkId`, or the
        user a subscription with that `_id` references (by `_id` or Clerk id)."""
        ...

    async def named_users(self) -> list[SanityUser]:
        """Every user with a name (id, name, email, Clerk id, school only): a name lookup."""
        ...


class UserDirectory(Protocol):
    """Clerk's Backend API."""

    async def users_by_email(self, email: str) -> list[ClerkUser]:
        """Every Clerk user with this address (case-insensitive)."""
        ...

    async def users_by_id(self, ids: Sequence[str]) -> list[ClerkUser]:
        """Clerk users by id (unknown ids are skipped)."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One applied fix: append-only, never edited (the audit trail of every write)."""

    at: datetime
    actor: str
    action: str
    session: str | None
    documents: tuple[str, ...]
    transaction_id: str | None
    changes: JSON
    source: str = "cli"
    actor_email: str | None = None
    finding_kinds: tuple[str, ...] = ()
    id: int | None = None


class AuditLog(Protocol):
    """passbot's own append-only record of what it wrote, who approved it and when."""

    def record(self, entry: AuditEntry) -> int:
        """Append one entry; returns its id."""
        ...

    def recent(self, limit: int = 20) -> list[AuditEntry]:
        """The newest entries first."""
        ...


# ------------------------------------------------- health, finding history, scheduled jobs


class WebhookProbe(Protocol):
    """Sends the platform's webhook URL an unsigned POST, following no redirect (FM-02, FM-07)."""

    async def probe(self, url: str) -> ProbeAnswer:
        """How the URL answered; never raises (no answer is an answer with `error` set)."""
        ...


class RunLedger(Protocol):
    """Which scheduled runs happened: a run is keyed by its job and period, and claimed once,
    whatever the number of processes or restarts."""

    def claim_run(self, job: str, period_key: str, *, at: datetime) -> bool:
        """Claim the run; True for exactly one caller per (job, period). A run that failed
        before anything was posted may be claimed again."""
        ...

    def finish_run(self, job: str, period_key: str, *, at: datetime, status: str) -> None:
        """Record how the run ended: `done`, or `failed` (nothing posted; claimable again)."""
        ...

    def has_run(self, job: str, period_key: str) -> bool:
        """Whether the run was claimed (and not released by a failure)."""
        ...

    def last_runs(self) -> list[RunRecord]:
        """The latest run of each job (by claim time), for the App Home."""
        ...


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One scheduled run: its job, period, how it ended (`claimed` while running) and when."""

    job: str
    period: str
    status: str
    claimed_at: datetime
    finished_at: datetime | None = None


class FindingHistory(Protocol):
    """Each finding's life across runs, by `Finding.key`; and customer reports (metrics)."""

    def observe(
        self, findings: Sequence[Finding], *, at: datetime, occurred: dict[str, datetime]
    ) -> None:
        """Record that these findings were found at `at` (first seen, last seen; a fixed one
        found again is open again). `occurred`: finding key → its purchase's time."""
        ...

    def resolve(self, keys: Sequence[str], *, at: datetime, by: str) -> None:
        """Mark open findings fixed (`by`: who, or `observed` when a run found them gone)."""
        ...

    def age_out(self, keys: Sequence[str], *, at: datetime) -> None:
        """Mark open findings whose purchase left the lookback (neither fixed nor open)."""
        ...

    def dismiss(self, key: str, *, reason: str, by: str, at: datetime) -> bool:
        """Dismiss a finding as "not a problem", with the reason; False if it is unknown."""
        ...

    def records(self, *, since: datetime | None = None) -> list[FindingRecord]:
        """Findings last seen (or dismissed) at or after `since`; all without it."""
        ...

    def open_records(self) -> list[FindingRecord]:
        """Findings neither fixed, dismissed nor aged out."""
        ...

    def dismissed_keys(self) -> frozenset[str]:
        """Keys of every dismissed finding."""
        ...

    def record_report(self, *, at: datetime, subject: str, source: str) -> None:
        """A customer report (`/fixpass EMAIL`, `diagnose`); the subject is stored hashed."""
        ...

    def reports(self, *, since: datetime) -> list[datetime]:
        """When customer reports came in, since `since`."""
        ...


class Poster(Protocol):
    """Where the scheduled jobs deliver what they found: Slack's PASSBOT_CHANNEL (Block Kit,
    details in a thread, a fix button per finding), or text on the command line.

    Each method posts one message (with its thread) and returns an id of what was posted
    (Slack's `ts`), or None. Raise only when the main message was not posted: the run is then
    marked failed and tried again (a failed thread reply should be logged, not raised, or the
    message would be posted twice).
    """

    async def post_summary(self, summary: Summary) -> str | None:
        """The daily summary, or (kind `weekly`) the Monday sweep with its metrics."""
        ...

    async def post_warning(self, warning: EarlyWarning) -> str | None:
        """Fresh purchases with no pass, each with its fix; called only when there are some."""
        ...

    async def post_health(self, report: HealthReport) -> str | None:
        """The monthly health check."""
        ...


@runtime_checkable
class ApprovalStore(Protocol):
    """Where proposals, claims and presses live (passbot's SQLite store)."""

    def save_proposal(self, proposal: Proposal) -> None:
        """Keep a proposal (ids are unique)."""
        ...

    def proposal(self, proposal_id: str) -> Proposal | None:
        """A stored proposal."""
        ...

    def claim(
        self,
        key: str,
        *,
        proposal: str,
        holder: str,
        token: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim:
        """Take the claim on `key` unless another press holds it (atomically)."""
        ...

    def finish(self, key: str, *, token: str, now: datetime) -> None:
        """Mark the claim done (later presses of the same proposal are told so)."""
        ...

    def release(self, key: str, *, token: str) -> None:
        """Give the claim up: nothing was written, anyone may try again."""
        ...

    def record_press(self, press: Press) -> int:
        """Append one press; returns its id."""
        ...

    def presses(self, limit: int = 50) -> list[Press]:
        """The newest presses first."""
        ...


# ------------------------------------------------------------------------------ the watch


class EventFeed(Protocol):
    """Stripe's Events API, read forward from a cursor (the watch)."""

    async def new_events(
        self, account: str | None, *, types: Sequence[str], after: str | None, since: datetime
    ) -> list[JSON]:
        """Events of these types on one account newer than event `after` (or, without it or
        when Stripe no longer has it, created at or after `since`), oldest first."""
        ...


class WatchState(Protocol):
    """What the watch remembers in passbot's state database: a cursor per Stripe account, and
    the purchases it follows until their grace period ends. Shared by replicas."""

    def cursor(self, account: str) -> tuple[str, int] | None:
        """The last event seen on the account (`""` the platform): its id and `created`."""
        ...

    def advance(self, account: str, event_id: str, created: int, *, at: datetime) -> None:
        """Move the account's cursor forward (never back: a slower replica cannot rewind it)."""
        ...

    def follow(self, purchases: Sequence[Seen], *, at: datetime) -> int:
        """Follow these purchases (those already followed are ignored); how many are new."""
        ...

    def due(self, now: datetime, *, limit: int = 100) -> list[Seen]:
        """Followed purchases whose grace period has ended and that are not settled."""
        ...

    def next_due(self) -> datetime | None:
        """When the next followed purchase's grace period ends."""
        ...

    def settle(self, sessions: Sequence[str], *, outcome: str, at: datetime) -> None:
        """Stop following these purchases: `fulfilled`, `alerted`, `not_pass`, `gone`, …"""
        ...

    def alerted_since(self, since: datetime) -> int:
        """Purchases alerted (no pass after the grace period) paid at or after `since`."""
        ...


class WatchPoster(Protocol):
    """Where the watch posts purchases without a pass (PASSBOT_CHANNEL)."""

    async def post_watch(self, alert: WatchAlert) -> str | None:
        """Post the alert, its fixes offered; the message id."""
        ...


class CardStore(Protocol):
    """Slack cards shared by replicas (PASSBOT_DB): each card's latest blocks, and a lease that
    lets one press at a time update it, across processes. Calls are short statements."""

    def try_lock(self, channel: str, ts: str, holder: str, *, lease: float) -> bool:
        """Take the card's lease for `lease` seconds unless another holder has it unexpired."""
        ...

    def unlock(self, channel: str, ts: str, holder: str) -> None:
        """Give the lease back (only if `holder` still has it)."""
        ...

    def recall(self, channel: str, ts: str) -> list[JSON] | None:
        """The card's latest blocks, if kept."""
        ...

    def remember(self, channel: str, ts: str, blocks: Sequence[JSON]) -> None:
        """Keep the card's latest blocks."""
        ...
