"""Health: the facts about the webhook and the configuration, judged into named checks.

Pure: the use case (`core.usecases.health`) gathers the facts through the ports; each function here
turns some of them into one `Check` of cli-contract.md (`health --json`), answering the failure
modes of domain.md §5 (FM-01 to FM-12, FM-30). A failed check says what to do about it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from core.domain.findings import Finding, Severity
from core.domain.models import JSON, WebhookLog, iso

#: The check names of cli-contract.md, in the order they are reported.
CHECK_NAMES = (
    "config",
    "stripe_access",
    "connect_accounts",
    "webhook_endpoint",
    "webhook_events_enabled",
    "webhook_duplicates",
    "webhook_probe",
    "webhook_deliveries",
    "webhook_log_errors",
    "sanity_write",
    "clerk_access",
    "pass_config",
)

#: The event the pass webhook must receive (FM-05, FM-08); `*` covers it too.
PASS_EVENT = "checkout.session.completed"  # noqa: S105 - an event type, not a secret
#: webhookLog rules of cli-contract.md.
ALARM_LOG_TYPES = ("signature_verification_failed", "configuration_error")
ALARM_WINDOW = timedelta(days=7)
STUCK_AFTER = timedelta(minutes=15)
MAX_ERROR_RATIO = 0.02
#: FM-06's indirect evidence counts only with at least this many unlogged deliveries.
SCOPE_MIN_EVENTS = 3

_REDEPLOY = (
    "reveal the endpoint's signing secret in Stripe, set it where the app reads it, redeploy"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One named health check: whether it passed, how bad a failure is, and what to do."""

    name: str
    ok: bool
    severity: str
    detail: str
    skipped: bool = False

    def to_json(self) -> JSON:
        """The contract's check object (plus `skipped`)."""
        return {
            "name": self.name,
            "ok": self.ok,
            "severity": self.severity,
            "detail": self.detail,
            "skipped": self.skipped,
        }


def passed(name: str, detail: str) -> Check:
    """A check that passed (severity `info`)."""
    return Check(name, True, Severity.INFO.value, detail)


def failed(name: str, detail: str, severity: Severity = Severity.CRITICAL) -> Check:
    """A check that failed."""
    return Check(name, False, severity.value, detail)


def unchecked(name: str, why: str) -> Check:
    """A check that could not be made: not ok (nothing says it is), marked `skipped`."""
    return Check(name, False, Severity.WARNING.value, f"not checked: {why}", skipped=True)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Every check, in the contract's order."""

    mode: str
    checks: tuple[Check, ...]
    checked_at: datetime
    service_errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> Check:
        """The check of this name."""
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> JSON:
        """The contract's `health --json` document (plus `checked_at`, `service_errors`)."""
        return {
            "ok": self.ok,
            "mode": self.mode,
            "checks": [c.to_json() for c in self.checks],
            "checked_at": iso(self.checked_at),
            "service_errors": list(self.service_errors),
        }


# ------------------------------------------------------------------------------------ config


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """Which settings are absent or malformed (names as environment variables).

    Attributes:
        missing_required: what the command cannot run without.
        malformed: (name, why) of settings that are set but unusable.
        missing_optional: what other parts need (Slack, the channel, approvers): named only.
    """

    missing_required: tuple[str, ...] = ()
    malformed: tuple[tuple[str, str], ...] = ()
    missing_optional: tuple[str, ...] = ()


def judge_config(facts: ConfigFacts) -> Check:
    """`config`: fails only on what the command cannot run without."""
    note = ""
    if facts.missing_optional:
        note = (
            f"; not set (the Slack bot needs them, health does not): "
            f"{', '.join(facts.missing_optional)}"
        )
    problems = [f"{name} is not set" for name in facts.missing_required]
    problems += [f"{name} {why}" for name, why in facts.malformed]
    if problems:
        return failed("config", f"{'; '.join(problems)}: set it in the environment or .env{note}")
    return passed("config", f"every setting health needs is present{note}")


# ------------------------------------------------------------------------------------ stripe


