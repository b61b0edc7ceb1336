"""The early warning: paid purchases 15–75 minutes old that still have no pass, posted at once,
each with its fix button (and "Fix all" when there are several: an outage)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from core.domain.summary import EarlyWarning
from core.usecases.proposals import Offer
from handlers.blocks.kit import MAX_BLOCKS, Block, Message, context, header, message, section
from handlers.blocks.summary import open_findings


def build_warning_post(
    warning: EarlyWarning, offers: Sequence[Offer], *, schools: Mapping[str, str], tz: tzinfo
) -> tuple[Message, list[Message]]:
    """The warning and its thread replies (the findings that did not fit)."""
    count = len(warning.findings)
    noun = "purchase" if count == 1 else "purchases"
    start = warning.window.start.astimezone(tz).strftime("%H:%M")
    end = warning.window.end.astimezone(tz).strftime("%H:%M")
    blocks: list[Block] = [
        header(f"🚨 Early warning — {count} paid {noun} with no pass"),
        section(
            f"*{count}* new paid pass {noun} made between {start} and {end} "
            f"(15–75 minutes ago) still {'has' if count == 1 else 'have'} no pass; the webhook "
            f"writes one within seconds. In that window {warning.unfulfilled} of "
            f"{warning.paid} purchases have none."
        ),
    ]
    if warning.outage_suspected:
        blocks.append(
            section(
                "⚠️ *This looks like a webhook outage*, not one purchase: run `/passhealth` to "
                "see which check fails, and fix the purchases below once it is mended."
            )
        )
    card, thread = open_findings(
        warning.findings,
        offers,
        schools,
        room=MAX_BLOCKS - len(blocks) - 1,
        title="*New since the last scan* — each with its fix",
    )
    blocks += card
    blocks.append(context("Each purchase is reported once; the daily summary keeps the rest."))
    fallback = f"Early warning: {count} paid {noun} 15–75 minutes old with no pass"
    if warning.outage_suspected:
        fallback += " — a webhook outage?"
    return message(fallback, blocks), thread
