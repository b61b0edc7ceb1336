"""Issue 11 §5: the sandbox is as strict as the real services. Slack answers `invalid_blocks`
for blocks Slack rejects (chat.postMessage, chat.update, views.open, response_url posts);
tokens and keys other than the world's are refused as each service refuses them; Sanity refuses
an API version that is not a date; sessions carry their line items when passbot expands them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import Sandbox
from tests.sandbox.conftest import AURORA

pytestmark = pytest.mark.asyncio(loop_scope="session")

OK = [{"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(**over: Any) -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Approve"},
              "action_id": "fix.apply", "value": "v"}  # fmt: skip
    return {"type": "actions", "elements": [{**button, **over}]}


REFUSED = {
    "51 blocks": [_section("x")] * 51,
    "section text over 3000": [_section("x" * 3001)],
    "empty text": [_section("")],
    "header over 150": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "unknown type": [{"type": "carousel"}],
    "button text over 75": [_button(text={"type": "plain_text", "text": "b" * 76})],
    "button value over 2000": [_button(value="v" * 2001)],
    "block id over 255": [{**_section("x"), "block_id": "b" * 256}],
    "11 context elements": [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}
    ],
    "section with neither text nor fields": [{"type": "section"}],
}


@pytest.fixture
def slack(env: dict[str, str]) -> AsyncWebClient:
    return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


@pytest.mark.parametrize("blocks", REFUSED.values(), ids=REFUSED.keys())
async def test_slack_refuses_blocks_slack_refuses(
    fresh: Sandbox, slack: AsyncWebClient, http: httpx.AsyncClient, blocks: list[Any]
) -> None:
    with pytest.raises(SlackApiError) as posted:
        await slack.chat_postMessage(channel="C0PASSES", text="t", blocks=blocks)
    assert posted.value.response["error"] == "invalid_blocks"

    good = await slack.chat_postMessage(channel="C0PASSES", text="t", blocks=OK)
    with pytest.raises(SlackApiError) as updated:
        await slack.chat_update(channel="C0PASSES", ts=good["ts"], text="t", blocks=blocks)
    assert updated.value.response["error"] == "invalid_blocks"
    world = await fresh.dump_world()
    stored = [e for e in world["slack"]["log"] if e["method"] == "chat.update"]
    assert stored  # logged as received, but the message is unchanged:
    history = [e for e in world["slack"]["log"] if e["method"] == "chat.postMessage"]
    assert len(history) == 2

    # A modal takes 100 blocks; 101 (or any other fault above) is refused.
    in_modal = [_section("x")] * 101 if len(blocks) > 50 else blocks
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Why?"},
             "blocks": in_modal}  # fmt: skip
    with pytest.raises(SlackApiError) as opened:
        await slack.views_open(trigger_id="1.2", view=modal)
    assert opened.value.response["error"] == "invalid_blocks"

    answer = await http.post(f"{fresh.url}/slack/response/r1", json={"text": "t", "blocks": blocks})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_blocks"


async def test_slack_takes_what_slack_takes(
    fresh: Sandbox, slack: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    fifty = [_section(f"line {n}") for n in range(50)]
    posted = await slack.chat_postMessage(channel="C0PASSES", text="t", blocks=fifty)
    assert posted["ok"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Not a problem?"},
             "submit": {"type": "plain_text", "text": "Dismiss"},
             "blocks": [_section("x" * 3000), *[_section("y")] * 99]}  # fmt: skip
    assert (await slack.views_open(trigger_id="1.2", view=modal))["ok"]
    answer = await http.post(f"{fresh.url}/slack/response/r2", json={"text": "t", "blocks": OK})
    assert answer.status_code == 200


async def test_a_modal_title_over_24_characters_is_refused(
    fresh: Sandbox, slack: AsyncWebClient
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}, "blocks": OK}
    with pytest.raises(SlackApiError) as opened:
        await slack.views_open(trigger_id="1.2", view=modal)
    assert opened.value.response["error"] == "invalid_blocks"


# ------------------------------------------------------------------------------ credentials


async def test_only_the_worlds_slack_token_is_taken(fresh: Sandbox, env: dict[str, str]) -> None:
    other = AsyncWebClient(token="xoxb-1-somebody-elses-token", base_url=env["SLACK_API_URL"])
    with pytest.raises(SlackApiError) as refused:
        await other.auth_test()
    assert refused.value.response["error"] == "invalid_auth"


async def test_only_the_worlds_stripe_key_is_taken(fresh: Sandbox, env: dict[str, str]) -> None:
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        "rk_test_" + "x" * 24,  # well-formed, not the world's
        base_addresses={"api": env["STRIPE_API_BASE"]},
        http_client=http_client,
        max_network_retries=0,
    )
    try:
        with pytest.raises(stripe.AuthenticationError) as refused:
            await client.v1.checkout.sessions.list_async(options={"stripe_account": AURORA})
        assert refused.value.http_status == 401
    finally:
        await http_client.close_async()
        http_client.close()


async def test_only_the_worlds_clerk_key_is_taken(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient
) -> None:
    answer = await http.get(
        f"{env['CLERK_API_URL']}/users", headers={"Authorization": "Bearer sk_test_notours"}
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "authentication_invalid"
    ours = await http.get(
        f"{env['CLERK_API_URL']}/users",
        headers={"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"},
    )
    assert ours.status_code == 200


# ------------------------------------------------------------------------------- Sanity


@pytest.mark.parametrize("version", ["v2025-13-45", "v2025-02-30", "v2025-2-19", "vlatest"])
async def test_sanity_refuses_an_api_version_that_is_not_a_date(
    fresh: Sandbox, env: dict[str, str], http: httpx.AsyncClient, version: str
) -> None:
    url = f"{env['SANITY_API_HOST']}/{version}/data/query/{env['SANITY_DATASET']}"
    answer = await http.get(
        url,
        params={"query": "count(*)"},
        headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"},
    )
    assert answer.status_code == 400
    assert "Invalid API version" in answer.text
    good = url.replace(version, "v2024-02-29")  # a leap day is a date
    assert (await http.get(good, params={"query": "count(*)"},
                           headers={"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"})
            ).status_code == 200  # fmt: skip
