"""Plain-text rendering of reports for the command line: what a person reads in a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from core.domain.diagnose import Diagnosis
from core.domain.findings import Finding, Severity
from core.domain.links import Links
from core.domain.models import JSON
from core.domain.reconcile import ReconcileReport
from core.ports import AuditEntry
from core.usecases.fix import FixOutcome

MARK = {Severity.CRITICAL: "✖", Severity.WARNING: "!", Severity.INFO: "·"}


def _day(value: datetime, tz: tzinfo = UTC) -> str:
    """A time in the reader's zone, unlabelled: the zone is named once, at the top."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def zone_label(tz: tzinfo) -> str:
    """`times in Europe/Oslo`: said once per text output."""
    key = getattr(tz, "key", None)
    return f"times in {key or tz.tzname(None) or 'UTC'}"


def _url(url: str | None) -> str:
    return f"  <{url}>" if url else ""


def finding_lines(finding: Finding, *, indent: str = "  ") -> list[str]:
    """One finding: severity, kind, where, what, and the fix or why there is none."""
    where = " ".join(x for x in (finding.session, finding.tenant, finding.email) if x)
    lines = [
        f"{indent}{MARK[finding.severity]} {finding.severity.value:<8} {finding.kind.value}"
        + (f"  {where}" if where else ""),
        f"{indent}    {finding.summary}",
    ]
    if finding.fix is not None:
        hint = f"passbot fix {finding.session} --yes" if finding.session else "approve in Slack"
        lines.append(
            f"{indent}    fix: {finding.fix.action.value} {finding.fix.document_id}  ({hint})"
        )
        lines.extend(f"{indent}    or: {alt.label}" for alt in finding.fix.alternatives)
    elif finding.why_no_fix:
        lines.append(f"{indent}    no automatic fix: {finding.why_no_fix}")
    return lines


def render_check(report: ReconcileReport, *, mode: str, tz: tzinfo = UTC) -> str:
    """The daily summary as text."""
    rate = report.fulfilment_rate
    start, end = _day(report.window.start, tz), _day(report.window.end, tz)
    lines = [
        f"passbot check — {start} → {end} ({mode} mode; {zone_label(tz)})",
        "accounts: "
        + ", ".join(
            (f"{a.account} ({a.tenant}) " if a.tenant else f"{a.account} ")
            + ("ok" if a.ok else f"UNREACHABLE: {a.error}")
            for a in report.accounts
        ),
        f"{report.paid_pass_sessions} paid pass purchases · {report.with_pass} with a pass · "
        f"fulfilment {'—' if rate is None else f'{rate:.1%}'} · "
        f"{report.not_pass_sessions} other sessions (not passes, or unpaid)",
        "",
    ]
    if not report.findings:
        lines.append("No findings: every paid purchase has its pass.")
    else:
        lines.append(f"Findings ({len(report.findings)}):")
        for finding in report.findings:
            lines.extend(finding_lines(finding))
    return "\n".join(lines)


def render_diagnosis(diagnosis: Diagnosis, *, tz: tzinfo = UTC, links: Links | None = None) -> str:
    """`/fixpass EMAIL` as text: times in `tz` (named once), each id with its link."""
    links = links or Links()
    c = diagnosis.customer
    lines = [f"Customer {c.email}  ({zone_label(tz)})"]
    if c.users:
        for u in c.users:
            lines.append(
                f"  Sanity user {u.id}  clerkId={u.clerk_id}  tenant={u.tenant_id}  role={u.role}"
            )
            for url in (links.user(u.id), links.clerk_user(u.clerk_id)):
                if url:
                    lines.append(f"      {url}")
    else:
        lines.append("  no Sanity user has this email")
    if c.clerk_users:
        for cu in c.clerk_users:
            lines.append(
                f"  Clerk account {cu.id}  {', '.join(cu.emails)}{_url(links.clerk_user(cu.id))}"
            )
    else:
        lines.append("  no Clerk account has this email")
    lines.append("")
    lines.append(f"Purchases ({len(diagnosis.purchases)}):")
    for p in diagnosis.purchases:
        amount = (
            f"{p.session.amount_total / 100:g} {(p.session.currency or '').upper()}"
            if p.session.amount_total is not None
            else "?"
        )
        email_only = (
            " (linked by email only)" if p.session.id in diagnosis.linked_by_email_only else ""
        )
        lines.append(
            f"  {_day(p.session.created, tz)}  {p.pass_name or p.session.pass_id}  {amount}  "
            f"{p.tenant}  {p.session.id}  → {p.status}{email_only}"
        )
        lines.append(f"      stripe: {links.stripe_payment(p.session)}")
        for sub_id in p.subscriptions[:2]:
            if url := links.subscription(sub_id):
                lines.append(f"      pass:   {url}")
    if not diagnosis.purchases:
        lines.append("  none in the window")
    lines.append("")
    lines.append(f"Passes ({len(diagnosis.passes)}):")
    for v in diagnosis.passes:
        sub = v.subscription
        state = "visible" if v.seen.visible else "hidden"
        state += ", usable" if v.seen.usable else ", not usable"
        end = sub.end_date.astimezone(tz).strftime("%Y-%m-%d") if sub.end_date else "no end date"
        clips = f", {sub.remaining_clips} clips" if sub.remaining_clips is not None else ""
        lines.append(
            f"  {v.pass_name} [{sub.type}{clips}, until {end}] {v.tenant}  {sub.id}"
            f"{_url(links.subscription(sub.id))}\n      {state} — {v.seen.text}"
        )
    if not diagnosis.passes:
        lines.append("  none")
    lines.append("")
    if diagnosis.findings:
        lines.append(f"Findings ({len(diagnosis.findings)}):")
        for finding in diagnosis.findings:
            lines.extend(finding_lines(finding))
        lines.append("")
    lines.append(f"Verdict: {diagnosis.verdict}")
    return "\n".join(lines)


