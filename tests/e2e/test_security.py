"""Security, end to end through the real Slack app on loopback: signatures (forged, stale,
replayed), tampered button values, approvers (over HTTP and Socket Mode), and secrets that
never reach a log, a message, the audit or the data."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import pytest_asyncio

from bot.serve import EVENTS_PATH
from core.usecases.services import Services
from sandbox import Sandbox, start_sandbox
from sandbox.worlds import add_customer_everywhere, generate_world
from tests.e2e.slackbot import (
    OLA,
    Bot,
    Card,
    latest_card,
    private,
    running_bot,
    slack_world,
    socket_app,
    socket_fixpass,
    updates,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

VERA = "vera.vidde@example.com"
SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "STRIPE_API_KEY",
    "SANITY_API_TOKEN",
    "CLERK_SECRET_KEY",
)


def two_schools() -> dict[str, Any]:
    """Two schools; Vera bought at both and neither pass was made (two fixes on her card)."""
    world = generate_world(seed=11, schools=2, purchases=30, broken=False)
    add_customer_everywhere(world, email=VERA, missing=2)
    world["slack"]["users"].append(
        {"id": "U0SECOND", "name": "bo", "real_name": "Bo Second",
         "profile": {"email": "bo@dance.example"}, "is_admin": False}
    )  # fmt: skip
    return world


TWO_SCHOOLS = two_schools()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(slack_world())
    try:
        yield sandbox
    finally:
        await sandbox.close()


def subscriptions_for(docs: dict[str, dict[str, Any]], session: str) -> list[dict[str, Any]]:
    return [
        d
        for d in docs.values()
        if d.get("_type") == "subscription" and d.get("stripeSessionId") == session
    ]


async def mutations(box: Sandbox) -> int:
    return (await box.requests())["sanity"].get("POST /data/mutate", 0)


def value_of(card: Card, button: int = 0) -> dict[str, Any]:
    return json.loads(card.buttons()[button][1]["value"])


def pressing(bot: Bot, card: Card, value: dict[str, Any], *, user: str = "U0APPROVER") -> str:
    """A press of the card's first button whose value says `value` (a forged request)."""
    payload = json.loads(dict(parse_qsl(bot.press_body(card, user=user)))["payload"])
    payload["actions"][0]["value"] = json.dumps(value, separators=(",", ":"))
    return urlencode({"payload": json.dumps(payload)})


# ----------------------------------------------------------------------------- signatures


def _forged(bot: Bot, body: str, how: str) -> tuple[str, dict[str, str]]:
    now = int(time.time())
    if how == "wrong secret":
        return body, bot.headers(body, secret="not-the-signing-secret")
    if how == "signed with an empty secret":
        base = f"v0:{now}:{body}".encode()
        digest = hmac.new(b"", base, hashlib.sha256).hexdigest()
        return body, {**bot.headers(body, timestamp=now), "x-slack-signature": f"v0={digest}"}
    if how == "six minutes old":
        return body, bot.headers(body, timestamp=now - 360)
    if how == "six minutes ahead":
        return body, bot.headers(body, timestamp=now + 360)
    if how == "body altered after signing":
        return body.replace("ola.hansen177", "emil.lund117"), bot.headers(body)
    if how == "timestamp altered after signing":
        headers = bot.headers(body)
        return body, {**headers, "x-slack-request-timestamp": str(now - 1)}
    if how == "no signature":
        headers = bot.headers(body)
        del headers["x-slack-signature"]
        return body, headers
    if how == "no timestamp":
        headers = bot.headers(body)
        del headers["x-slack-request-timestamp"]
        return body, headers
    if how == "another scheme":
        headers = bot.headers(body)
        return body, {**headers, "x-slack-signature": "v1=" + headers["x-slack-signature"][3:]}
    raise AssertionError(how)


FORGERIES = [
    "wrong secret",
    "signed with an empty secret",
    "six minutes old",
    "six minutes ahead",
    "body altered after signing",
    "timestamp altered after signing",
    "no signature",
    "no timestamp",
    "another scheme",
]


