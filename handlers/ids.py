"""Every id the Slack app registers or puts in a message: one source of truth.

`manifest.yaml` declares exactly `set(Command)`; every `ActionId` has a listener (both tested).
"""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    """The slash commands."""

    FIXPASS = "/fixpass"
    PASSCHECK = "/passcheck"
    PASSAUDIT = "/passaudit"


class ActionId(StrEnum):
    """Buttons. Slack wants action ids unique within a block, so each button of a fix's
    actions block has its own id; both approve the fix the button's value names."""

    FIX_APPLY = "fix.apply"
    FIX_APPLY_ALTERNATIVE = "fix.apply_alternative"


class BlockId(StrEnum):
    """Prefixes of block ids: `fix:<proposal id>` is the actions block of one offered fix."""

    FIX = "fix"
    FIX_NOTE = "fix-note"


class CallbackId(StrEnum):
    """Modal and shortcut callback ids. passbot opens no modals yet."""


#: The buttons that approve a fix (authorised by the approvers' middleware).
APPROVAL_ACTIONS = frozenset({ActionId.FIX_APPLY, ActionId.FIX_APPLY_ALTERNATIVE})


def fix_block_id(proposal_id: str) -> str:
    """The block id of an offered fix's actions block."""
    return f"{BlockId.FIX}:{proposal_id}"


def fix_note_block_id(proposal_id: str) -> str:
    """The block id of the status line that replaces (or follows) a fix's buttons."""
    return f"{BlockId.FIX_NOTE}:{proposal_id}"