def judge_stripe_access(*, mode: str, dataset: str, error: str | None) -> Check:
    """`stripe_access`: the key works on the platform account, and its mode fits the dataset
    (FM-09: customers pay in live mode; the `production` dataset is live)."""
    if error is not None:
        return failed(
            "stripe_access",
            f"{error}: check STRIPE_API_KEY (a restricted key needs read access to Checkout "
            "Sessions, Events, Webhook Endpoints and Connected accounts)",
        )
    if mode == "test" and dataset == "production":
        return failed(
            "stripe_access",
            "the key is a test-mode key but SANITY_DATASET is production: customers pay in live "
            "mode, so their purchases are invisible to passbot (FM-09); use the live key",
        )
    if mode == "live" and dataset != "production":
        return failed(
            "stripe_access",
            f"the key is a live-mode key but SANITY_DATASET is {dataset!r}: passbot would read "
            "real purchases against a non-production dataset (FM-09)",
        )
    return passed("stripe_access", f"the {mode}-mode key reads the platform account")


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """One school's connected account: whether it could be read, and its Connect status as
    Stripe and as Sanity (the tenant's `stripeConnect`) say."""

    account: str
    tenant: str
    tenant_name: str
    error: str | None = None
    charges_enabled: bool | None = None
    payouts_enabled: bool | None = None
    sanity_charges_enabled: bool | None = None
    sanity_payouts_enabled: bool | None = None
    sanity_account_status: str | None = None


def _drift(a: AccountFacts) -> list[str]:
    out = []
    for label, sanity, stripe in (
        ("chargesEnabled", a.sanity_charges_enabled, a.charges_enabled),
        ("payoutsEnabled", a.sanity_payouts_enabled, a.payouts_enabled),
    ):
        if stripe is not None and sanity is not stripe:
            out.append(f"{label} is {_js(sanity)} in Sanity but {_js(stripe)} in Stripe")
    if a.sanity_account_status == "active" and a.charges_enabled is False:
        out.append("accountStatus is 'active' in Sanity but Stripe has charges disabled")
    return out


def _js(value: bool | None) -> str:
    return "unset" if value is None else str(value).lower()


def judge_connect_accounts(
    accounts: Sequence[AccountFacts], *, without_account: Sequence[str] = ()
) -> Check:
    """`connect_accounts`: every school's connected account can be read (FM-10), and Sanity's
    copy of its Connect status agrees with Stripe's (FM-30)."""
    note = ""
    if without_account:
        note = f"; schools with no connected account: {', '.join(without_account)}"
    if not accounts:
        return failed(
            "connect_accounts",
            "no school has stripeConnect.accountId: passbot cannot read any school's purchases"
            + note,
        )
    unreadable = [a for a in accounts if a.error is not None]
    drifted = [(a, d) for a in accounts if a.error is None and (d := _drift(a))]
    if unreadable:
        listed = "; ".join(f"{a.tenant_name} ({a.account}): {a.error}" for a in unreadable)
        return failed(
            "connect_accounts",
            f"{len(unreadable)} of {len(accounts)} connected accounts cannot be read: {listed}. "
            "Their purchases are unknown, not absent (FM-10): give the key access to them "
            "(a platform key of the same mode) or fix the tenant's accountId" + note,
        )
    if drifted:
        listed = "; ".join(f"{a.tenant_name} ({a.account}): {', '.join(d)}" for a, d in drifted)
        return failed(
            "connect_accounts",
            f"Sanity's Connect status is stale for {len(drifted)} school(s) — {listed}. Checkout "
            "trusts Sanity's copy (FM-30): refresh it from Stripe (the app's Connect status "
            "route), never force it" + note,
            Severity.WARNING,
        )
    return passed(
        "connect_accounts",
        f"all {len(accounts)} connected accounts readable; Connect status in Sanity matches "
        "Stripe" + note,
    )


# ----------------------------------------------------------------------------- the endpoint


def normalise_url(url: str | None) -> str:
    """A URL with scheme, `www.`, case of the host and a trailing slash ignored (FM-04)."""
    text = (url or "").strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{path}{query}"


def endpoints_for(endpoints: Iterable[Mapping[str, Any]], url: str) -> list[Mapping[str, Any]]:
    """The endpoints that point at `url` once normalised."""
    wanted = normalise_url(url)
    return [e for e in endpoints if normalise_url(str(e.get("url") or "")) == wanted]


def _enabled(endpoint: Mapping[str, Any]) -> bool:
    return endpoint.get("status") == "enabled"


def _listens(endpoint: Mapping[str, Any]) -> bool:
    events = endpoint.get("enabled_events") or []
    return PASS_EVENT in events or "*" in events


