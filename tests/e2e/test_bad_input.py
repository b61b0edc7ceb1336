"""Bad input through the real Slack app (served on loopback, requests signed as Slack signs
them): a corpus of `/fixpass` arguments and malformed Slack payloads. Each gets a clear one-line
answer, or a proper rejection for a body that is not a readable Slack request; nothing is
written; and no value reaches a GROQ query except as a `$param` — every query the Sanity
stand-in received is one of the adapter's constant query texts."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import pytest_asyncio

from core.adapters import sanity
from sandbox import Sandbox, start_sandbox
from tests.e2e.slackbot import OLA, Bot, Card, running_bot, slack_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Every query text passbot sends to Sanity: values travel only in `params`.
QUERIES = frozenset(getattr(sanity, name) for name in dir(sanity) if name.endswith("_QUERY"))

TEN_KB = 10 * 1024

#: Arguments that are not one address: answered with one usage line, and nothing else happens.
REFUSED = [
    "",
    "   ",
    "\n",
    "\t \r\n",
    "o",  # ("ola" is a name now: looked up, see test_lookup_cli.py)
    "@example.com",
    "ola@",
    "ola@example",
    "ola@@example.com",
    "a@b@example.com",
    "ola@.",
    "a@b.no c@d.no",
    "a@b.no,c@d.no",
    "a@b.no;c@d.no",
    "a@b.no\nc@d.no",
    "a@b.no\u2028c@d.no",
    "<mailto:a@b.no|a@b.no> <mailto:c@d.no|c@d.no>",
    "<mailto:a@b.no|a@b.no>,<mailto:c@d.no|c@d.no>",
    "mailto:a@b.no mailto:c@d.no",
    "<mailto:a@b.no|a@b.no",
    "<mailto:>",
    "mailto:",
    "https://example.com/?ola@example.com",
    "`ola@example.com`",
    "ola@example.com|ola@example.com",
    "<@U0APPROVER>",
    "<#C0PASSES|passes>",
    "<!channel>",
    '"] | *[_type=="user"]{...}',
    '*[_type == "user"]{email, clerkId}',
    "ola@example.com] | order(_id)",
    'ola@example.com") || true || ("',
    "ola@exa$mple.com",
    "$email",
    "${email}",
    '\\"',
    'ola@example.com\\"',
    "ola@example.com'",
    '{"email": "ola@example.com"}',
    "[ola@example.com]",
    "(ola)@example.com",
    "ola@example.com<script>",
    "' OR 1==1 --",
    "x" * TEN_KB,
    "x" * TEN_KB + "@example.com",
    "ola@" + "x" * TEN_KB + ".no",
    "\u202eola@example.com",  # right-to-left override
    "ola\u200b@example.com",  # zero-width space
    "ola@exam\u200dple.com",  # zero-width joiner
    "\u200f",  # right-to-left mark
    "ola@example.com\x00",
    "😀",
    "😀 @ 😀.no",
    "ola@😀.no",
]

#: Odd but single addresses: looked up (a card, "looking…" replaced); the value reaches Sanity
#: only as `$email`. (argument, the address looked up)
LOOKED_UP = [
    (f"  <mailto:{OLA.upper()}|{OLA.upper()}> ", OLA.upper()),
    (f"mailto:{OLA}", OLA),
    (f"<mailto:{OLA}>", OLA),
    (f"{OLA}\r\n", OLA),
    ("a$email@example.com", "a$email@example.com"),
    ("x*@example.com", "x*@example.com"),
    ("{x}==1&&@example.com", "{x}==1&&@example.com"),
    ("a|b@example.com", "a|b@example.com"),
    ("😀@example.com", "😀@example.com"),
    ("שלום@example.com", "שלום@example.com"),  # right-to-left letters, not control characters
    ("用户@例子.广告", "用户@例子.广告"),
    ("%27%20OR%201@example.com", "%27%20OR%201@example.com"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bot]:
    async with running_bot(box, tmp_path_factory.mktemp("bad") / "passbot.db") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pristine(bot: Bot) -> dict[str, dict[str, Any]]:
    """The documents before any bad input (compared after each test)."""
    return copy.deepcopy(await bot.documents())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def card(bot: Bot) -> Card:
    """A real diagnosis card with approve buttons (the malformed presses start from it)."""
    await bot.command(OLA)
    found = await bot.card()
    await bot.settle()
    return found


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def nothing_written(
    bot: Bot, box: Sandbox, pristine: dict[str, dict[str, Any]]
) -> AsyncIterator[None]:
    yield
    await bot.settle()
    counts = await box.requests()
    assert "POST /data/mutate" not in counts["sanity"]
    assert await bot.documents() == pristine
    assert bot.services.recent_audit(10) == []
    for entry in await box.sanity_queries():
        assert entry["query"] in QUERIES, entry["query"][:200]


async def _state(bot: Bot, box: Sandbox) -> tuple[int, int, dict[str, int]]:
    counts = await box.requests()
    services = {s: sum(counts.get(s, {}).values()) for s in ("stripe", "sanity", "clerk")}
    return len(await bot.log()), len(await box.sanity_queries()), services


@pytest.mark.parametrize("text", REFUSED, ids=[repr(t)[:40] for t in REFUSED])
async def test_anything_but_one_address_gets_one_usage_line_and_nothing_else(
    bot: Bot, box: Sandbox, text: str
) -> None:
    before = await _state(bot, box)
    answer = await bot.command(text)
    assert answer.status_code == 200
    said = answer.text
    assert "usage: /fixpass EMAIL" in said
    assert said.startswith("expected one email address")
    assert "\n" not in said
    assert "\r" not in said
    assert len(said) < 300
    await bot.settle()
    assert await _state(bot, box) == before  # no message, no query, no request at all


@pytest.mark.parametrize(("text", "address"), LOOKED_UP, ids=[repr(t)[:40] for t, _ in LOOKED_UP])
async def test_an_odd_single_address_is_looked_up_and_reaches_sanity_only_as_a_param(
    bot: Bot, box: Sandbox, text: str, address: str
) -> None:
    log_before, queries_before, _ = await _state(bot, box)
    answer = await bot.command(text)
    assert (answer.status_code, answer.text) == (200, "")

    def replaced(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["args"] for e in log[log_before:] if e["method"] == "chat.update"]

    (result,) = await bot.wait_for(replaced)
    log = await bot.settle()
    (looking,) = [e for e in log[log_before:] if e["method"] == "chat.postMessage"][:1]
    assert looking["args"]["text"].startswith("🔎 Looking up")
    assert result["ts"] == looking["ts"]
    assert "\n" not in result["text"]
    assert not result["text"].startswith("⚠️"), result["text"]
    queries = (await box.sanity_queries())[queries_before:]
    assert queries
    assert {q["query"] for q in queries} <= QUERIES
    assert [q for q in queries if q["params"].get("email") == address]
    assert all(address not in q["query"] for q in queries)


# ----------------------------------------------------------------------------- malformed Slack


def _command_without(bot: Bot, field: str) -> str:
    fields = dict(parse_qsl(bot.command_body(OLA)))
    del fields[field]
    return urlencode(fields)


def _press(bot: Bot, card: Card, *, action: dict[str, Any] | None = None, **changes: Any) -> str:
    payload = json.loads(dict(parse_qsl(bot.press_body(card)))["payload"])
    payload.update(changes)
    if action is not None:
        payload["actions"][0].update(action)
    payload = {k: v for k, v in payload.items() if v is not None}
    return urlencode({"payload": json.dumps(payload)})


def _value(card: Card, **changes: Any) -> str:
    value = json.loads(card.buttons()[0][1]["value"])
    value.update(changes)
    return json.dumps(value)


# (case, body builder, HTTP status, what the person is told: None for nothing)
MALFORMED: list[tuple[str, Any, int, str | None]] = [
    ("command without user_id", lambda b, c: _command_without(b, "user_id"), 400, None),
    ("command without channel_id", lambda b, c: _command_without(b, "channel_id"), 400, None),
    ("command without command", lambda b, c: _command_without(b, "command"), 404, None),
    ("empty body", lambda b, c: "", 404, None),
    ("not a form", lambda b, c: "%%%&&&==", 404, None),
    ("press of an unknown type", lambda b, c: _press(b, c, type="no_such_type"), 404, None),
    ("press without a type", lambda b, c: _press(b, c, type=None), 404, None),
    ("press with user a string", lambda b, c: _press(b, c, user="U0APPROVER"), 400, None),
    ("press without a user", lambda b, c: _press(b, c, user=None), 400, None),
    ("press with user id a number", lambda b, c: _press(b, c, user={"id": 7}), 400, None),
    ("press without actions", lambda b, c: _press(b, c, actions=None), 400, None),
    ("press with no action", lambda b, c: _press(b, c, actions=[]), 400, None),
    ("press with actions a string", lambda b, c: _press(b, c, actions="fix.apply"), 400, None),
    ("press with an action a string", lambda b, c: _press(b, c, actions=["x"]), 400, None),
    ("press with action_id a number", lambda b, c: _press(b, c, action={"action_id": 7}), 400,
     None),
    ("press of an unknown action", lambda b, c: _press(b, c, action={"action_id": "fix.nope"}),
     404, None),
    ("value not JSON", lambda b, c: _press(b, c, action={"value": "not json"}), 200,
     "not one passbot made"),
    ("value JSON but a list", lambda b, c: _press(b, c, action={"value": "[1, 2]"}), 200,
     "not one passbot made"),
    ("value a number", lambda b, c: _press(b, c, action={"value": 7}), 200, "could not be read"),
    ("value too long", lambda b, c: _press(b, c, action={"value": "x" * 5000}), 200,
     "not one passbot made"),
    ("value with a 3 kB session",
     lambda b, c: _press(b, c, action={"value": _value(c, s="cs_" + "x" * 3000)}), 200,
     "not one passbot made"),
    ("value without its hash",
     lambda b, c: _press(b, c, action={"value": _value(c, h=None)}), 200,
     "not one passbot made"),
    ("value with GROQ in the session",
     lambda b, c: _press(b, c, action={"value": _value(c, s='"] | *[_type=="user"]')}), 200,
     "does not match the proposal"),
    ("container a string", lambda b, c: _press(b, c, container="x"), 200, "could not be read"),
    ("message blocks a string",
     lambda b, c: _press(b, c, message={"ts": c.ts, "blocks": "x"}), 200, "could not be read"),
    ("trigger id a list", lambda b, c: _press(b, c, trigger_id=[1]), 200, "could not be read"),
]  # fmt: skip

#: `payload=` that is not a JSON object: Bolt cannot even build the request (refused, never 2xx).
BROKEN_JSON = ["{not json", "[]", '"a string"', "7", "null", "{" * 5000]


@pytest.mark.parametrize(
    ("case", "body", "status", "told"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
async def test_a_malformed_payload_is_refused_or_answered_in_one_line(
    bot: Bot, box: Sandbox, card: Card, case: str, body: Any, status: int, told: str | None
) -> None:
    log_before, *_ = await _state(bot, box)
    answer = await bot.send(body(bot, card))
    assert answer.status_code == status, (case, answer.text)
    log = (await bot.settle())[log_before:]
    said = [
        str(e["args"].get("text", ""))
        for e in log
        if e["method"] in ("chat.update", "response_url", "chat.postMessage")
    ]
    if told is None:
        assert said == []
    else:
        (line,) = said
        assert line.startswith("⚠️"), line
        assert told in line, line
        assert "\n" not in line
    assert [e for e in log if e["method"] == "chat.update" and "✅" in str(e["args"])] == []


@pytest.mark.parametrize("payload", BROKEN_JSON, ids=[p[:12] for p in BROKEN_JSON])
async def test_a_payload_that_is_not_a_json_object_is_refused(
    bot: Bot, box: Sandbox, payload: str
) -> None:
    before = await _state(bot, box)
    answer = await bot.send(urlencode({"payload": payload}))
    assert answer.status_code >= 400
    await bot.settle()
    assert await _state(bot, box) == before
