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
    PASSHEALTH = "/passhealth"
    PASSSTATS = "/passstats"


class ActionId(StrEnum):
    """Buttons. Slack wants action ids unique within a block, so each button of a fix's
    actions block has its own id; both approve the fix the button's value names."""

    FIX_APPLY = "fix.apply"
    FIX_APPLY_ALTERNATIVE = "fix.apply_alternative"
    FIX_ALL = "fix.apply_all"
    FINDING_DISMISS = "finding.dismiss"
    LOOKUP_PICK = "lookup.pick"
    CARD_SHARE = "card.share"
    AUDIT_NEXT = "audit.next"
    HOME_OPEN = "home.open_card"


class BlockId(StrEnum):
    """Prefixes of block ids: `fix:<proposal id>` is the actions block of one offered fix."""

    FIX = "fix"
    FIX_NOTE = "fix-note"
    FIX_ALL = "fix-all"
    FINDING = "finding"
    DISMISS_REASON = "dismiss-reason"
    PICK = "pick"
    SHARE = "share"
    AUDIT_NEXT = "audit-next"
    HOME_OPEN = "home-open"


class CallbackId(StrEnum):
    """Modal and shortcut callback ids."""

    DISMISS = "finding.dismiss_reason"


class InputId(StrEnum):
    """Action ids of input elements inside modals (read from the submission; no listener)."""

    DISMISS_REASON = "reason"


#: The buttons that approve a fix (authorised by the approvers' middleware).
APPROVAL_ACTIONS = frozenset({ActionId.FIX_APPLY, ActionId.FIX_APPLY_ALTERNATIVE, ActionId.FIX_ALL})


def fix_block_id(proposal_id: str) -> str:
    """The block id of an offered fix's actions block."""
    return f"{BlockId.FIX}:{proposal_id}"


def fix_note_block_id(proposal_id: str) -> str:
    """The block id of the status line that replaces (or follows) a fix's buttons."""
    return f"{BlockId.FIX_NOTE}:{proposal_id}"


def fix_all_block_id(batch_id: str) -> str:
    """The block id of a summary's "Fix all N" actions block."""
    return f"{BlockId.FIX_ALL}:{batch_id}"


def finding_block_id(ref: str) -> str:
    """The block id of a finding's section (its "Not a problem" button is the accessory)."""
    return f"{BlockId.FINDING}:{ref}"