def _name(endpoint: Mapping[str, Any]) -> str:
    return f"{endpoint.get('id')} ({endpoint.get('url')})"


@dataclass(frozen=True, slots=True)
class ScopeEvidence:
    """Indirect evidence of the endpoint's scope (FM-06), since Stripe's API does not say
    whether an endpoint listens to connected accounts: connected-account
    `checkout.session.completed` events that Stripe did not report as failed, and how many of
    them the platform's webhook logged (a `webhookLog` with their event or session id)."""

    delivered: int = 0
    logged: int = 0
    signature_errors: int = 0


_SCOPE_UNKNOWN = (
    "Stripe's API does not say whether it listens to connected accounts: confirm "
    "'Events from: Connected accounts' in the Dashboard (FM-06)"
)


def judge_webhook_endpoint(
    endpoints: Sequence[Mapping[str, Any]] | None,
    url: str | None,
    *,
    error: str | None = None,
    scope: ScopeEvidence | None = None,
) -> Check:
    """`webhook_endpoint`: an enabled endpoint is registered at PASSBOT_WEBHOOK_URL (FM-05,
    FM-08), at that exact URL (FM-07), and listening to connected accounts (FM-06)."""
    name = "webhook_endpoint"
    if not url:
        return unchecked(name, "PASSBOT_WEBHOOK_URL is not set")
    if endpoints is None:
        return failed(name, f"could not list webhook endpoints: {error}")
    mine = endpoints_for(endpoints, url)
    if not mine:
        others = ", ".join(_name(e) for e in endpoints) or "none"
        return failed(
            name,
            f"no webhook endpoint is registered for {url} (registered: {others}); no purchase "
            "is fulfilled without it (FM-05): add one in the Stripe Dashboard with Events "
            f"from 'Connected accounts' and the event {PASS_EVENT}",
        )
    enabled = [e for e in mine if _enabled(e)]
    if not enabled:
        states = ", ".join(f"{_name(e)}: {e.get('status')}" for e in mine)
        return failed(
            name,
            f"the endpoint for {url} is not enabled ({states}); Stripe disables an endpoint "
            "after sustained failures (FM-08): fix the cause (see webhook_probe and "
            "webhook_log_errors), re-enable it, resend the failed events, then run "
            "`passbot check` over the outage",
        )
    exact = [e for e in enabled if str(e.get("url") or "").strip() == url.strip()]
    if not exact:
        return failed(
            name,
            f"the endpoint is registered at {enabled[0].get('url')}, not at {url}: a www/apex "
            "or scheme difference makes Stripe's deliveries meet a redirect, which counts as "
            "a failure (FM-07); register the endpoint at the exact URL that answers",
        )
    declared = [e.get("connect") for e in exact if isinstance(e.get("connect"), bool)]
    if declared and not any(declared):
        return failed(
            name,
            f"{_name(exact[0])} listens to the platform account only; pass purchases are "
            "connected-account events (FM-06): create a Connect endpoint (Events from: "
            "Connected accounts) at the same URL and retire this one",
        )
    if (
        not declared
        and scope is not None
        and scope.delivered >= SCOPE_MIN_EVENTS
        and scope.logged == 0
        and scope.signature_errors == 0
    ):
        return failed(
            name,
            f"{scope.delivered} checkout.session.completed events on connected accounts were "
            "not reported as failed, yet the webhook logged none of them: the endpoint does not "
            "seem to receive connected-account events (FM-06); set 'Events from: Connected "
            "accounts' in the Dashboard",
        )
    if declared:
        scope_note = "listens to connected accounts"
    else:
        scope_note = _SCOPE_UNKNOWN
        if scope is not None and scope.logged:
            scope_note += (
                f"; the webhook logged {scope.logged} of {scope.delivered} connected-account "
                "purchases, so it does receive them"
            )
    return passed(name, f"{_name(exact[0])} is enabled; {scope_note}")