@pytest.mark.parametrize("how", FORGERIES)
@pytest.mark.parametrize("kind", ["command", "press"])
async def test_forged_and_stale_signatures_are_refused(
    box: Sandbox, tmp_path: Path, how: str, kind: str
) -> None:
    async with running_bot(box, tmp_path / "db") as bot:
        if kind == "command":
            body = bot.command_body(OLA)
        else:
            await bot.command(OLA)
            body = bot.press_body(await bot.card())
            await bot.settle()
        before = await bot.log()
        queries = len(await box.sanity_queries())
        sent, headers = _forged(bot, body, how)
        answer = await bot.http.post(bot.url + EVENTS_PATH, content=sent, headers=headers)
        assert answer.status_code == 401
        assert await bot.settle() == before  # nothing said
        assert len(await box.sanity_queries()) == queries  # nothing read
        assert await mutations(box) == 0
        assert bot.store.presses() == []


async def test_an_unsigned_ssl_check_runs_nothing(box: Sandbox, tmp_path: Path) -> None:
    async with running_bot(box, tmp_path / "db") as bot:
        body = bot.command_body(OLA) + "&ssl_check=1"  # Bolt answers ssl_check unsigned
        answer = await bot.http.post(
            bot.url + EVENTS_PATH,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
        assert await bot.settle() == []


async def test_a_replayed_press_applies_once(box: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "passbot.db"
    async with running_bot(box, db) as bot:
        await bot.command(OLA)
        card = await bot.card()
        body = bot.press_body(card)
        headers = bot.headers(body)  # one signed request, sent again byte for byte
        url = bot.url + EVENTS_PATH
        first, again = await asyncio.gather(
            bot.http.post(url, content=body, headers=headers),
            bot.http.post(url, content=body, headers=headers),
        )
        later = await bot.http.post(url, content=body, headers=headers)
        assert [a.status_code for a in (first, again, later)] == [200, 200, 200]
        log = await bot.settle()
        assert len(updates(log, "✅")) == 1
        assert len(bot.services.recent_audit(10)) == 1
        assert [p.outcome for p in bot.store.presses()] == ["applied"]
        session = value_of(card)["s"]
        world = json.loads(json.dumps(await box.dump_world()))
    assert len(subscriptions_for({d["_id"]: d for d in world["sanity"]["documents"]}, session)) == 1

    # The same request again, within its five minutes, to a restarted app (its memory of
    # deliveries gone; passbot's store kept): the claim says it was applied; nothing more.
    async with running_bot(box, db, world) as bot:
        replay = await bot.http.post(bot.url + EVENTS_PATH, content=body, headers=headers)
        assert replay.status_code == 200
        log = (await bot.settle())[len(world["slack"]["log"]) :]  # what the restarted app did
        (told,) = private(log)
        assert told["text"].startswith("✅ Already applied")
        assert updates(log, "✅") == []
        assert await mutations(box) == 0
        assert len(bot.services.recent_audit(10)) == 1
        assert len(subscriptions_for(await bot.documents(), session)) == 1
        assert [p.outcome for p in bot.store.presses()] == ["done_before", "applied"]


async def test_a_replayed_command_runs_once(box: Sandbox, tmp_path: Path) -> None:
    async with running_bot(box, tmp_path / "db") as bot:
        body = bot.command_body(OLA)
        headers = bot.headers(body)
        url = bot.url + EVENTS_PATH
        for _ in range(3):
            assert (await bot.http.post(url, content=body, headers=headers)).status_code == 200
        log = await bot.settle()
        assert [e["method"] for e in log].count("chat.postMessage") == 1


# ----------------------------------------------------------------------------- tampering


async def test_tampered_button_values_write_nothing(box: Sandbox, tmp_path: Path) -> None:
    async with running_bot(box, tmp_path / "db", copy.deepcopy(TWO_SCHOOLS)) as bot:
        await bot.command(VERA)
        card = await bot.card()
        await bot.settle()
        values = [value_of(card, i) for i in range(len(card.buttons()))]
        mine = values[0]
        others = [v for v in values if v["s"] != mine["s"]]
        assert others, "the card offers fixes at two schools"
        other = others[0]
        unknown = "f" * 16
        cases = {
            "another session, same proposal": {**mine, "s": other["s"]},
            "another school's session, its own hash": {**mine, "s": other["s"], "h": other["h"]},
            "another school's session, no such proposal": {**mine, "p": unknown, "s": other["s"]},
            "an alternative not offered": {**mine, "a": "free_forever"},
            "a different plan hash": {**mine, "h": "0" * 16},
            "no such proposal, a made-up hash": {**mine, "p": unknown, "h": "0" * 16},
            "no such proposal, the genuine session and hash": {**mine, "p": unknown},
            "a session that does not exist": {**mine, "p": unknown, "s": "cs_test_" + "0" * 40},
            "GROQ for a session": {**mine, "p": unknown, "s": 'cs_"]|*[_type=="user"]'},
        }
        for case, value in cases.items():
            before = len(await bot.log())
            answer = await bot.send(pressing(bot, card, value))
            assert answer.status_code == 200, case
            log = (await bot.settle())[before:]
            said = [
                str(e["args"].get("text", ""))
                for e in log
                if e["method"] in ("chat.update", "response_url")
            ]
            assert said, case
            assert said[-1].startswith("⚠️"), (case, said)
            assert not [s for s in said if s.startswith("✅")], case
            assert await mutations(box) == 0, case
            assert bot.services.recent_audit(10) == [], case
        docs = await bot.documents()
        assert subscriptions_for(docs, mine["s"]) == subscriptions_for(docs, other["s"]) == []
        # The genuine button still works: nothing was consumed by the forgeries.
        await bot.press(card)
        (result,) = await bot.wait_for(lambda log: updates(log, "✅"))
        assert result["text"].startswith("✅ Pass created")
        assert len(subscriptions_for(await bot.documents(), mine["s"])) == 1
        assert subscriptions_for(await bot.documents(), other["s"]) == []
        assert len(bot.services.recent_audit(10)) == 1


# ----------------------------------------------------------------------------- approvers


async def test_a_non_approver_can_never_apply(box: Sandbox, tmp_path: Path) -> None:
    async with running_bot(box, tmp_path / "db", copy.deepcopy(TWO_SCHOOLS)) as bot:
        await bot.command(VERA)
        card = await bot.card()
        for button in range(len(card.buttons())):
            await bot.press(card, button=button, user="U0SUPPORT")
        forged = {**value_of(card), "p": "f" * 16}  # even with a value it made up
        await bot.send(pressing(bot, card, forged, user="U0SUPPORT"))
        await bot.send(pressing(bot, card, value_of(card), user="U0NOBODY"))
        log = await bot.settle()
        assert updates(log, "⏳") == []
        assert updates(log, "✅") == []
        assert all(a["text"].startswith("🔒 Only approvers") for a in private(log))
        assert len(private(log)) == len(card.buttons()) + 2
        assert {p.outcome for p in bot.store.presses()} == {"forbidden"}
        assert await mutations(box) == 0
        assert bot.services.recent_audit(10) == []


async def test_a_non_approver_can_never_apply_over_socket_mode(
    box: Sandbox, tmp_path: Path
) -> None:
    await box.replace_world(copy.deepcopy(TWO_SCHOOLS))
    async with socket_app(box, tmp_path / "db") as (activity, services):
        await socket_fixpass(box, VERA, trigger="s.1")
        assert await activity.idle()
        card = latest_card((await box.dump_world())["slack"]["log"], with_buttons=True)
        assert card is not None
        for n, (block_id, button) in enumerate(card.buttons()):
            press = {
                "type": "block_actions", "user": {"id": "U0SUPPORT"},
                "trigger_id": f"s.p{n}",
                "container": {"type": "message", "channel_id": card.channel,
                              "message_ts": card.ts},
                "message": {"ts": card.ts, "text": card.text, "blocks": card.blocks},
                "response_url": f"{box.url}/slack/response/sockp{n}",
                "actions": [{"action_id": button["action_id"], "block_id": block_id,
                             "value": button["value"], "action_ts": f"2.{n}"}],
            }  # fmt: skip
            await box.push_socket_envelope({"type": "interactive", "payload": press}, 10)
        assert await activity.idle()
        log = (await box.dump_world())["slack"]["log"]
        assert updates(log, "⏳") == []
        assert updates(log, "✅") == []
        assert len(private(log)) == len(card.buttons())
        assert await mutations(box) == 0
        assert services.recent_audit(10) == []


# ----------------------------------------------------------------------------- secrets


async def test_no_configured_secret_appears_in_logs_messages_audit_or_data(
    box: Sandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, at its most talkative
    secrets = {name: box.settings()[name] for name in SECRETS}
    assert all(secrets.values())
    captured: list[str] = []
    db = tmp_path / "passbot.db"

    async def keep(bot: Bot) -> None:
        await bot.settle()
        captured.append(json.dumps(await box.dump_world(), ensure_ascii=False))
        captured.append(repr(bot.services.recent_audit(100)))
        captured.append(repr(bot.store.presses(100)))

    # An ordinary session: commands, a refused press, an approval, a double press, a replay,
    # a forgery, a bad address.
    async with running_bot(box, db) as bot:
        await bot.command(OLA)
        card = await bot.card()
        await bot.press(card, user="U0SUPPORT")
        body = bot.press_body(card)
        headers = bot.headers(body)
        await bot.http.post(bot.url + EVENTS_PATH, content=body, headers=headers)
        await bot.http.post(bot.url + EVENTS_PATH, content=body, headers=headers)
        await bot.press(card, user="U0SECOND")
        await bot.wait_for(lambda log: updates(log, "✅"))
        await bot.command("", command="/passcheck")
        await bot.command("", command="/passaudit")
        await bot.command("not an address")
        forged = bot.command_body(OLA)
        await bot.http.post(
            bot.url + EVENTS_PATH, content=forged, headers=bot.headers(forged, secret="x")
        )
        await keep(bot)

    # Failures: Sanity answering 500 to every query, Stripe and Clerk failing, Slack limiting.
    failing = slack_world()
    failing["faults"] = [
        {"service": "sanity", "path": "/data/query", "status": 500},
        {"service": "stripe", "path": "/v1/checkout/sessions", "status": 401, "count": 2},
        {"service": "clerk", "path": "/v1/users", "status": 503},
        {"service": "slack", "path": "/api/chat.update", "status": 429, "retry_after": 99,
         "count": 1},
    ]  # fmt: skip
    async with running_bot(box, tmp_path / "failing.db", failing) as bot:
        await bot.command(OLA)
        await bot.command("", command="/passcheck")
        await keep(bot)
        # Which failure a card names depends on which concurrent read fails first (Sanity's
        # or Clerk's), and one of the two updates meets the Slack 429: at least one card
        # must name a failed service.
        shown = updates(await bot.log(), "⚠️")
        assert any(
            name in str(u.get("text")) for u in shown for name in ("Sanity", "Clerk", "Stripe")
        ), shown

    # An unknown error (an incident, with its traceback logged).
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    async with running_bot(box, tmp_path / "broken.db") as bot:
        monkeypatch.setattr(Services, "diagnose", broken)
        await bot.command(OLA)
        await bot.wait_for(lambda log: updates(log, "⚠️"))
        monkeypatch.undo()
        await keep(bot)

    # Socket Mode, where the app-level token is used.
    await box.replace_world(slack_world())
    async with socket_app(box, tmp_path / "socket.db") as (activity, _):
        await socket_fixpass(box, OLA, trigger="s.9", response="s")
        assert await activity.idle()
        captured.append(json.dumps(await box.dump_world(), ensure_ascii=False))

    out, err = capfd.readouterr()
    records = caplog.records
    captured += [out, err, caplog.text]
    captured += [f"{r.getMessage()} {r.__dict__!r}" for r in records]
    # passbot's SQLite files, byte for byte: audit, presses, claims, proposals.
    stored = sorted(tmp_path.glob("*.db*"))  # noqa: ASYNC240 - a test, after the app stopped
    captured += [p.read_bytes().decode("utf-8", "replace") for p in stored]
    assert stored
    everything = "\n".join(captured)

    # The scan is not vacuous: the session happened and was logged at DEBUG.
    assert "🔒 Only approvers" in everything
    assert "✅ Pass created" in everything
    assert "Sanity failed" in everything
    assert "incident" in everything
    assert any(r.levelno == logging.DEBUG and r.name.startswith("slack_") for r in records)
    assert "apps.connections.open" in everything
    for name, value in secrets.items():
        assert value not in everything, f"{name} leaked"
