"""The daily summary and the weekly sweep posted to PASSBOT_CHANNEL, and "Fix all N".

Per school: paid pass purchases, fulfilled by the webhook, fixed by passbot, still open, the
fulfilment rate and a 14-day trend line. Every open finding is shown with its fix (the same
approve buttons, proposals and confirm dialogs as a /fixpass card) and "Not a problem"; the first
few on the summary itself, the rest in its thread; "Fix all N" approves every offered fix at once,
behind a confirm that lists them. Automatic fixes (PASSBOT_AUTOFIX) are each reported; the weekly
sweep carries the metrics. Slack's limits hold however long the lists are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, tzinfo

from core.domain.findings import SEVERITY_ORDER, Finding
from core.domain.summary import AutofixOutcome, SchoolSummary, Summary, TrendPoint
from core.usecases.batch import (
    ALREADY_FIXED,
    APPLIED,
    BUSY,
    DISMISSED,
    DONE_BEFORE,
    FAILED,
    REFUSED,
    STALE,
    UNKNOWN,
    BatchItem,
    BatchResult,
    batch_id,
)
from core.usecases.proposals import Offer
from handlers.blocks.diagnose import MARK, must_decide
from handlers.blocks.finding import finding_section
from handlers.blocks.fix import build_offer, plural, result_line, with_status
from handlers.blocks.kit import (
    MAX_BLOCKS,
    MAX_CONFIRM_TEXT,
    Block,
    Message,
    actions,
    button,
    code,
    confirm,
    context,
    divider,
    escape,
    header,
    line_sections,
    message,
    section,
    summarised,
)
from handlers.blocks.stats import metrics_blocks, pct, sparkline
from handlers.ids import ActionId, fix_all_block_id, fix_block_id
from handlers.payloads import FixAllValue

#: Open findings shown with their buttons on the summary itself; the rest go to the thread.
SHOWN_FINDINGS = 8
#: Open findings shown with their buttons in the thread; beyond these, one line each.
THREAD_FINDINGS = 60
#: Purchases one "Fix all" covers (its button's value lists their proposals, under 2,000
#: characters); the summary offers fixes for at most this many.
FIX_ALL_MAX = 90
#: Lines of a list (schools, automatic fixes) shown before the rest goes to the thread.
SHOWN_LINES = 15


# ----------------------------------------------------------------------------- the pieces


def overall_trend(schools: Sequence[SchoolSummary]) -> list[TrendPoint]:
    """The schools' trend lines added up, day by day."""
    days: dict[date, list[int]] = {}
    for school in schools:
        for point in school.trend:
            paid_on_time = days.setdefault(point.day, [0, 0])
            paid_on_time[0] += point.paid
            paid_on_time[1] += point.on_time
    return [TrendPoint(day, paid, on_time) for day, (paid, on_time) in sorted(days.items())]


def trend_text(points: Sequence[TrendPoint]) -> str:
    """A trend line as a sparkline of daily fulfilment rates, in code (`·` a day with none)."""
    return f"`{sparkline([p.rate for p in points])}`" if points else "`(no days)`"


def school_line(school: SchoolSummary) -> str:
    """One school: purchases, who fulfilled them, what is open, the rate and its trend."""
    return (
        f"*{escape(school.name)}* — {school.paid} paid · {school.by_webhook} by the webhook "
        f"({school.on_time} within 15 min) · {school.fixed_by_passbot} fixed by passbot · "
        f"*{school.still_open}* still open · fulfilment *{pct(school.fulfilment_rate)}* "
        f"{trend_text(school.trend)}"
    )


def autofix_line(outcome: AutofixOutcome) -> str:
    """One automatic fix: what it wrote and its audit entry, or why it was not applied."""
    session = code(outcome.session)
    if not outcome.applied:
        return f"⚠️ {session} — not applied: {escape(outcome.error or 'unknown reason')}"
    if not outcome.documents:
        return f"☑️ {session} — already fixed, nothing written"
    audit = f" (audit #{outcome.audit_id})" if outcome.audit_id is not None else ""
    written = ", ".join(code(d) for d in outcome.documents)
    return f"🤖 {session} → created {written}{audit}"