def judge_webhook_events(
    endpoints: Sequence[Mapping[str, Any]] | None, url: str | None, *, error: str | None = None
) -> Check:
    """`webhook_events_enabled`: the endpoint lists `checkout.session.completed` or `*`
    (FM-08; `*` counts as covered, which the platform's own scripts got wrong)."""
    name = "webhook_events_enabled"
    if not url:
        return unchecked(name, "PASSBOT_WEBHOOK_URL is not set")
    if endpoints is None:
        return failed(name, f"could not list webhook endpoints: {error}")
    mine = endpoints_for(endpoints, url)
    if not mine:
        return failed(name, f"no endpoint for {url} (see webhook_endpoint)")
    candidates = [e for e in mine if _enabled(e)] or mine
    listening = [e for e in candidates if _listens(e)]
    if not listening:
        listed = ", ".join(candidates[0].get("enabled_events") or []) or "none"
        return failed(
            name,
            f"{_name(candidates[0])} does not listen to {PASS_EVENT} (its events: {listed}): "
            f"add {PASS_EVENT} to the endpoint's events in the Dashboard (FM-08)",
        )
    events = listening[0].get("enabled_events") or []
    how = "all events (*)" if "*" in events else PASS_EVENT
    return passed(name, f"{_name(listening[0])} listens to {how}")


def judge_webhook_duplicates(
    endpoints: Sequence[Mapping[str, Any]] | None, url: str | None, *, error: str | None = None
) -> Check:
    """`webhook_duplicates`: at most one enabled endpoint per URL once `www.`, a trailing slash
    and the scheme are ignored (FM-04: each has its own signing secret and the handler
    accepts one, so one endpoint's deliveries always fail)."""
    name = "webhook_duplicates"
    if endpoints is None:
        return failed(name, f"could not list webhook endpoints: {error}")
    by_url: dict[str, list[Mapping[str, Any]]] = {}
    for endpoint in endpoints:
        if _enabled(endpoint):
            by_url.setdefault(normalise_url(str(endpoint.get("url") or "")), []).append(endpoint)
    dupes = {u: es for u, es in by_url.items() if len(es) > 1}
    wanted = normalise_url(url) if url else None
    note = ""
    if wanted:
        path = "/" + wanted.split("/", 1)[1] if "/" in wanted else ""
        same_path = [
            e for u, es in by_url.items() if u != wanted and path and u.endswith(path) for e in es
        ]
        if same_path:
            note = "; other enabled endpoints on the same path (on another host): " + ", ".join(
                _name(e) for e in same_path
            )
    if dupes:
        listed = "; ".join(", ".join(_name(e) for e in es) for es in dupes.values())
        return failed(
            name,
            f"several enabled endpoints deliver to the same URL: {listed}. Each has its own "
            "signing secret and the handler accepts only one, so one of them always fails "
            "(FM-04): keep one, delete the others" + note,
        )
    return passed(name, f"no duplicate endpoints among {len(endpoints)} registered" + note)


# ------------------------------------------------------------------------------------ probe


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """How the webhook URL answered an unsigned POST (no redirect followed).

    `status` is None when no answer came (`error` says why)."""

    url: str
    status: int | None
    location: str | None = None
    body: str = ""
    error: str | None = None


def _snippet(body: str, limit: int = 120) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def judge_probe(answer: ProbeAnswer | None, *, webhook_url: str | None = None) -> Check:
    """`webhook_probe`: an unsigned POST must meet 400 (reachable, and the handler verifies
    signatures with a configured secret). 500 means the secret is missing (FM-02); a 3xx is a
    redirect Stripe will not follow (FM-07); 404/405 no handler; no answer, unreachable."""
    name = "webhook_probe"
    if answer is None:
        return unchecked(name, "PASSBOT_WEBHOOK_URL is not set")
    target = webhook_url or answer.url
    body = f": {_snippet(answer.body)!r}" if answer.body.strip() else ""
    status = answer.status
    if status is None:
        return failed(
            name,
            f"{target} could not be reached ({answer.error}): every delivery fails; check the "
            "deployment and DNS",
        )
    if status == 400:
        return passed(
            name, f"{target} answered 400 to an unsigned POST{body}: reachable, secret set"
        )
    if status == 500:
        return failed(
            name,
            f"{target} answered 500{body}: the webhook secret is missing in the deployment "
            "(FM-02); set the variable the deployed code reads (STRIPE_WEBHOOK_SECRET or its "
            "_PROD/_LOCAL pair), redeploy, then resend the failed events",
        )
    if 300 <= status < 400:
        where = answer.location or "nowhere (no Location header)"
        return failed(
            name,
            f"{target} redirects to {where} ({status}); Stripe does not follow redirects, so "
            "every delivery fails (FM-07): register the endpoint at the URL that answers "
            "directly, then resend the failed events",
        )
    if status in (404, 405):
        return failed(
            name,
            f"{target} answered {status}{body}: no webhook handler at this URL; check the path "
            "of PASSBOT_WEBHOOK_URL and the endpoint in Stripe",
        )
    if 200 <= status < 300:
        return failed(
            name,
            f"{target} accepted an unsigned POST ({status}): the handler does not verify "
            "Stripe's signature, so anyone can fake a purchase; make it verify the signature",
        )
    return failed(
        name,
        f"{target} answered {status}{body} to an unsigned POST (expected 400): Stripe's "
        "deliveries will fail the same way; check the deployment (protection, auth, errors)",
    )


