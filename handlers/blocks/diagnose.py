"""The diagnosis card of `/fixpass EMAIL`: who the customer is, what they paid for, what they
see, and each finding with its fix (approve buttons) or what a person must decide.

Long lists are summarised on the card ("first 20 of 87") and given in full in the thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from core.domain.diagnose import Diagnosis, PassView
from core.domain.findings import SEVERITY_ORDER, Finding, Severity
from core.domain.links import NO_LINKS, Links
from core.domain.purchase import Purchase
from core.usecases.proposals import Offer, Proposals
from handlers.blocks.finding import finding_section
from handlers.blocks.fix import build_offer, plural
from handlers.blocks.kit import (
    MAX_BLOCKS,
    Block,
    Message,
    context,
    divider,
    escape,
    header,
    line_sections,
    message,
    paged,
    section,
    summarised,
)
from handlers.blocks.refs import DATE, link, slack_time

#: Lines of a list shown on the card before the rest goes to the thread.
SHOWN_LINES = 20
#: Blocks kept free at the end of the card (the footer).
_FOOTER = 2

MARK = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "⚪"}


def _school(tenant: str | None, schools: Mapping[str, str]) -> str:
    if not tenant:
        return "no school"
    return escape(schools.get(tenant, tenant))


def _amount(purchase: Purchase) -> str:
    session = purchase.session
    if session.amount_total is None:
        return "?"
    major = session.amount_total / 100
    text = f"{major:,.0f}" if major == int(major) else f"{major:,.2f}"
    return f"{text} {(session.currency or '').upper()}".strip()


def who_lines(
    diagnosis: Diagnosis, schools: Mapping[str, str], links: Links = NO_LINKS
) -> list[str]:
    """The customer's Sanity users and Clerk accounts, each linked to Studio and Clerk."""
    customer = diagnosis.customer
    lines = [
        f"• Sanity user {link(links.user(u.id), u.id)} · clerkId "
        f"{link(links.clerk_user(u.clerk_id), u.clerk_id or '—')} · "
        f"{_school(u.tenant_id, schools)} · {escape(u.role or 'no role')}"
        for u in customer.users
    ] or ["• no Sanity user has this email"]
    lines += [
        f"• Clerk account {link(links.clerk_user(c.id), c.id)} · {escape(', '.join(c.emails))}"
        for c in customer.clerk_users
    ] or ["• no Clerk account has this email"]
    return lines


def purchase_line(
    purchase: Purchase,
    diagnosis: Diagnosis,
    schools: Mapping[str, str],
    tz: tzinfo,
    links: Links = NO_LINKS,
) -> str:
    """One paid purchase: when, what, how much, where, and its status; the payment linked to
    its Stripe Dashboard page, its pass to Studio."""
    status = "✅ ok" if purchase.status == "ok" else f"🔴 {escape(purchase.status)}"
    email_only = (
        " _(linked by email only)_"
        if purchase.session.id in (diagnosis.linked_by_email_only)
        else ""
    )
    name = purchase.pass_name or purchase.session.pass_id or "?"
    payment = link(links.stripe_payment(purchase.session), purchase.session.id)
    passes = "".join(
        f" · pass {link(links.subscription(sub), sub)}" for sub in purchase.subscriptions[:2]
    )
    return (
        f"• {slack_time(purchase.session.created, tz)} · {escape(name)} · {_amount(purchase)} · "
        f"{_school(purchase.tenant, schools)} · {payment} → {status}{passes}{email_only}"
    )


def pass_line(
    view: PassView, schools: Mapping[str, str], tz: tzinfo, links: Links = NO_LINKS
) -> str:
    """One of the customer's passes: what it is, and whether it shows and can be used."""
    sub = view.subscription
    clips = f", {plural(sub.remaining_clips, 'clip')}" if sub.remaining_clips is not None else ""
    end = slack_time(sub.end_date, tz, fmt=DATE) if sub.end_date else "no end date"
    seen = view.seen
    mark = "✅" if seen.visible and seen.usable else ("🟠" if seen.visible else "🚫")
    state = ("visible" if seen.visible else "hidden") + (
        ", usable" if seen.usable else ", not usable"
    )
    return (
        f"• {escape(view.pass_name)} ({escape(sub.type or '?')}{clips}, until {end}) · "
        f"{_school(view.tenant, schools)} · {link(links.subscription(sub.id), sub.id)}\n"
        f"   {mark} {state} — {escape(seen.text)}"
    )


def finding_text(finding: Finding) -> str:
    """One finding: severity, kind, what is wrong."""
    return f"{MARK[finding.severity]} *{escape(finding.kind.value)}* — {escape(finding.summary)}"


