"""Reading and checking a world (world-format.md): the JSON document that seeds the sandbox.

The sandbox keeps a world's objects exactly as given and answers from them; this module only checks
the shape it relies on, so that a broken world fails at load with one clear sentence instead of a
confusing answer later.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SERVICES = ("stripe", "sanity", "clerk", "slack")
"""The services a world describes and faults can target."""


LIVE = "live"
"""A world's ``now`` that reads the wall clock (the sandbox's and the bot's)."""


class SandboxError(RuntimeError):
    """The sandbox cannot run: Node or its modules are missing, or a server failed to start."""


class WorldError(ValueError):
    """A world does not follow world-format.md."""


def load_world_file(path: str | Path) -> dict[str, Any]:
    """Read and check a world file.

    Raises:
        WorldError: the file cannot be read, is not JSON, or is not a world.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror or exc}") from exc
    try:
        world = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(f"world file {path} is not JSON: {exc}") from exc
    check_world(world)
    return world  # type: ignore[no-any-return]


def world_now(world: dict[str, Any]) -> datetime | None:
    """The world's fixed clock; None when it reads the wall clock (no ``now``, or ``"live"``)."""
    now = world.get("now")
    if not now or now == LIVE:
        return None
    return parse_instant(str(now))


def parse_instant(value: str) -> datetime:
    """An ISO-8601 instant (``Z`` or an offset) as an aware datetime."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _object_list(section: dict[str, Any], where: str, key: str, *, need_id: bool = True) -> None:
    items = section.get(key, [])
    if not isinstance(items, list):
        raise WorldError(f"{where}.{key} must be a list")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise WorldError(f"{where}.{key}[{n}] must be an object")
        if need_id and not isinstance(item.get("id"), str):
            raise WorldError(f"{where}.{key}[{n}] has no string id")


def _check_stripe(stripe: Any) -> None:
    if not isinstance(stripe, dict):
        raise WorldError("stripe must be an object")
    for key in (
        "accounts",
        "checkout_sessions",
        "payment_intents",
        "charges",
        "events",
        "webhook_endpoints",
    ):
        _object_list(stripe, "stripe", key)
    for key in ("checkout_sessions", "events"):
        for n, item in enumerate(stripe.get(key, [])):
            created = item.get("created")
            if not isinstance(created, int) or isinstance(created, bool):
                raise WorldError(f"stripe.{key}[{n}] ({item['id']}) needs an integer created")
    platform = stripe.get("platform_account")
    if platform is not None and not isinstance(platform, str):
        raise WorldError("stripe.platform_account must be a string")


def _check_sanity(sanity: Any) -> None:
    if not isinstance(sanity, dict):
        raise WorldError("sanity must be an object")
    for key in ("project_id", "dataset"):
        if not isinstance(sanity.get(key), str) or not sanity[key]:
            raise WorldError(f"sanity.{key} must be a non-empty string")
    if not isinstance(sanity.get("documents", []), list):
        raise WorldError("sanity.documents must be a list")
    if sanity.get("token_role", "editor") not in ("editor", "viewer"):
        raise WorldError('sanity.token_role must be "editor" or "viewer"')


def _check_slack(slack: Any) -> None:
    if not isinstance(slack, dict):
        raise WorldError("slack must be an object")
    _object_list(slack, "slack", "users")
    _object_list(slack, "slack", "channels")
    _object_list(slack, "slack", "usergroups")
    if not isinstance(slack.get("log", []), list):
        raise WorldError("slack.log must be a list")


def _check_faults(faults: Any) -> None:
    if not isinstance(faults, list):
        raise WorldError("faults must be a list")
    for n, fault in enumerate(faults):
        where = f"faults[{n}]"
        if not isinstance(fault, dict):
            raise WorldError(f"{where} must be an object")
        if fault.get("service") not in SERVICES:
            raise WorldError(f"{where}.service must be one of {', '.join(SERVICES)}")
        for key in ("method", "path"):
            if fault.get(key) is not None and not isinstance(fault[key], str):
                raise WorldError(f"{where}.{key} must be a string")
        for key in ("status", "count", "delay_ms"):
            value = fault.get(key)
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool) or value < 0
            ):
                raise WorldError(f"{where}.{key} must be a number >= 0")
        retry_after = fault.get("retry_after")
        if retry_after is not None and not isinstance(retry_after, int | float | str):
            raise WorldError(f"{where}.retry_after must be a number or a string")


def check_world(world: Any) -> None:
    """Check that ``world`` has the shape world-format.md gives.

    Raises:
        WorldError: with one sentence naming the first problem found.
    """
    if not isinstance(world, dict):
        raise WorldError("a world must be a JSON object")
    for key in ("stripe", "sanity"):
        if key not in world:
            raise WorldError(f"a world needs a {key!r} section")
    now = world.get("now")
    if now is not None and now != LIVE:
        if not isinstance(now, str):
            raise WorldError('now must be an ISO-8601 string or "live"')
        try:
            parse_instant(now)
        except ValueError as exc:
            raise WorldError(f"now is not an ISO-8601 instant: {now!r}") from exc
    _check_stripe(world["stripe"])
    _check_sanity(world["sanity"])
    clerk = world.get("clerk", {})
    if not isinstance(clerk, dict):
        raise WorldError("clerk must be an object")
    _object_list(clerk, "clerk", "users")
    _check_slack(world.get("slack", {}))
    cms = world.get("cms", {})
    if not isinstance(cms, dict):
        raise WorldError("cms must be an object")
    if cms.get("probe") is not None and not isinstance(cms["probe"], dict):
        raise WorldError("cms.probe must be an object")
    _check_faults(world.get("faults", []))
    _check_delivery(world["stripe"].get("webhook_delivery"))


def _check_delivery(delivery: Any) -> None:
    if delivery is None:
        return
    if not isinstance(delivery, dict):
        raise WorldError("stripe.webhook_delivery must be an object")
    for key in ("url", "secret"):
        if not isinstance(delivery.get(key), str) or not delivery[key]:
            raise WorldError(f"stripe.webhook_delivery.{key} must be a non-empty string")