# ------------------------------------------------------------------------------- deliveries


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """One account's `checkout.session.*` events that Stripe failed to deliver (the
    `delivery_success=false` filter), or why they could not be read."""

    account: str
    tenant_name: str | None = None
    undelivered: tuple[str, ...] = ()
    error: str | None = None


def judge_deliveries(accounts: Sequence[DeliveryFacts], *, days: int) -> Check:
    """`webhook_deliveries`: no `checkout.session.*` event in the lookback on any account has
    `delivery_success` false (FM-01)."""
    name = "webhook_deliveries"
    failing = [a for a in accounts if a.undelivered]
    unread = [a for a in accounts if a.error is not None]
    parts = []
    for a in failing:
        shown = ", ".join(a.undelivered[:3]) + ("…" if len(a.undelivered) > 3 else "")
        parts.append(f"{_label(a)}: {len(a.undelivered)} ({shown})")
    unread_note = "; could not read the events of " + "; ".join(
        f"{_label(a)} ({a.error})" for a in unread
    )
    if failing:
        total = sum(len(a.undelivered) for a in failing)
        return failed(
            name,
            f"{total} checkout event(s) Stripe could not deliver in the last {days} days — "
            f"{'; '.join(parts)}. Fix the cause (webhook_probe, webhook_log_errors), resend "
            "them from the Dashboard (Stripe keeps 30 days), then run `passbot check` over "
            "the outage: a resend alone misses older purchases (FM-01)"
            + (unread_note if unread else ""),
        )
    if unread:
        return failed(name, unread_note.removeprefix("; ").capitalize())
    return passed(
        name,
        f"every checkout event on {len(accounts)} account(s) in the last {days} days was delivered",
    )


def _label(a: DeliveryFacts) -> str:
    return f"{a.tenant_name} ({a.account})" if a.tenant_name else a.account


# ------------------------------------------------------------------------------ webhookLog


@dataclass(frozen=True, slots=True)
class LogVerdict:
    """What the `webhookLog` rules of cli-contract.md found."""

    alarms: tuple[WebhookLog, ...] = ()
    stuck: tuple[WebhookLog, ...] = ()
    judged: int = 0
    errored: tuple[str, ...] = ()
    error_groups: tuple[tuple[str, int], ...] = ()
    last_success: datetime | None = None
    signature_missing: int = 0

    @property
    def ratio(self) -> float:
        """Share of judged event ids whose latest outcome is `error`."""
        return len(self.errored) / self.judged if self.judged else 0.0


def read_webhook_logs(
    logs: Sequence[WebhookLog], *, now: datetime, lookback: timedelta
) -> LogVerdict:
    """Apply the contract's rules to the logs.

    * alarms: `signature_verification_failed` or `configuration_error` in the last 7 days;
    * stuck: `processing` older than 15 minutes with no `success` or `error` for the same
      `eventId` at or after it;
    * errored: of the distinct event ids (not `unknown`) with a `success` or `error` log in the
      lookback, those whose latest outcome (by `timestamp`) is `error`.
    """
    since = now - lookback
    alarms = tuple(
        log
        for log in logs
        if log.event_type in ALARM_LOG_TYPES
        and log.timestamp is not None
        and log.timestamp >= now - ALARM_WINDOW
    )
    outcomes: dict[str | None, list[datetime]] = {}
    latest: dict[str, tuple[datetime, WebhookLog]] = {}
    for log in logs:
        if log.status not in ("success", "error") or log.timestamp is None:
            continue
        outcomes.setdefault(log.event_id, []).append(log.timestamp)
        if log.event_id in (None, "unknown") or log.timestamp < since:
            continue
        assert log.event_id is not None
        seen = latest.get(log.event_id)
        if seen is None or log.timestamp >= seen[0]:
            latest[log.event_id] = (log.timestamp, log)
    stuck = tuple(
        log
        for log in logs
        if log.status == "processing"
        and log.timestamp is not None
        and now - log.timestamp > STUCK_AFTER
        and not any(t >= log.timestamp for t in outcomes.get(log.event_id, ()))
    )
    errored = sorted(eid for eid, (_, log) in latest.items() if log.status == "error")
    groups = Counter(
        _snippet(latest[eid][1].error or "(no error message)", 80) for eid in errored
    ).most_common(3)
    successes = [log.timestamp for log in logs if log.status == "success" and log.timestamp]
    return LogVerdict(
        alarms=alarms,
        stuck=stuck,
        judged=len(latest),
        errored=tuple(errored),
        error_groups=tuple(groups),
        last_success=max(successes) if successes else None,
        signature_missing=sum(1 for log in logs if log.event_type == "signature_missing"),
    )


