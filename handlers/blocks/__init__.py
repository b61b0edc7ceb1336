"""Pure Block Kit builders: domain models in, `Message` dicts out; no I/O, no Slack SDK."""

from __future__ import annotations

from handlers.blocks.kit import Block, Message

__all__ = ["Block", "Message"]
