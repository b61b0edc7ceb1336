"""Block Kit primitives with Slack's limits as named constants; every primitive truncates.

Builders assemble these into messages; nothing else in passbot writes raw Block Kit. The limits
are those of Slack's Block Kit reference (blocks, composition objects, block elements).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

Block = dict[str, Any]

#: Blocks in one message.
MAX_BLOCKS = 50
#: Characters of a section's text.
MAX_SECTION_TEXT = 3000
#: Fields in a section, and characters in each.
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
#: Characters of a header's text.
MAX_HEADER_TEXT = 150
#: Elements in a context block, and characters of a text element there.
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
#: Elements in an actions block.
MAX_ACTIONS_ELEMENTS = 25
#: Characters of a button's text and of its value.
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
#: Characters of an action_id or block_id.
MAX_ID = 255
#: A confirmation dialog: title, text, and its two buttons.
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
#: The top-level `text` (the notification fallback): Slack truncates at 40,000; we keep it short.
MAX_FALLBACK_TEXT = 3000
#: A modal: blocks, the title and its submit and close buttons, private_metadata; an input's
#: label and a plain-text input's length.
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_INPUT_LABEL = 2000
MAX_INPUT_LENGTH = 3000

ELLIPSIS = "…"


#: A modal view (views.open): a dict, like blocks.
View = dict[str, Any]


class Message(TypedDict):
    """What chat.postMessage, chat.update and respond() take: the fallback text and blocks."""

    text: str
    blocks: list[Block]


def truncate(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def escape(text: object) -> str:
    """Data shown in mrkdwn: Slack's three control characters escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """An id, shown as inline code (backticks cannot be escaped, so they are dropped)."""
    return "`" + escape(text).replace("`", "'") + "`"


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text text object (emoji shortcodes allowed)."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def header(text: str) -> Block:
    """A header block."""
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def section(
    text: str,
    *,
    block_id: str | None = None,
    fields: Sequence[str] = (),
    accessory: dict[str, Any] | None = None,
) -> Block:
    """A section with mrkdwn text (and optional fields, and an element beside it)."""
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if fields:
        block["fields"] = [mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]]
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = truncate(block_id, MAX_ID)
    return block


def context(*texts: str, block_id: str | None = None) -> Block:
    """A context block of mrkdwn texts."""
    block: Block = {
        "type": "context",
        "elements": [mrkdwn(t, MAX_CONTEXT_TEXT) for t in texts[:MAX_CONTEXT_ELEMENTS]],
    }
    if block_id:
        block["block_id"] = truncate(block_id, MAX_ID)
    return block


def divider() -> Block:
    """A divider."""
    return {"type": "divider"}


def confirm(*, title: str, text: str, ok: str, deny: str = "Cancel") -> dict[str, Any]:
    """A confirmation dialog shown before a button's action is sent."""
    return {
        "title": plain(title, MAX_CONFIRM_TITLE),
        "text": mrkdwn(text, MAX_CONFIRM_TEXT),
        "confirm": plain(ok, MAX_CONFIRM_BUTTON),
        "deny": plain(deny, MAX_CONFIRM_BUTTON),
    }


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: str | None = None,
    confirm_dialog: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button; its value must fit (values are never truncated: a cut value is a wrong one)."""
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"a button value of {len(value)} characters is over Slack's limit")
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": truncate(action_id, MAX_ID),
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm_dialog:
        element["confirm"] = confirm_dialog
    return element


def actions(*elements: dict[str, Any], block_id: str) -> Block:
    """An actions block."""
    return {
        "type": "actions",
        "block_id": truncate(block_id, MAX_ID),
        "elements": list(elements[:MAX_ACTIONS_ELEMENTS]),
    }


def message(text: str, blocks: Iterable[Block]) -> Message:
    """A message within the block limit (a builder that overflows loses its tail, with a note)."""
    out = list(blocks)
    if len(out) > MAX_BLOCKS:
        cut = len(out) - (MAX_BLOCKS - 1)
        out = [*out[: MAX_BLOCKS - 1], context(f"{ELLIPSIS} {cut} more blocks left out")]
    return {"text": truncate(text, MAX_FALLBACK_TEXT), "blocks": out}


def line_sections(lines: Sequence[str], *, title: str = "") -> list[Block]:
    """Lines packed into as few sections as fit Slack's 3,000 characters each."""
    blocks: list[Block] = []
    chunk = title
    for raw in lines:
        line = truncate(raw, MAX_SECTION_TEXT - 1)
        candidate = f"{chunk}\n{line}" if chunk else line
        if len(candidate) > MAX_SECTION_TEXT:
            blocks.append(section(chunk))
            chunk = line
        else:
            chunk = candidate
    if chunk:
        blocks.append(section(chunk))
    return blocks


def summarised(lines: Sequence[str], *, shown: int, title: str, more: str) -> list[Block]:
    """The first `shown` lines in sections under `title` ("first 20 of 87"), then a note."""
    count = len(lines)
    head = title if count <= shown else f"{title} — first {shown} of {count}"
    blocks = line_sections(list(lines[:shown]), title=head)
    if count > shown:
        blocks.append(context(f"{count - shown} more {more} in the thread"))
    return blocks


def paged(text: str, blocks: Sequence[Block]) -> list[Message]:
    """Blocks split into messages of at most MAX_BLOCKS each (thread replies)."""
    return [message(text, blocks[i : i + MAX_BLOCKS]) for i in range(0, len(blocks), MAX_BLOCKS)]


def text_input(
    label: str,
    *,
    block_id: str,
    action_id: str,
    placeholder: str = "",
    multiline: bool = False,
    min_length: int = 0,
    max_length: int = MAX_INPUT_LENGTH,
) -> Block:
    """An input block holding a plain-text input (modals only)."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": truncate(action_id, MAX_ID),
        "multiline": multiline,
        "max_length": min(max_length, MAX_INPUT_LENGTH),
    }
    if min_length:
        element["min_length"] = min_length
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return {
        "type": "input",
        "block_id": truncate(block_id, MAX_ID),
        "label": plain(label, MAX_INPUT_LABEL),
        "element": element,
    }


def modal(
    title: str,
    blocks: Iterable[Block],
    *,
    callback_id: str,
    submit: str,
    close: str = "Cancel",
    private_metadata: str = "",
) -> View:
    """A modal view; its metadata must fit (it is never truncated: cut, it would be wrong)."""
    if len(private_metadata) > MAX_PRIVATE_METADATA:
        raise ValueError("private_metadata is over Slack's limit")
    return {
        "type": "modal",
        "callback_id": truncate(callback_id, MAX_ID),
        "title": plain(title, MAX_VIEW_TITLE),
        "submit": plain(submit, MAX_VIEW_TITLE),
        "close": plain(close, MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": list(blocks)[:MAX_VIEW_BLOCKS],
    }