def judge_webhook_logs(
    logs: Sequence[WebhookLog] | None,
    *,
    now: datetime,
    lookback: timedelta,
    error: str | None = None,
) -> Check:
    """`webhook_log_errors`: the `webhookLog` rules of cli-contract.md (FM-01, FM-02, FM-12)."""
    name = "webhook_log_errors"
    if logs is None:
        return failed(name, f"could not read webhookLog documents: {error}")
    v = read_webhook_logs(logs, now=now, lookback=lookback)
    days = lookback.days
    parts: list[str] = []
    severity = Severity.WARNING
    if v.alarms:
        severity = Severity.CRITICAL
        kinds = Counter(log.event_type for log in v.alarms)
        last = max(log.timestamp for log in v.alarms if log.timestamp)
        listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: str(kv[0])))
        advice = []
        if kinds.get("signature_verification_failed"):
            advice.append(
                "signatures fail: the app's secret is not this endpoint's or the body is "
                f"altered before verification (FM-01, FM-03) — {_REDEPLOY}"
            )
        if kinds.get("configuration_error"):
            advice.append(
                "the webhook secret is missing in the deployment (FM-02) — set the variable "
                "the deployed code reads and redeploy"
            )
        parts.append(
            f"{listed} in the last 7 days (last {iso(last)}): {'; '.join(advice)}; then "
            "resend the failed events and run `passbot check` over the outage"
        )
    if v.stuck:
        oldest = min(v.stuck, key=lambda log: log.timestamp or now)
        parts.append(
            f"{len(v.stuck)} event(s) stuck in 'processing' with no outcome (oldest "
            f"{oldest.event_id} at {iso(oldest.timestamp or now)}): the handler timed out or "
            "crashed mid-way (FM-12); check the host's function logs and run `passbot check`"
        )
    if v.ratio > MAX_ERROR_RATIO:
        groups = "; ".join(f"{msg!r} ×{n}" for msg, n in v.error_groups)
        parts.append(
            f"{len(v.errored)} of {v.judged} events ({v.ratio:.1%}) in the last {days} days "
            f"ended in error (more than {MAX_ERROR_RATIO:.0%}): {groups}. The handler answers "
            "200 anyway, so Stripe shows them delivered (FM-12): fix the cause and run "
            "`passbot check` to find the purchases left without a pass"
        )
    latest = f"last success {iso(v.last_success)}" if v.last_success else "no success logged"
    if parts:
        return failed(name, " | ".join(parts) + f" ({latest})", severity)
    extra = f"; {v.signature_missing} signature_missing" if v.signature_missing else ""
    return passed(
        name,
        f"no signature or configuration errors in 7 days, none stuck, {len(v.errored)} of "
        f"{v.judged} events ({v.ratio:.1%}) in error over {days} days; {latest}{extra}",
    )


# ---------------------------------------------------------------------- sanity, clerk, passes


def judge_sanity_write(can_write: bool | None, *, dataset: str, error: str | None = None) -> Check:
    """`sanity_write`: the token may create documents, asked with a dryRun mutation (FM-11)."""
    name = "sanity_write"
    if can_write is None:
        return failed(name, f"could not ask Sanity: {error}")
    if not can_write:
        return failed(
            name,
            f"the token may not write to {dataset!r} (a dryRun create was refused): passbot "
            "cannot apply any fix (FM-11); use an Editor token as SANITY_API_TOKEN",
        )
    return passed(name, f"the token may write to {dataset!r} (dryRun create accepted)")


