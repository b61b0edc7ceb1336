"""The sandbox's Clerk: GET /v1/users with httpx, as passbot's Clerk adapter calls it."""

from __future__ import annotations

import httpx
import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import make_world

pytestmark = pytest.mark.asyncio(loop_scope="session")


def user(n: int, *emails: str) -> dict[str, object]:
    addresses = [
        {"id": f"idn_{n}_{i}", "object": "email_address", "email_address": e}
        for i, e in enumerate(emails)
    ]
    return {
        "id": f"user_{n}",
        "object": "user",
        "first_name": f"F{n}",
        "last_name": "L",
        "primary_email_address_id": addresses[0]["id"] if addresses else None,
        "email_addresses": addresses,
        "created_at": 1_700_000_000_000 + n,
    }


async def test_users_by_email_and_id(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    users = [
        user(1, "a@example.com"),
        user(2, "B@Example.com", "b2@example.com"),
        user(3, "c@example.com"),
        user(4),
    ]
    await sandbox.replace_world(make_world(clerk={"users": users}))
    env = sandbox.settings()
    headers = {"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"}
    url = f"{env['CLERK_API_URL']}/users"

    async def ids(params: list[tuple[str, str]]) -> list[str]:
        answer = await http.get(url, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert isinstance(body, list)
        return [u["id"] for u in body]

    assert await ids([("email_address", "b@example.COM")]) == ["user_2"]
    assert await ids([("email_address", "b2@example.com")]) == ["user_2"]
    assert await ids([("email_address", "a@example.com"), ("email_address", "c@example.com")]) == [
        "user_3",
        "user_1",
    ]
    assert await ids([("email_address", "nobody@example.com")]) == []
    assert await ids([("user_id", "user_1"), ("user_id", "user_4")]) == ["user_4", "user_1"]
    assert await ids([]) == ["user_4", "user_3", "user_2", "user_1"]
    assert await ids([("order_by", "created_at"), ("limit", "2"), ("offset", "1")]) == [
        "user_2",
        "user_3",
    ]
    one = await http.get(f"{url}/user_3", headers=headers)
    assert one.json()["first_name"] == "F3"
    assert (await http.get(f"{url}/user_9", headers=headers)).status_code == 404


async def test_errors(fresh: Sandbox, http: httpx.AsyncClient, env: dict[str, str]) -> None:
    url = f"{env['CLERK_API_URL']}/users"
    no_auth = await http.get(url)
    assert no_auth.status_code == 401
    error = no_auth.json()["errors"][0]
    assert error["code"] == "authentication_invalid"
    assert {"message", "long_message", "code"} <= set(error)
    headers = {"Authorization": f"Bearer {env['CLERK_SECRET_KEY']}"}
    unknown = await http.get(url, params={"email": "x"}, headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "form_param_unknown"
    too_many = await http.get(url, params={"limit": "501"}, headers=headers)
    assert too_many.status_code == 422