def finding_line(finding: Finding, schools: Mapping[str, str]) -> str:
    """A finding in one line: severity, kind, school, customer, purchase, what is wrong."""
    where = [
        escape(schools.get(finding.tenant, finding.tenant)) if finding.tenant else "",
        escape(finding.email) if finding.email else "",
        code(finding.session) if finding.session else "",
    ]
    place = " · ".join(w for w in where if w)
    return (
        f"{MARK[finding.severity]} *{escape(finding.kind.value)}*"
        f"{' · ' + place if place else ''} — {escape(finding.summary)}"
    )


def finding_order(finding: Finding) -> tuple[bool, int, str]:
    """The order findings are shown (and their fixes proposed): fixable first, most severe
    first."""
    return (finding.fix is None, SEVERITY_ORDER[finding.severity], finding.key)


def offers_by_session(offers: Sequence[Offer]) -> dict[str, list[Offer]]:
    """Offers grouped per purchase, the default fix first (as `Approvals.propose` makes them)."""
    out: dict[str, list[Offer]] = {}
    for offer in offers:
        out.setdefault(offer.proposal.session, []).append(offer)
    for group in out.values():
        group.sort(key=lambda o: o.proposal.alternative is not None)
    return out


def finding_blocks(
    finding: Finding,
    offers: Sequence[Offer],
    schools: Mapping[str, str],
    *,
    seen: set[str],
) -> list[Block]:
    """A finding with "Not a problem" beside it, then its fix (what will be written, the approve
    buttons) or what a person must decide."""
    fix = offers[0].proposal.id if offers else None
    blocks = [finding_section(finding_line(finding, schools), finding, fix=fix, seen=seen)]
    if offers:
        blocks.extend(build_offer(offers, schools))
    elif finding.fix is None:
        blocks.append(context(must_decide(finding)))
    elif finding.session:
        blocks.append(context(f"Fix with `/fixpass {escape(finding.email or '')}` or "
                              f"`passbot fix {escape(finding.session)} --yes`"))  # fmt: skip
    return blocks


def _item_name(finding: Finding | None, offer: Offer) -> str:
    return (finding.email if finding else None) or offer.proposal.session


def fix_all_block(defaults: Sequence[Offer], findings: Mapping[str, Finding]) -> Block:
    """ "Fix all N", behind a confirm dialog that lists them (as many as its 300 characters
    hold: the customers; every fix is shown above and in the thread)."""
    ids = [o.proposal.id for o in defaults]
    intro = "One by one, each re-checked against the live data first: "
    names = [escape(_item_name(findings.get(o.proposal.session), o)) for o in defaults]
    listed: list[str] = []
    for n, name in enumerate(names):
        more = len(names) - n - 1
        tail = f"; … and {more} more" if more else ""
        if len(intro + "; ".join([*listed, name]) + tail) > MAX_CONFIRM_TEXT:
            break
        listed.append(name)
    left = len(names) - len(listed)
    text = intro + "; ".join(listed) + (f"; … and {left} more" if left else "")
    return actions(
        button(
            f"Fix all {len(ids)}",
            action_id=ActionId.FIX_ALL,
            value=FixAllValue.make(ids).encode(),
            style="primary",
            confirm_dialog=confirm(title=f"Fix all {len(ids)}?", text=text, ok="Fix all"),
        ),
        block_id=fix_all_block_id(batch_id(ids)),
    )


def pack(text: str, groups: Sequence[Sequence[Block]]) -> list[Message]:
    """Groups of blocks in as few messages as fit, a group never split across two."""
    out: list[Message] = []
    current: list[Block] = []
    for group in groups:
        if current and len(current) + len(group) > MAX_BLOCKS:
            out.append(message(text, current))
            current = []
        current.extend(group)
    if current:
        out.append(message(text, current))
    return out


