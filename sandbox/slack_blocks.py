"""Block Kit as strict as Slack: the blocks the real Web API refuses with `invalid_blocks`.

Each block is parsed and validated with slack_sdk's block models (their limits: section text
3,000 characters, header 150, button text 75 and value 2,000, block and action ids 255, at most
10 fields and 10 context elements, 25 actions, …), and to that come the limits Slack documents
that the models leave out: at most 50 blocks in a message and 100 in a modal, a known block
type, and no empty text object. A modal's own fields (title and buttons 24 characters, callback
id 255, private_metadata 3,000) are slack_sdk's `View` validation.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

#: Slack's documented maximum number of blocks per surface.
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100


def _empty_text(value: Any) -> bool:
    """A text object (`plain_text`/`mrkdwn`) with nothing in it, anywhere inside `value`."""
    if isinstance(value, dict):
        if value.get("type") in ("plain_text", "mrkdwn") and "text" in value:
            text = value.get("text")
            if not isinstance(text, str) or not text:
                return True
        return any(_empty_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_empty_text(v) for v in value)
    return False


def blocks_error(blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS) -> str | None:
    """Why Slack would refuse these blocks (None when it would take them)."""
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > limit:
        return f"no more than {limit} items allowed [json-pointer:/blocks]"
    for n, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{n}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"each block must be an object with a type {where}"
        if _empty_text(block):
            return f"must be more than 0 characters {where}"
        try:
            parsed = Block.parse(block)
            if parsed is None:
                return f"unsupported type: {block['type']!r} {where}"
            parsed.to_dict()  # validates the block and every element inside it
        except SlackObjectFormationError as err:
            return f"{err} {where}"
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            return f"malformed block: {err} {where}"
    return None


def view_error(view: Any) -> str | None:
    """Why Slack would refuse this view (None when it would take it)."""
    if not isinstance(view, dict):
        return "view must be an object"
    found = blocks_error(view.get("blocks"), limit=MAX_MODAL_BLOCKS)
    if found is not None:
        return found
    if _empty_text({k: v for k, v in view.items() if k != "blocks"}):
        return "must be more than 0 characters [json-pointer:/view]"
    try:
        fields = {k: v for k, v in view.items() if k != "blocks"}
        View(**fields, blocks=list(view.get("blocks") or [])).to_dict()
    except SlackObjectFormationError as err:
        return f"{err} [json-pointer:/view]"
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        return f"malformed view: {err} [json-pointer:/view]"
    return None