def judge_clerk_access(error: str | None) -> Check:
    """`clerk_access`: a cheap Clerk call succeeds (lookups by email need it)."""
    if error is not None:
        return failed(
            "clerk_access",
            f"{error}: `diagnose` and /fixpass cannot find customers by email; check "
            "CLERK_SECRET_KEY and CLERK_API_URL",
            Severity.WARNING,
        )
    return passed("clerk_access", "the secret key lists users")


def judge_pass_config(findings: Sequence[Finding], *, error: str | None = None) -> Check:
    """`pass_config`: no purchasable pass whose configuration breaks fulfilment (FM-13, FM-31,
    FM-37), as `lint_passes` finds them."""
    name = "pass_config"
    if error is not None:
        return failed(name, f"could not read the passes: {error}")
    if not findings:
        return passed(name, "every pass on sale can be fulfilled")
    worst = Severity.CRITICAL if any(f.severity == Severity.CRITICAL for f in findings) else None
    listed = "; ".join(f.summary for f in findings[:5])
    more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
    return failed(
        name,
        f"{len(findings)} pass(es) on sale would fail or yield unusable passes: {listed}{more}. "
        "The school fixes the pass in the Studio; purchases of it need a person",
        worst or Severity.WARNING,
    )


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """Everything the checks judge, gathered by the use case."""

    now: datetime
    mode: str
    dataset: str
    lookback_days: int
    webhook_url: str | None
    config: ConfigFacts
    stripe_error: str | None = None
    accounts: tuple[AccountFacts, ...] = ()
    without_account: tuple[str, ...] = ()
    catalogue_error: str | None = None
    endpoints: tuple[Mapping[str, Any], ...] | None = None
    endpoints_error: str | None = None
    scope: ScopeEvidence | None = None
    probe: ProbeAnswer | None = None
    deliveries: tuple[DeliveryFacts, ...] = ()
    logs: tuple[WebhookLog, ...] | None = None
    logs_error: str | None = None
    can_write: bool | None = None
    sanity_error: str | None = None
    clerk_error: str | None = None
    pass_findings: tuple[Finding, ...] = ()
    service_errors: tuple[str, ...] = field(default=())


def judge(facts: HealthFacts) -> HealthReport:
    """Every check of the contract, in its order."""
    lookback = timedelta(days=facts.lookback_days)
    endpoints = list(facts.endpoints) if facts.endpoints is not None else None
    url = facts.webhook_url
    catalogue_missing = facts.catalogue_error is not None
    connect = (
        failed("connect_accounts", f"could not read the schools: {facts.catalogue_error}")
        if catalogue_missing
        else judge_connect_accounts(facts.accounts, without_account=facts.without_account)
    )
    deliveries = (
        failed("webhook_deliveries", f"could not read the schools: {facts.catalogue_error}")
        if catalogue_missing
        else judge_deliveries(facts.deliveries, days=facts.lookback_days)
    )
    checks = (
        judge_config(facts.config),
        judge_stripe_access(mode=facts.mode, dataset=facts.dataset, error=facts.stripe_error),
        connect,
        judge_webhook_endpoint(endpoints, url, error=facts.endpoints_error, scope=facts.scope),
        judge_webhook_events(endpoints, url, error=facts.endpoints_error),
        judge_webhook_duplicates(endpoints, url, error=facts.endpoints_error),
        judge_probe(facts.probe, webhook_url=url),
        deliveries,
        judge_webhook_logs(facts.logs, now=facts.now, lookback=lookback, error=facts.logs_error),
        judge_sanity_write(facts.can_write, dataset=facts.dataset, error=facts.sanity_error),
        judge_clerk_access(facts.clerk_error),
        judge_pass_config(facts.pass_findings, error=facts.catalogue_error),
    )
    return HealthReport(
        mode=facts.mode,
        checks=checks,
        checked_at=facts.now,
        service_errors=facts.service_errors,
    )


def config_only_report(config: ConfigFacts, *, mode: str, now: datetime) -> HealthReport:
    """The report when the services cannot even be built: `config` fails, the rest unchecked."""
    why = "a required setting is missing (see config)"
    checks = (judge_config(config), *(unchecked(n, why) for n in CHECK_NAMES[1:]))
    return HealthReport(mode=mode, checks=checks, checked_at=now)
