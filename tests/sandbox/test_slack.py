"""The sandbox's Slack: the Web API through slack_sdk, response_url posts, and Socket Mode."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import Sandbox

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def slack(env: dict[str, str]) -> AsyncWebClient:
    return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


async def test_web_api_answers_and_logs(
    sandbox: Sandbox, tiny: dict[str, Any], slack: AsyncWebClient
) -> None:
    tiny["slack"]["usergroups"] = [
        {"id": "S0APPROVERS", "handle": "approvers", "users": ["U0APPROVER"]}
    ]
    await sandbox.replace_world(tiny)
    auth = await slack.auth_test()
    assert auth["ok"] is True
    assert auth["user_id"]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    posted = await slack.chat_postMessage(channel="C0PASSES", text="hi", blocks=blocks)
    assert posted["channel"] == "C0PASSES"
    assert posted["message"]["blocks"] == blocks
    ts = posted["ts"]
    by_name = await slack.chat_postMessage(channel="#passes", text="again")
    assert by_name["channel"] == "C0PASSES"
    updated = await slack.chat_update(channel="C0PASSES", ts=ts, text="edited")
    assert (updated["ts"], updated["text"]) == (ts, "edited")
    ephemeral = await slack.chat_postEphemeral(channel="C0PASSES", user="U0SUPPORT", text="psst")
    assert ephemeral["message_ts"]
    link = await slack.chat_getPermalink(channel="C0PASSES", message_ts=ts)
    assert link["permalink"].endswith(f"/archives/C0PASSES/p{ts.replace('.', '')}")
    user = await slack.users_info(user="U0APPROVER")
    assert user["user"]["real_name"] == "Ada Approver"
    found = await slack.users_lookupByEmail(email="SAM@dance.example")
    assert found["user"]["id"] == "U0SUPPORT"
    group = await slack.usergroups_users_list(usergroup="S0APPROVERS")
    assert group["users"] == ["U0APPROVER"]
    channel = await slack.conversations_info(channel="C0PASSES")
    assert channel["channel"]["name"] == "passes"
    view = await slack.views_open(
        trigger_id="t.1",
        view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": blocks},
    )
    assert view["view"]["id"].startswith("V")
    dm = await slack.chat_postMessage(channel="U0SUPPORT", text="direct")
    assert dm["channel"] == "D0SUPPORT"

    with pytest.raises(SlackApiError) as unknown:
        await slack.api_call("no.such.method")
    assert unknown.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as nowhere:
        await slack.chat_postMessage(channel="C0NOWHERE", text="x")
    assert nowhere.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as nobody:
        await slack.users_info(user="U0NOBODY")
    assert nobody.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as no_auth:
        await AsyncWebClient(base_url=slack.base_url).auth_test()
    assert no_auth.value.response["error"] == "not_authed"

    log = (await sandbox.dump_world())["slack"]["log"]
    methods = [entry["method"] for entry in log]
    assert methods[:4] == ["auth.test", "chat.postMessage", "chat.postMessage", "chat.update"]
    first = log[1]
    assert first["args"] == {"channel": "C0PASSES", "text": "hi", "blocks": blocks}
    assert first["ts"] == ts == "1795852800.000001"  # the world's now, plus one call
    assert all("token" not in entry["args"] for entry in log)
    assert [entry["ts"] for entry in log] == sorted(entry["ts"] for entry in log)


async def test_form_encoded_calls_are_logged_decoded(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient
) -> None:
    answer = await http.post(
        f"{env['SLACK_API_URL']}chat.postMessage",
        data={
            "token": env["SLACK_BOT_TOKEN"],
            "channel": "C0PASSES",
            "blocks": '[{"type": "divider"}]',
        },
    )
    assert answer.json()["ok"] is True
    entry = (await fresh.dump_world())["slack"]["log"][-1]
    assert entry["args"] == {"channel": "C0PASSES", "blocks": [{"type": "divider"}]}


async def test_response_url_posts_are_logged(fresh: Sandbox, http: httpx.AsyncClient) -> None:
    answer = await http.post(
        f"{fresh.url}/slack/response/abc123",
        json={"text": "done", "response_type": "ephemeral", "replace_original": True},
    )
    assert answer.status_code == 200
    world = await fresh.dump_world()
    entry = world["slack"]["log"][-1]
    assert entry["method"] == "response_url"
    assert entry["id"] == "abc123"
    assert entry["args"]["text"] == "done"
    assert world["requests"]["slack"]["POST /slack/response/{id}"] == 1


async def test_socket_mode_round_trip(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient
) -> None:
    web_client = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    client = SocketModeClient(app_token=env["SLACK_APP_TOKEN"], web_client=web_client)
    received: list[SocketModeRequest] = []

    async def listener(socket: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        payload = (
            {"text": f"got {request.payload.get('command')}"}
            if request.type == "slash_commands"
            else None
        )
        await socket.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        )

    client.socket_mode_request_listeners.append(listener)
    try:
        await client.connect()
        ack = await fresh.push_socket_envelope(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "payload": {"command": "/fixpass", "text": "a@example.com", "user_id": "U0SUPPORT"},
            }
        )
        assert ack == {"envelope_id": "env-1", "payload": {"text": "got /fixpass"}}
        assert received[0].accepts_response_payload is True
        assert received[0].retry_attempt == 0
        # The same through the control route, with an events_api envelope.
        answer = await http.post(
            f"{fresh.url}/slack/socket/envelope",
            json={
                "type": "events_api",
                "payload": {"event": {"type": "app_mention"}},
                "retry_attempt": 1,
                "retry_reason": "timeout",
            },
        )
        assert answer.status_code == 200
        assert set(answer.json()) == {"envelope_id"}
        assert received[1].retry_attempt == 1
        assert received[1].retry_reason == "timeout"
    finally:
        await client.close()
        await asyncio.sleep(0)
    log = (await fresh.dump_world())["slack"]["log"]
    assert log[0]["method"] == "apps.connections.open"


async def test_push_without_a_client_times_out(fresh: Sandbox, http: httpx.AsyncClient) -> None:
    with pytest.raises(TimeoutError):
        await fresh.push_socket_envelope({"type": "events_api", "payload": {}}, timeout=0.1)
    answer = await http.post(
        f"{fresh.url}/slack/socket/envelope",
        params={"timeout": "0.1"},
        json={"type": "events_api", "payload": {}},
    )
    assert answer.status_code == 504


async def test_app_token_is_needed_for_socket_mode(
    fresh: Sandbox, slack: AsyncWebClient, env: dict[str, str]
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack.apps_connections_open(app_token=env["SLACK_BOT_TOKEN"])  # the bot's token
    assert caught.value.response["error"] == "not_allowed_token_type"