def open_findings(
    findings: Sequence[Finding],
    offers: Sequence[Offer],
    schools: Mapping[str, str],
    *,
    room: int,
    title: str,
) -> tuple[list[Block], list[Message]]:
    """The open findings: a title, "Fix all N" and as many findings as `room` blocks hold (at
    most SHOWN_FINDINGS) for the post; the others, with their buttons, in thread replies (and
    past THREAD_FINDINGS, one line each)."""
    grouped = offers_by_session(offers)
    ordered = sorted(findings, key=finding_order)
    by_session = {f.session: f for f in ordered if f.session}
    defaults = [group[0] for group in grouped.values() if group[0].proposal.alternative is None]
    head: list[Block] = [section(title)]
    if len(defaults) >= 2:
        head.append(fix_all_block(defaults, by_session))
    seen: set[str] = set()
    done: set[str] = set()
    groups: list[list[Block]] = []
    for finding in ordered:
        session = finding.session
        mine = grouped.get(session, []) if session and session not in done else []
        if mine and session:
            done.add(session)
        groups.append(finding_blocks(finding, mine, schools, seen=seen))
    card = list(head)
    shown = 0
    for group in groups[:SHOWN_FINDINGS]:
        if len(card) + len(group) > room - 1:
            break
        card.extend(group)
        shown += 1
    rest = groups[shown:]
    if rest:
        card.append(context(f"{len(rest)} more open findings, with their buttons, in the thread"))
    thread = pack("Open findings", rest[:THREAD_FINDINGS])
    lines = [finding_line(f, schools) for f in ordered[shown + THREAD_FINDINGS :]]
    if lines:
        title = f"*{len(lines)} more open findings* (`/fixpass` each)"
        thread += pack("More open findings", [[b] for b in line_sections(lines, title=title)])
    return card, thread


# ----------------------------------------------------------------------------- the post


def _title(summary: Summary, tz: tzinfo) -> str:
    local = summary.generated_at.astimezone(tz)
    if summary.kind == "weekly":
        year, week, _ = local.isocalendar()
        return f"📋 Weekly sweep — week {week} {year}"
    return f"📋 Daily summary — {local.strftime('%a %d %b %Y')}"


def build_summary_post(
    summary: Summary, offers: Sequence[Offer], *, tz: tzinfo
) -> tuple[Message, list[Message]]:
    """The summary and its thread replies.

    Args:
        offers: the proposals made for the open findings' fixes (`Approvals.propose`); a finding
            without one is shown without buttons.
    """
    schools = {s.tenant: s.name for s in summary.schools if s.tenant}
    since = summary.window.start.astimezone(tz).strftime("%a %d %b")
    fixed = sum(s.fixed_by_passbot for s in summary.schools)
    rate = summary.on_time / summary.paid if summary.paid else None
    trend = overall_trend(summary.schools)
    findings = summary.open_findings
    blocks: list[Block] = [
        header(_title(summary, tz)),
        section(
            f"*{summary.paid}* paid pass purchases since {since} · *{pct(rate)}* fulfilled by the "
            f"webhook within 15 min · *{fixed}* fixed by passbot · *{summary.still_open}* still "
            f"open"
        ),
        context(
            f"fulfilment by day, the last {len(trend)} days: {trend_text(trend)} · "
            f"{escape(summary.mode)} mode · {escape(summary.timezone)}"
        ),
    ]
    lines = [school_line(s) for s in summary.schools] or ["_no school has purchases_"]
    blocks += summarised(lines, shown=SHOWN_LINES, title="*Per school*", more="schools")
    thread_first: list[Block] = []
    if len(lines) > SHOWN_LINES:
        thread_first += line_sections(lines, title=f"*Per school* (all {len(lines)})")
    if summary.autofixed:
        fixes = [autofix_line(a) for a in summary.autofixed]
        title = f"🤖 *Fixed automatically* (PASSBOT_AUTOFIX, each audited): {len(fixes)}"
        blocks += summarised(fixes, shown=SHOWN_LINES, title=title, more="automatic fixes")
        if len(fixes) > SHOWN_LINES:
            thread_first += line_sections(fixes, title=f"{title} — all")
    if summary.metrics is not None:
        blocks += metrics_blocks(summary.metrics)
    blocks.append(divider())
    thread: list[Message] = pack("Details", [[b] for b in thread_first])
    if findings:
        title = f"*Open findings* ({len(findings)}) — each with its fix, or who must decide"
        card, more = open_findings(
            findings, offers, schools, room=MAX_BLOCKS - len(blocks), title=title
        )
        blocks += card
        thread += more
    else:
        blocks.append(section("✅ Nothing open: every paid purchase has its pass."))
    fallback = (
        f"{_title(summary, tz).removeprefix('📋 ')}: {summary.paid} paid pass purchases, "
        f"{pct(rate)} fulfilled by the webhook, {summary.still_open} still open"
    )
    return message(fallback, blocks), thread


