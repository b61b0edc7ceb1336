"""The sandbox Slack's workspace state: users, channels, messages, uploaded files, the log."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any


class SlackClock:
    """Slack ``ts`` values: unique, increasing, starting at the world's ``now``."""

    def __init__(self, now: datetime | None) -> None:
        self._base_us = int(now.timestamp() * 1_000_000) if now is not None else None
        self._last_us = 0

    def next_ts(self) -> str:
        if self._base_us is not None:
            micros = max(self._base_us, self._last_us + 1)
        else:
            micros = max(int(time.time() * 1_000_000), self._last_us + 1)
        self._last_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class SlackState:
    """A world's Slack workspace and what the bot has said in it."""

    def __init__(self, section: dict[str, Any], now: datetime | None) -> None:
        self.section = section
        self.users: list[dict[str, Any]] = list(section.get("users", []))
        self.channels: list[dict[str, Any]] = list(section.get("channels", []))
        self.usergroups: list[dict[str, Any]] = list(section.get("usergroups", []))
        self.log: list[dict[str, Any]] = list(section.get("log", []))
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        #: Uploaded files: metadata (dumped as ``slack.files``) and their bytes (kept here).
        self.files: dict[str, dict[str, Any]] = {
            str(f["id"]): dict(f) for f in section.get("files", []) if isinstance(f, dict)
        }
        self.file_bytes: dict[str, bytes] = {}
        self.clock = SlackClock(now)
        for entry in self.log:
            # Messages posted before this world was dumped can still be updated.
            if entry.get("method") == "chat.postMessage" and isinstance(entry.get("args"), dict):
                channel = self.channel_id(str(entry["args"].get("channel", "")))
                if channel is not None:
                    self.messages[(channel, str(entry.get("ts")))] = dict(entry["args"])

    def user(self, user_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users if u.get("id") == user_id), None)

    def channel(self, ref: str) -> dict[str, Any] | None:
        name = ref.removeprefix("#")
        for channel in self.channels:
            if channel.get("id") == ref or channel.get("name") == name:
                return channel
        return None

    def channel_id(self, ref: str) -> str | None:
        """The conversation id a ``channel`` argument names: a channel, or a user's DM."""
        channel = self.channel(ref)
        if channel is not None:
            return str(channel["id"])
        if self.user(ref) is not None:
            return "D" + ref.removeprefix("U")
        if ref.startswith("D") and self.user("U" + ref[1:]) is not None:
            return ref
        return None

    def require_member(self, channel_id: str) -> None:
        """A channel with ``"is_member": false`` is one the bot was never invited to: it may
        not post or update there (``not_in_channel``), as in Slack."""
        channel = self.channel(channel_id)
        if channel is not None and channel.get("is_member") is False:
            raise SlackApiError("not_in_channel")

    def record(self, method: str, args: dict[str, Any], **extra: Any) -> str:
        ts = self.clock.next_ts()
        entry: dict[str, Any] = {"method": method, **extra, "args": args, "ts": ts}
        self.log.append(entry)
        return ts


class SlackApiError(Exception):
    """A Web API answer ``{"ok": false, "error": code}``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def required(args: dict[str, Any], name: str) -> str:
    """A required argument of a Web API call (``invalid_arguments`` when absent)."""
    value = args.get(name)
    if value is None or value == "":
        raise SlackApiError("invalid_arguments")
    return str(value)