def _finding_blocks(
    finding: Finding,
    offers: Mapping[str, list[Offer]],
    schools: Mapping[str, str],
    done: set[str],
    seen: set[str],
) -> list[Block]:
    session = finding.session
    offered = finding.fix is not None and session and session in offers and session not in done
    fix = offers[session][0].proposal.id if offered and session else None
    blocks = [finding_section(finding_text(finding), finding, fix=fix, seen=seen)]
    if offered and session:
        done.add(session)
        blocks.extend(build_offer(offers[session], schools))
    elif finding.fix is not None and session and session not in done:
        blocks.append(context(f"Fix with `passbot fix {escape(session)} --yes`"))
    elif finding.fix is None:
        blocks.append(context(must_decide(finding)))
    return blocks


def must_decide(finding: Finding) -> str:
    """What a person must decide about a finding passbot will not fix."""
    why = finding.why_no_fix or "no safe automatic fix"
    prefix = "a person must decide:"
    if why.lower().startswith(prefix):
        why = why[len(prefix) :].strip()
    return f"🧑‍⚖️ A person must decide: {escape(why)}"


def build_diagnosis(
    proposals: Proposals, *, requested_by: str, tz: tzinfo, links: Links = NO_LINKS
) -> tuple[Message, list[Message]]:
    """The card, and the thread replies with everything the card summarised.

    Every finding with an offered fix keeps its buttons on the card; findings beyond the block
    budget are counted on the card and listed in the thread.
    """
    diagnosis, schools = proposals.diagnosis, proposals.schools
    email = diagnosis.customer.email
    offers: dict[str, list[Offer]] = {}
    for offer in proposals.offers:
        offers.setdefault(offer.proposal.session, []).append(offer)

    who = who_lines(diagnosis, schools, links)
    purchases = [purchase_line(p, diagnosis, schools, tz, links) for p in diagnosis.purchases]
    passes = [pass_line(v, schools, tz, links) for v in diagnosis.passes]
    blocks: list[Block] = [
        header(f"🔎 {email}"),
        section(f"*Verdict:* {escape(diagnosis.verdict)}"),
        context(f"asked by <@{escape(requested_by)}>"),
        *summarised(who, shown=SHOWN_LINES, title="*Who*", more="identities"),
        divider(),
        *summarised(
            purchases or ["• none in the window"],
            shown=SHOWN_LINES,
            title=f"*Paid purchases* ({len(purchases)})",
            more="purchases",
        ),
        *summarised(
            passes or ["• none"],
            shown=SHOWN_LINES,
            title=f"*Passes* ({len(passes)})",
            more="passes",
        ),
        divider(),
    ]
    findings = sorted(diagnosis.findings, key=lambda f: (f.fix is None, SEVERITY_ORDER[f.severity]))
    shown = 0
    done: set[str] = set()
    seen: set[str] = set()
    for finding in findings:
        group = _finding_blocks(finding, offers, schools, done, seen)
        if len(blocks) + len(group) > MAX_BLOCKS - _FOOTER:
            break
        blocks.extend(group)
        shown += 1
    if not findings:
        blocks.append(section("No findings: nothing to fix."))
    left = len(findings) - shown
    notes = []
    if left:
        notes.append(f"{left} more findings in the thread")
    if proposals.not_offered:
        notes.append(f"{len(proposals.not_offered)} more fixable purchases: run `passbot fix`")
    if notes:
        blocks.append(context(" · ".join(notes)))
    fallback = f"{email}: {diagnosis.verdict}"
    card = message(fallback, blocks)
    return card, _details(diagnosis, findings[shown:], who, purchases, passes)


def _details(
    diagnosis: Diagnosis,
    findings: Sequence[Finding],
    who: list[str],
    purchases: list[str],
    passes: list[str],
) -> list[Message]:
    """The thread: every list the card cut short, in full."""
    blocks: list[Block] = []
    if len(who) > SHOWN_LINES:
        blocks += line_sections(who, title=f"*Who* (all {len(who)})")
    if len(purchases) > SHOWN_LINES:
        blocks += line_sections(purchases, title=f"*Paid purchases* (all {len(purchases)})")
    if len(passes) > SHOWN_LINES:
        blocks += line_sections(passes, title=f"*Passes* (all {len(passes)})")
    if findings:
        lines = []
        for f in findings:
            line = finding_text(f)
            if f.fix is None:
                line += f"\n   {must_decide(f)}"
            elif f.fix is not None and f.session:
                line += f"\n   fix: `passbot fix {escape(f.session)} --yes`"
            lines.append(line)
        blocks += line_sections(lines, title=f"*More findings* ({len(findings)})")
    return paged(f"Details for {diagnosis.customer.email}", blocks)
