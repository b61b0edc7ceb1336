"""Log lines: one per event, text or JSON, with the request id, and no customer email."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging, customer_hash, customer_in, request_context, scrub


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_scrub_replaces_plain_and_encoded_addresses() -> None:
    text = (
        "GET /v1/users?email_address=Ola.Hansen%40Example.com and <mailto:ola.hansen@example.com>"
    )
    clean = scrub(text)
    assert "@" not in clean
    assert "%40" not in clean
    assert clean.count(customer_hash("ola.hansen@example.com")) == 2  # case and encoding alike
    assert scrub("no address here: 50 % of 2 @ noon") == "no address here: 50 % of 2 @ noon"


def test_json_lines_carry_the_request_id_and_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    log = logging.getLogger("passbot.test")
    with request_context("abc123") as rid:
        log.info("looked up %s", "kari@example.com", extra={"session": "cs_1"})
    log.debug("not shown")
    logging.getLogger("httpx").info("HTTP Request: GET https://clerk/v1/users?email=x%40y.no")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert rid == "abc123"
    assert line["request_id"] == "abc123"
    assert line["session"] == "cs_1"
    assert line["level"] == "info"
    assert line["msg"] == f"looked up {customer_hash('kari@example.com')}"


def test_text_lines_and_library_loggers_at_debug(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "text", stream=out)
    logging.getLogger("httpx").debug("body: a customer's name")  # libraries: INFO at most
    logging.getLogger("httpx").info("GET https://clerk/v1/users?email_address=x%40y.no")
    logging.getLogger("passbot.x").warning("fix applied", extra={"actor": "U1 x"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "x%40y.no" not in lines[0]
    assert customer_hash("x@y.no") in lines[0]
    assert lines[1].endswith('fix applied actor="U1 x"')


def test_the_customer_of_a_fixpass_is_the_address_hashed() -> None:
    mailto = customer_in("<mailto:Kari@Example.com|Kari@Example.com>")
    assert mailto == customer_hash("kari@example.com")
    assert customer_in("not an address") is None
