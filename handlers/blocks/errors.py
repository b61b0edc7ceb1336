"""What people read when something goes wrong or they ask for help: errors, usage, refusals."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.blocks.kit import Message, context, escape, message, section
from handlers.ids import Command

USAGE = {
    Command.FIXPASS: "/fixpass EMAIL | cs_/pi_/ch_ id | Sanity or Clerk id | name — everything "
    "about one customer, with fixes to approve",
    Command.PASSCHECK: "/passcheck [days] — a reconciliation of paid purchases and passes now",
    Command.PASSAUDIT: "/passaudit [email | @user | N days] — the fixes passbot applied, newest "
    "first",
    Command.PASSHEALTH: "/passhealth — webhook and configuration health, each check",
    Command.PASSSTATS: "/passstats — fulfilment, time to resolve, false positives, reports",
}


def build_error(text: str, *, incident_id: str | None = None) -> Message:
    """An error a person can act on; an unknown one carries the incident id that is in the log."""
    line = f"⚠️ {escape(text)}"
    blocks = [section(line)]
    if incident_id:
        blocks.append(
            context(f"incident `{escape(incident_id)}` — quote it to whoever runs passbot")
        )
    return message(line, blocks)


def usage_line(command: Command, reason: str) -> str:
    """The one-line answer to a command that was not understood."""
    return f"{reason} — usage: {USAGE[command]}"


def build_help() -> Message:
    """What passbot can do."""
    lines = "\n".join(f"• `{escape(u)}`" for u in USAGE.values())
    return message(
        "passbot commands", [section(f"*passbot* finds and fixes paid-but-no-pass.\n{lines}")]
    )


def build_looking(text: str, *, requested_by: str) -> Message:
    """The placeholder a command posts at once; the result replaces it."""
    line = f"🔎 {escape(text)}"
    return message(line, [section(line), context(f"asked by <@{escape(requested_by)}>")])


def _mention(approver: str) -> str:
    if approver.startswith("S"):
        return f"<!subteam^{escape(approver)}>"
    return f"<@{escape(approver)}>"


def build_forbidden(approvers: Iterable[str], *, two_person: bool = False) -> Message:
    """Private answer to a press by someone who may not approve."""
    if two_person:
        text = (
            "🔒 Two-person approval is on: you asked for this card, so someone else must "
            "approve it."
        )
    else:
        who = ", ".join(_mention(a) for a in sorted(approvers))
        text = (
            "🔒 Only approvers can apply fixes"
            + (f" — ask {who}." if who else "; none are configured (PASSBOT_APPROVERS).")
            + " Nothing was written."
        )
    return message(text, [section(text)])


def build_unknown_requester() -> Message:
    """Private answer when two-person approval cannot tell who asked for the card."""
    text = (
        "🔒 Two-person approval is on, and this card is not one this passbot made (or its "
        "record is gone): run the command again for a fresh card. Nothing was written."
    )
    return message(text, [section(text)])
