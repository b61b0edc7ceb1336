"""The watch's post: purchases whose grace period ended without a pass, posted at once, each
with its fix (the summary's finding blocks and Approve buttons); what PASSBOT_AUTOFIX already
fixed, one line each; and, when several went wrong together, "likely outage" naming the health
check to look at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from core.domain.watch import WatchAlert
from core.usecases.proposals import Offer
from handlers.blocks.kit import (
    MAX_BLOCKS,
    Block,
    Message,
    context,
    header,
    message,
    section,
    summarised,
)
from handlers.blocks.summary import SHOWN_LINES, autofix_line, open_findings


def _minutes(alert: WatchAlert) -> str:
    seconds = alert.grace.total_seconds()
    if seconds >= 60 and seconds % 60 == 0:
        n = int(seconds // 60)
        return f"{n} minute{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


def build_watch_post(
    alert: WatchAlert, offers: Sequence[Offer], *, schools: Mapping[str, str], tz: tzinfo
) -> tuple[Message, list[Message]]:
    """The post and its thread replies (the findings that did not fit)."""
    count = len(alert.findings)
    noun = "purchase" if count == 1 else "purchases"
    grace = _minutes(alert)
    at = alert.generated_at.astimezone(tz).strftime("%H:%M")
    if alert.outage:
        title = (
            f"🚨 Likely outage — {alert.unfulfilled_recently} recent paid purchases with no pass"
        )
    else:
        title = f"⏱️ {count} paid {noun} with no pass after {grace}"
    blocks: list[Block] = [
        header(title),
        section(
            f"*{count}* paid pass {noun} still {'has' if count == 1 else 'have'} no pass "
            f"{grace} after payment (checked {at}); the webhook writes one within seconds."
        ),
    ]
    if alert.outage:
        blocks.append(
            section(
                f"⚠️ *This looks like an outage*, not one purchase: {alert.unfulfilled_recently} "
                f"purchases went without a pass in the last 15 minutes. Run `/passhealth` and look "
                f"at the *{alert.check}* check (Stripe's deliveries to the platform's webhook)."
            )
        )
    fixed = list(alert.autofixed)
    if fixed:
        lines = [autofix_line(o) for o in fixed]
        blocks += summarised(
            lines,
            shown=SHOWN_LINES,
            title=f"🤖 *Fixed automatically* (PASSBOT_AUTOFIX, each audited): {len(lines)}",
            more="automatic fixes",
        )
    thread: list[Message] = []
    still = alert.open_findings
    if still:
        card, thread = open_findings(
            still,
            offers,
            schools,
            room=MAX_BLOCKS - len(blocks) - 1,
            title="*Each with its fix*",
        )
        blocks += card
    blocks.append(
        context("Each purchase is posted once; the early warning and daily summary keep the rest.")
    )
    fallback = f"{count} paid {noun} with no pass after {grace}"
    if alert.outage:
        fallback = f"Likely outage: {fallback} — check {alert.check}"
    return message(fallback, blocks), thread
