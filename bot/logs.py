"""Logging an operator can use: one line per event, `text` or `json` (PASSBOT_LOG_FORMAT), at
PASSBOT_LOG_LEVEL, every line carrying the request id of the Slack request or job run it belongs
to (a context variable, so the service calls made for that request share it).

Customer emails never reach a line: every message is scrubbed, an address replaced by its short
hash (`customer_hash`), whichever library logged it. Names are never logged in the first place.
The chatty libraries (httpx, stripe, slack_sdk, slack_bolt, apscheduler, aiohttp) log at
WARNING; with PASSBOT_LOG_LEVEL=DEBUG at INFO (one line per request), never at DEBUG, where
they write whole request and response bodies, customers' names in them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

#: The id of the request (or job run) being handled; None outside one.
REQUEST_ID: ContextVar[str | None] = ContextVar("passbot_request_id", default=None)

#: Libraries whose INFO lines are noise (or carry URLs with customer data): WARNING unless DEBUG.
QUIET = ("httpx", "httpcore", "stripe", "slack_sdk", "slack_bolt", "apscheduler", "aiohttp")

#: What can stand in an address (broadly: better one hash too many than one address logged).
_PART = r"[^\s@<>()\[\]{}\"',;:|=&?/\\]+"
_EMAIL = re.compile(_PART + "@" + _PART + r"\." + _PART)
_EMAIL_ENCODED = re.compile(_PART + "%40" + _PART, re.IGNORECASE)

#: LogRecord attributes that are not extra fields.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName"}
)


def customer_hash(email: str) -> str:
    """A short, stable stand-in for a customer's email address in logs: `c-1a2b3c4d5e`."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return f"c-{digest[:10]}"


def customer_in(text: str) -> str | None:
    """The hash of the first email address in `text` (a `/fixpass` argument), if any."""
    found = _EMAIL.search(text)
    return customer_hash(found.group(0)) if found else None


def scrub(text: str) -> str:
    """`text` with every email address (plain or %-encoded) replaced by its hash."""
    text = _EMAIL_ENCODED.sub(lambda m: customer_hash(m.group(0).replace("%40", "@")), text)
    return _EMAIL.sub(lambda m: customer_hash(m.group(0)), text)


def new_request_id() -> str:
    """A fresh request id (12 hex digits)."""
    return uuid.uuid4().hex[:12]


@contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    """Run the block as one request: its log lines (and its service calls') carry the id."""
    rid = request_id or new_request_id()
    token = REQUEST_ID.set(rid)
    try:
        yield rid
    finally:
        REQUEST_ID.reset(token)


class ContextFilter(logging.Filter):
    """Adds the request id to every record and scrubs emails from its message and fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        clean = scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, scrub(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, request_id, and the record's extra
    fields; a traceback (scrubbed) under `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        data.update(_extras(record))
        if record.exc_info:
            data["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: msg key=value … request_id=…`, one line (a traceback follows it)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _extras(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            fields["request_id"] = request_id
        tail = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if tail:
            line += " " + tail
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (not text or " " in text or '"' in text) else text


class _Quiet(logging.Filter):
    """Drops the chatty libraries' records below `floor`."""

    def __init__(self, floor: int) -> None:
        super().__init__()
        self.floor = floor

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.floor or record.name.split(".", 1)[0] not in QUIET


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is when a line is written (as logging's own
    last-resort handler does), so a replaced stderr is followed, never a closed one used."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str, fmt: str, *, stream: TextIO | None = None) -> None:
    """Send every log line to `stream` (default: stderr) at `level`, formatted as `fmt`
    (text|json). Replaces the handler an earlier call installed, and only that one."""
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The libraries: at DEBUG their INFO lines, never their DEBUG ones (request bodies). A
    # filter on this handler, not their loggers' levels, so nothing else's view changes.
    handler.addFilter(_Quiet(logging.INFO if level == "DEBUG" else logging.WARNING))
    handler.addFilter(ContextFilter())


_HANDLER = "passbot"