# ----------------------------------------------------------------------------- fix all


def build_fix_all_applying(
    blocks: Sequence[Block], block_id: str, *, count: int, approver: str
) -> Message:
    """The summary the moment "Fix all" is approved: its button gone, "fixing N one by one"."""
    line = f"⏳ fixing {plural(count, 'purchase')} one by one… — approved by <@{escape(approver)}>"
    return message(line, with_status(blocks, block_id, context(line), keep_buttons=False))


def item_line(item: BatchItem, *, tz: tzinfo) -> str:
    """What became of one purchase of a "Fix all"."""
    if item.applied is not None and item.outcome in (APPLIED, ALREADY_FIXED):
        return result_line(item.applied, tz)
    claim = item.claim
    if item.outcome == DONE_BEFORE and claim is not None:
        when = claim.at.astimezone(tz).strftime("%H:%M")
        return f"✅ Already applied by <@{escape(claim.holder)}> at {when}"
    if item.outcome == BUSY and claim is not None:
        return f"⏳ <@{escape(claim.holder)}> is applying this fix right now"
    if item.outcome == STALE:
        return "⚠️ Changed since the summary — nothing written. `/fixpass` for a fresh card."
    if item.outcome == REFUSED:
        return f"⚠️ No safe fix any more: {escape(item.detail)}. Nothing was written."
    if item.outcome == FAILED:
        return f"⚠️ {escape(item.detail)} — nothing was written; press Fix all again to retry."
    if item.outcome == UNKNOWN:
        return "⚠️ passbot has no record of this fix — nothing written."
    if item.outcome == DISMISSED:
        return "🙈 Dismissed as not a problem — left alone."
    return f"⚠️ {escape(item.outcome)}"


def fix_all_line(result: BatchResult, *, tz: tzinfo) -> str:
    """ "Fix all by <@U> at 09:14: 3 fixed, 1 already fixed, 1 changed"."""
    parts = [
        (result.count(APPLIED), "fixed"),
        (result.count(ALREADY_FIXED, DONE_BEFORE), "already fixed"),
        (result.count(BUSY), "being fixed by someone else"),
        (result.count(STALE), "changed since the summary"),
        (result.count(REFUSED, UNKNOWN), "without a safe fix"),
        (result.count(DISMISSED), "dismissed as not a problem"),
        (result.count(FAILED), "failed"),
    ]
    counts = ", ".join(f"{n} {what}" for n, what in parts if n)
    mark = "⚠️" if result.retriable else "✅"
    when = result.at.astimezone(tz).strftime("%H:%M")
    again = " — press Fix all again to retry the failed ones" if result.retriable else ""
    return f"{mark} Fix all — approved by <@{escape(result.approver)}> at {when}: {counts}{again}"


def build_fix_all_result(
    blocks: Sequence[Block], block_id: str, result: BatchResult, *, tz: tzinfo
) -> Message:
    """The summary after "Fix all": each item shown on it says what became of it (its buttons
    gone, or kept when it may be retried), and the "Fix all" line sums up."""
    out = list(blocks)
    present = {b.get("block_id") for b in out}
    for item in result.items:
        fix_id = fix_block_id(item.proposal)
        if fix_id in present:
            status = context(item_line(item, tz=tz))
            out = with_status(out, fix_id, status, keep_buttons=not item.settled)
    line = fix_all_line(result, tz=tz)
    detail = "each purchase's outcome is in the thread"
    status = context(f"{line}\n{detail}")
    return message(line, with_status(out, block_id, status, keep_buttons=result.retriable))


def build_fix_all_report(result: BatchResult, *, tz: tzinfo) -> list[Message]:
    """The thread reply: every purchase of the batch and what became of it."""
    lines = [
        f"• {code(item.session or item.proposal)} — {item_line(item, tz=tz)}"
        for item in result.items
    ]
    title = fix_all_line(result, tz=tz)
    return pack(title, [[b] for b in line_sections(lines, title=title)])
