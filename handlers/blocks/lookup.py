"""The pick-list of a lookup that found several customers (a button each), and the Share
button of a card answered privately."""

from __future__ import annotations

from core.domain.lookup import Match
from core.usecases.lookup import Found
from handlers.blocks.kit import Block, Message, button, context, escape, message, section
from handlers.ids import ActionId, BlockId


def _who(match: Match, schools: dict[str, str]) -> str:
    name = escape(", ".join(match.names) or "no name")
    where = ", ".join(escape(schools.get(t, t)) for t in match.tenants)
    return f"*{name}* · {escape(match.email)}" + (f" · {where}" if where else "")


def build_pick_list(
    found: Found, *, requested_by: str, schools: dict[str, str] | None = None
) -> Message:
    """ "N customers match …": one section per customer, with a button that shows their card."""
    schools = schools or {}
    shown = len(found.matches)
    cut = f" (the first {shown})" if found.total > shown else ""
    title = f"🔎 {found.total} customers match “{escape(found.query.value)}”{cut} — pick one:"
    blocks: list[Block] = [section(title)]
    for n, match in enumerate(found.matches):
        blocks.append(
            section(
                _who(match, schools),
                block_id=f"{BlockId.PICK}:{n}",
                accessory=button("Show", action_id=ActionId.LOOKUP_PICK, value=match.email),
            )
        )
    blocks.append(context(f"asked by <@{escape(requested_by)}>"))
    return message(f"{found.total} customers match {found.query.value}", blocks)


def share_blocks(email: str) -> list[Block]:
    """A private card's last block: share it with the channel (shown to everyone there)."""
    return [
        context("Only you can see this card."),
        {
            "type": "actions",
            "block_id": BlockId.SHARE.value,
            "elements": [
                button("Share to channel", action_id=ActionId.CARD_SHARE, value=email[:2000])
            ],
        },
    ]


def with_share(card: Message, email: str) -> Message:
    """The card with its Share button (the card keeps within Slack's 50 blocks)."""
    blocks = list(card["blocks"])[: 50 - 2]
    return message(card["text"], [*blocks, *share_blocks(email)])
