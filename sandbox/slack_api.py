"""The sandbox's Slack: the Web API the bot calls, ``response_url``s, and Socket Mode.

Web API: ``POST`` (or ``GET``) ``/api/<method>`` with a form or JSON body and
``Authorization: Bearer xoxb-…`` (or a ``token`` argument), answered in Slack's shape
``{"ok": true, …}`` / ``{"ok": false, "error": …}`` for ``auth.test``, ``chat.postMessage``,
``chat.update``, ``chat.postEphemeral``, ``chat.getPermalink``, ``users.info``,
``users.lookupByEmail``, ``usergroups.users.list``, ``conversations.info``, ``conversations.open``,
``views.open``/``views.update``/``views.push`` and ``apps.connections.open`` (which needs the
sandbox's ``xapp-`` token); any other method answers ``unknown_method``. Users, channels and user
groups come from the world's ``slack`` section; a channel may be named by id, by name (with or
without ``#``), or by a user id (a DM).

Every Web API call and every ``response_url`` post is appended to the log (``slack.log`` in a dumped
world) as ``{"method", "args", "ts"}`` (``response_url`` posts: ``{"method": "response_url", "id",
"args", "ts"}``), in order. ``args`` are the call's arguments without the token; ``blocks``,
``attachments``, ``view`` and ``metadata`` sent as JSON strings (form bodies) are decoded, so a log
reads the same whichever encoding the client used. ``ts`` is Slack's timestamp of the call: the
world's ``now`` (or the real clock) plus one microsecond per call, so that it is unique and ordered;
a posted message gets that same ``ts``. Requests answered by an injected fault are counted but not
logged: they never reached Slack.

Socket Mode: ``apps.connections.open`` returns ``ws://127.0.0.1:<port>/link/?ticket=…``; a client
connecting there gets Slack's ``hello``, and :meth:`SlackService.push_envelope` sends it an envelope
and waits for the client's acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.slack_files import SlackFiles
from sandbox.slack_state import SlackApiError, SlackClock, SlackState, required
from sandbox.traffic import Traffic, traffic_middleware

__all__ = ["SlackApiError", "SlackClock", "SlackService", "SlackState", "fault_body"]

TEAM_ID = "T0SANDBOX"
TEAM_NAME = "passbot sandbox"
BOT_USER_ID = "U0PASSBOT"
BOT_ID = "B0PASSBOT"
APP_ID = "A0PASSBOT"
#: The one app-level token this Slack knows: `apps.connections.open` refuses any other
#: (`invalid_auth`), as Slack refuses a revoked or mistyped one.
APP_TOKEN = "xapp-1-A0PASSBOT-sandbox-app-token"  # noqa: S105 - a fake, sandbox-only token
WORKSPACE_URL = "https://passbot-sandbox.slack.com/"
_JSON_ARGS = ("blocks", "attachments", "view", "metadata", "files")


def fault_body(status: int) -> dict[str, Any]:
    """The error body of an injected fault with HTTP ``status``."""
    if status == 429:
        return {"ok": False, "error": "ratelimited"}
    if status == 503:
        return {"ok": False, "error": "service_unavailable"}
    if status >= 500:
        return {"ok": False, "error": "internal_error"}
    return {"ok": False, "error": "fatal_error"}


def _decoded(args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    for key in _JSON_ARGS:
        value = out.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


class SlackService(SlackFiles):
    """The aiohttp application of the sandbox's Slack Web API and Socket Mode endpoint."""

    def __init__(
        self, get_state: Callable[[], SlackState], get_traffic: Callable[[], Traffic]
    ) -> None:
        self._get_state = get_state
        self.base_url = ""  # set once the server listens
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.app = web.Application(
            middlewares=[traffic_middleware(get_traffic, "slack", fault_body, _slack_template)]
        )
        self.app.router.add_route("*", "/api/{method}", self.web_api)
        self.app.router.add_post("/upload/v1/{file_id}", self.upload)
        self.app.router.add_get("/files/{file_id}", self.download)
        self.app.router.add_get("/link/", self.socket)
        self.app.router.add_route("*", "/{tail:.*}", self.not_found)
        self._methods: dict[str, Callable[[SlackState, dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "users.info": self._users_info,
            "users.lookupByEmail": self._lookup_by_email,
            "usergroups.users.list": self._usergroup_users,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "views.open": self._view,
            "views.update": self._view,
            "views.push": self._view,
            "views.publish": self._publish,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # ------------------------------------------------------------------ Web API

    async def not_found(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    async def web_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    return web.json_response({"ok": False, "error": "invalid_json"})
                if isinstance(body, dict):
                    args.update(body)
            else:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        token = args.pop("token", None)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        state = self._get_state()
        args = _decoded(args)
        ts = state.record(method, args)
        try:
            answer = self._answer(state, method, str(token or ""), args, ts)
        except SlackApiError as error:
            return web.json_response({"ok": False, "error": error.code})
        return web.json_response({"ok": True, **answer})

    def _answer(
        self, state: SlackState, method: str, token: str, args: dict[str, Any], ts: str
    ) -> dict[str, Any]:
        if not token:
            raise SlackApiError("not_authed")
        if not token.startswith(("xoxb-", "xoxp-", "xapp-")):
            raise SlackApiError("invalid_auth")
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                raise SlackApiError("not_allowed_token_type")
            if token != APP_TOKEN:
                raise SlackApiError("invalid_auth")
            ticket = uuid.uuid4()
            return {"url": f"{self.ws_base()}/link/?ticket={ticket}&app_id={APP_ID}"}
        handler = self._methods.get(method)
        if handler is None:
            raise SlackApiError("unknown_method")
        if token.startswith("xapp-"):
            raise SlackApiError("not_allowed_token_type")
        args = {**args, "_ts": ts}
        return handler(state, args)

    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    @staticmethod
    def _auth_test(_state: SlackState, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": "passbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    @staticmethod
    def _message(args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": args.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if key in args:
                message[key] = args[key]
        return message

    def _post_message(self, state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        channel = state.channel_id(required(args, "channel"))
        if channel is None:
            raise SlackApiError("channel_not_found")
        state.require_member(channel)
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackApiError("no_text")
        ts = str(args["_ts"])
        message = self._message(args, ts)
        state.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _update(self, state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        channel = state.channel_id(required(args, "channel"))
        if channel is None:
            raise SlackApiError("channel_not_found")
        state.require_member(channel)
        ts = required(args, "ts")
        if (channel, ts) not in state.messages:
            raise SlackApiError("message_not_found")
        message = self._message(args, ts)
        state.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    @staticmethod
    def _post_ephemeral(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        if state.channel_id(required(args, "channel")) is None:
            raise SlackApiError("channel_not_found")
        if state.user(required(args, "user")) is None:
            raise SlackApiError("user_not_in_channel")
        return {"message_ts": str(args["_ts"])}

    @staticmethod
    def _permalink(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        channel = state.channel_id(required(args, "channel"))
        if channel is None:
            raise SlackApiError("channel_not_found")
        message_ts = required(args, "message_ts")
        return {
            "channel": channel,
            "permalink": f"{WORKSPACE_URL}archives/{channel}/p{message_ts.replace('.', '')}",
        }

    @staticmethod
    def _user_object(user: dict[str, Any]) -> dict[str, Any]:
        return {"team_id": TEAM_ID, "deleted": False, "is_bot": False, **user}

    def _users_info(self, state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        user = state.user(required(args, "user"))
        if user is None:
            raise SlackApiError("user_not_found")
        return {"user": self._user_object(user)}

    def _lookup_by_email(self, state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        email = required(args, "email").strip().lower()
        for user in state.users:
            profile = user.get("profile") or {}
            if str(profile.get("email", "")).lower() == email:
                return {"user": self._user_object(user)}
        raise SlackApiError("users_not_found")

    @staticmethod
    def _usergroup_users(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        group_id = required(args, "usergroup")
        for group in state.usergroups:
            if group.get("id") == group_id:
                return {"users": list(group.get("users", []))}
        raise SlackApiError("no_such_subteam")

    @staticmethod
    def _conversations_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        ref = required(args, "channel")
        channel = state.channel(ref)
        if channel is not None:
            info = {
                "is_channel": True,
                "is_private": False,
                "is_im": False,
                "is_archived": False,
                "is_member": True,
                **channel,
            }
            return {"channel": info}
        channel_id = state.channel_id(ref)
        if channel_id is None:
            raise SlackApiError("channel_not_found")
        user = "U" + channel_id[1:]
        return {"channel": {"id": channel_id, "is_im": True, "is_channel": False, "user": user}}

    @staticmethod
    def _conversations_open(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if len(users) != 1:
            raise SlackApiError("invalid_arguments")
        channel_id = state.channel_id(users[0])
        if channel_id is None:
            raise SlackApiError("user_not_found")
        return {"channel": {"id": channel_id}}

    @staticmethod
    def _view(_state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise SlackApiError("invalid_arguments")
        view_id = str(args.get("view_id") or "V" + uuid.uuid4().hex[:10].upper())
        return {
            "view": {
                "id": view_id,
                "team_id": TEAM_ID,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "hash": uuid.uuid4().hex[:16],
                "state": {"values": {}},
                **view,
            }
        }

    @staticmethod
    def _publish(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        """``views.publish``: a user's App Home; the view must be of type ``home``."""
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackApiError("invalid_arguments")
        if state.user(required(args, "user_id")) is None:
            raise SlackApiError("user_not_found")
        return SlackService._view(state, args)

    # ------------------------------------------------------------------ response_url

    def record_response_url(self, response_id: str, body: Any) -> None:
        """Log a post to a ``response_url`` (served on the control port)."""
        args = body if isinstance(body, dict) else {"body": body}
        self._get_state().record("response_url", _decoded(args), id=response_id)

    # ------------------------------------------------------------------ Socket Mode

    async def socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self._socket_ready.set()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "passbot-sandbox", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": APP_ID},
                }
            )
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    ack = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(ack, dict):
                    waiter = self._acks.pop(str(ack.get("envelope_id")), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(ack)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_ready.clear()
        return ws

    async def push_envelope(
        self,
        envelope: dict[str, Any],
        timeout: float = 5,  # noqa: ASYNC109 - one deadline for two waits
    ) -> dict[str, Any]:
        """Send ``envelope`` to the connected Socket Mode client and return its acknowledgement.

        Missing fields are filled in as Slack sends them: a fresh ``envelope_id``,
        ``accepts_response_payload`` (true for ``slash_commands`` and ``interactive``),
        ``retry_attempt`` 0 and ``retry_reason`` "". Waits for a client to connect if none is.

        Raises:
            TimeoutError: no client connected, or it did not acknowledge, within ``timeout``.
        """
        kind = envelope.get("type", "events_api")
        full = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "accepts_response_payload": kind in ("slash_commands", "interactive"),
            "retry_attempt": 0,
            "retry_reason": "",
            **envelope,
        }
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with asyncio.timeout_at(deadline):
            await self._socket_ready.wait()
        waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._acks[str(full["envelope_id"])] = waiter
        try:
            await self._sockets[-1].send_json(full)
            async with asyncio.timeout_at(deadline):
                return await waiter
        finally:
            self._acks.pop(str(full["envelope_id"]), None)

    async def close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()


def _slack_template(request: web.Request) -> str:
    return request.path