def _doc_lines(doc: JSON | None) -> list[str]:
    if not doc:
        return []
    keys = (
        "_id",
        "passName",
        "type",
        "remainingClips",
        "startDate",
        "endDate",
        "tenant",
        "user",
        "isActive",
        "purchasePrice",
    )
    out = []
    for key in keys:
        if key in doc:
            value = doc[key]
            if isinstance(value, dict) and "_ref" in value:
                value = value["_ref"]
            out.append(f"    {key}: {value}")
    return out


def render_fix(outcome: FixOutcome) -> str:
    """A fix preview or result as text."""
    data = outcome.to_json()
    plan = outcome.plan
    lines: list[str] = []
    if plan.refused:
        lines.append(f"Refused: no safe fix for {outcome.session}: {plan.refused}")
    elif outcome.already_fixed:
        lines.append(f"Already fixed: {outcome.session} has its pass; nothing written.")
    elif not outcome.applied:
        lines.append(f"Preview for {outcome.session} (nothing written; add --yes to apply):")
        for verb, ids in (
            ("create", data["would_create"]),
            ("patch", data["would_patch"]),
            ("deactivate", data["would_deactivate"]),
        ):
            lines.extend(f"  would {verb} {doc_id}" for doc_id in ids)
        for f in plan.resolves:
            lines.extend(finding_lines(f))
        lines.extend(_doc_lines(outcome.document))
    else:
        lines.append(f"Applied to {outcome.session} (transaction {data['transaction_id']}):")
        for verb, ids in (
            ("created", data["created"]),
            ("patched", data["patched"]),
            ("deactivated", data["deactivated"]),
        ):
            lines.extend(f"  {verb} {doc_id}" for doc_id in ids)
        lines.extend(_doc_lines(outcome.document))
        if outcome.audit_id is not None:
            lines.append(f"  audit entry #{outcome.audit_id}")
    for f in plan.unresolved:
        lines.append("  still needs a person:")
        lines.extend(finding_lines(f, indent="    "))
    return "\n".join(lines)


def render_audit(entries: Sequence[AuditEntry]) -> str:
    """Recent audit entries as text."""
    if not entries:
        return "No fixes applied yet."
    lines = []
    for e in entries:
        who = e.actor + (f" <{e.actor_email}>" if e.actor_email else "")
        lines.append(
            f"#{e.id}  {e.at.strftime('%Y-%m-%d %H:%M')}  {who} via {e.source}: {e.action} "
            f"{e.session or ''} → {', '.join(e.documents)}  (tx {e.transaction_id})"
        )
    return "\n".join(lines)


def audit_json(entries: Sequence[AuditEntry]) -> list[JSON]:
    """Audit entries as JSON."""
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "actor_email": e.actor_email,
            "source": e.source,
            "action": e.action,
            "session": e.session,
            "documents": list(e.documents),
            "transaction_id": e.transaction_id,
            "finding_kinds": list(e.finding_kinds),
            "changes": e.changes,
        }
        for e in entries
    ]
