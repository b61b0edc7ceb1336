"""The sandbox as a whole: one world, four services, and the control routes at ``SANDBOX_URL``.

:func:`start_sandbox` starts, in the running event loop, one loopback HTTP server per service —
Stripe, Clerk and Slack in aiohttp here, Sanity in Node (``sandbox/sanity/server.mjs``) — and a
fifth for the control routes, each on a free port:

* ``GET /world`` — the current state as a world (world-format.md): everything loaded, documents as
  written since, ``slack.log``, remaining ``faults`` and ``requests``;
* ``POST /world`` — replace the state with the world in the body; counts start again at zero and
  the log is the new world's ``slack.log`` (its ``requests``, if any, are ignored);
* ``POST /slack/response/<id>`` — a ``response_url``: logged, answered ``{"ok": true}``;
* ``POST /slack/socket/envelope[?timeout=S]`` — push the JSON body as a Socket Mode envelope to
  the connected client and answer its acknowledgement (504 when none comes);
* ``POST /cms/webhook`` — the platform's Stripe webhook URL answering an unsigned POST as the
  world's ``cms.probe`` says (``PASSBOT_WEBHOOK_PROBE_URL``): no probe or ``{"status": 400}`` —
  400 "No signature header" (healthy); ``{"status": 500, "body": …}`` — 500 with that body;
  ``{"status": 307, "location": …}`` — that redirect (not to be followed); ``{"unreachable":
  true}`` — the connection closes without an answer;
* ``GET /_sandbox/settings`` — the settings of :meth:`Sandbox.settings`, as JSON;
* ``GET /_sandbox/requests`` — the ``requests`` counts alone (cheap whatever the world's size);
* ``GET /_sandbox/slack/log?after=N`` — ``slack.log`` from its N-th entry on (cheap polling);
* ``GET /_sandbox/sanity/queries`` — the GROQ queries Sanity received, oldest first, each as
  ``{"query", "params"}`` (the latest 10,000; a new world starts a new list);
* ``POST /_sandbox/purchase`` — a paid purchase now (sandbox/checkout.py), ``{"session": …}``;
* ``POST /_sandbox/stripe/webhook_delivery`` — ``{url, secret}``: where Stripe's events are
  delivered, signed (``{}`` stops it); ``GET /_sandbox/stripe/deliveries`` — each attempt.

``requests`` counts, besides the four services, ``cms`` (``POST /cms/webhook``) once it was probed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.checkout import Checkout, PurchaseError
from sandbox.clerk_api import ClerkService
from sandbox.sanity_node import SanityNode
from sandbox.slack_api import APP_TOKEN as SLACK_SANDBOX_APP_TOKEN
from sandbox.slack_api import SlackService, SlackState
from sandbox.slack_api import fault_body as slack_fault_body
from sandbox.stripe_api import StripeService
from sandbox.stripe_store import StripeStore
from sandbox.traffic import Traffic, drop_connection, traffic_middleware
from sandbox.world import SandboxError, WorldError, check_world, world_now

SLACK_BOT_TOKEN = "xoxb-0000000000-sandbox-bot-token"  # noqa: S105 - a fake, sandbox-only token
SLACK_APP_TOKEN = SLACK_SANDBOX_APP_TOKEN
SLACK_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105
SANITY_API_TOKEN = "sk-sandbox-sanity-token"  # noqa: S105
SANITY_API_VERSION = "v2025-02-19"
CLERK_SECRET_KEY = "sk_test_sandboxclerkkey"  # noqa: S105
STRIPE_KEY_SUFFIX = "passbotsandboxkey"
_PROBE_DEFAULT_BODY = "No signature header"


@dataclass
class Loaded:
    """One world, ready to serve: the world as given and the services' indexed state.

    The sandbox keeps the caller's objects (copying a large world would cost seconds) and never
    changes them: do not change a world after giving it to the sandbox.
    """

    world: dict[str, Any]
    now: datetime | None
    stripe: StripeStore
    clerk_users: list[dict[str, Any]]
    slack: SlackState
    traffic: Traffic

    @classmethod
    def build(cls, world: dict[str, Any], latency_ms: int) -> Loaded:
        check_world(world)
        world = {key: value for key, value in world.items() if key != "requests"}
        now = world_now(world)
        faults = [dict(fault) for fault in world.get("faults", [])]
        return cls(
            world=world,
            now=now,
            stripe=StripeStore(world["stripe"]),
            clerk_users=list(world.get("clerk", {}).get("users", [])),
            slack=SlackState(world.get("slack", {}), now),
            traffic=Traffic(faults, latency_ms),
        )

    def sanity_payload(self) -> dict[str, Any]:
        sanity = self.world["sanity"]
        return {
            "project_id": sanity["project_id"],
            "dataset": sanity["dataset"],
            "token": SANITY_API_TOKEN,
            "token_role": sanity.get("token_role", "editor"),
            "documents": sanity.get("documents", []),
            "faults": [
                {**fault, "index": n}
                for n, fault in enumerate(self.traffic.faults)
                if fault.get("service") == "sanity"
            ],
            "latency_ms": self.traffic.latency_ms,
            "now": self.now.isoformat() if self.now is not None else None,
        }


class Sandbox:
    """A running sandbox. Make one with :func:`start_sandbox`; end it with :meth:`close`."""

    url: str
    """``SANDBOX_URL``: the control routes' base, ``http://127.0.0.1:<port>``."""

    def __init__(self, latency_ms: int = 0) -> None:
        self.url = ""
        self.latency_ms = latency_ms
        self._loaded: Loaded | None = None
        self._checkout: Checkout | None = None
        self._node: SanityNode | None = None
        self._runners: list[web.AppRunner] = []
        self._bases: dict[str, str] = {}
        self._closed = False
        self._stripe = StripeService(lambda: self.loaded.stripe, self._traffic)
        self._clerk = ClerkService(lambda: self.loaded.clerk_users, self._traffic)
        self._slack = SlackService(lambda: self.loaded.slack, self._traffic)
        self._control = self._control_app()

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            raise SandboxError("the sandbox has no world loaded")
        return self._loaded

    def _traffic(self) -> Traffic:
        return self.loaded.traffic

    # ------------------------------------------------------------------ life cycle

    async def _start(self, world: dict[str, Any]) -> None:
        loaded = Loaded.build(world, self.latency_ms)
        self._node = await SanityNode.start()
        try:
            for name, app in (
                ("stripe", self._stripe.app),
                ("clerk", self._clerk.app),
                ("slack", self._slack.app),
                ("control", self._control),
            ):
                self._bases[name] = await self._serve(app)
            self._bases["sanity"] = self._node.url
            self._slack.base_url = self._bases["slack"]
            self.url = self._bases["control"]
            await self._node.load(loaded.sanity_payload())
        except BaseException:
            await self.close()
            raise
        self._loaded = loaded
        self._checkout = self._new_checkout(loaded)

    def _new_checkout(self, loaded: Loaded) -> Checkout:
        node = self._node
        assert node is not None

        def now() -> datetime:
            return loaded.now or datetime.now(tz=UTC)

        return Checkout(world=loaded.world, stripe=loaded.stripe, now=now, write=node.write)

    @property
    def checkout(self) -> Checkout:
        """The checkout simulator of the loaded world (sandbox/checkout.py)."""
        if self._checkout is None:
            raise SandboxError("the sandbox has no world loaded")
        return self._checkout

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop every server and the Node process. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._checkout is not None:
            await self._checkout.close()
        await self._slack.close_sockets()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._node is not None:
            await self._node.close()
            self._node = None

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ the Python API

    def settings(self) -> dict[str, str]:
        """The settings of cli-contract.md that point a bot at this sandbox, in order.

        ``PASSBOT_WEBHOOK_URL`` is left out when the world has no ``cms.webhook_url``, and
        ``PASSBOT_NOW`` when it has no ``now``. ``SANDBOX_URL`` comes last.
        """
        loaded = self.loaded
        sanity = loaded.world["sanity"]
        mode = "live" if loaded.stripe.livemode else "test"
        out = {
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
            "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": f"{self._bases['slack']}/api/",
            "STRIPE_API_KEY": f"rk_{mode}_{STRIPE_KEY_SUFFIX}",
            "STRIPE_API_BASE": self._bases["stripe"],
            "SANITY_PROJECT_ID": str(sanity["project_id"]),
            "SANITY_DATASET": str(sanity["dataset"]),
            "SANITY_API_TOKEN": SANITY_API_TOKEN,
            "SANITY_API_HOST": self._bases["sanity"],
            "SANITY_API_VERSION": SANITY_API_VERSION,
            "CLERK_SECRET_KEY": CLERK_SECRET_KEY,
            "CLERK_API_URL": f"{self._bases['clerk']}/v1",
        }
        webhook_url = (loaded.world.get("cms") or {}).get("webhook_url")
        if webhook_url:
            out["PASSBOT_WEBHOOK_URL"] = str(webhook_url)
        out["PASSBOT_WEBHOOK_PROBE_URL"] = f"{self.url}/cms/webhook"
        if loaded.now is not None:
            out["PASSBOT_NOW"] = str(loaded.world["now"])
        out["SANDBOX_URL"] = self.url
        return out

    async def dump_world(self) -> dict[str, Any]:
        """The current state as a world — what ``GET /world`` answers.

        The result shares the loaded world's objects with the sandbox (copying 100k sessions
        would take seconds): read it, serialise it, but copy before changing anything in it.
        """
        return await self._dump()

    async def replace_world(self, world: dict[str, Any]) -> None:
        """Replace the whole state with ``world``; counts and the log start again.

        Raises:
            WorldError: ``world`` does not follow world-format.md (the old state stays).
        """
        loaded = Loaded.build(world, self.latency_ms)
        if self._node is None:
            raise SandboxError("the sandbox is closed")
        await self._node.load(loaded.sanity_payload())
        if self._checkout is not None:
            await self._checkout.close()
        self._loaded = loaded
        self._checkout = self._new_checkout(loaded)

    async def push_socket_envelope(
        self,
        envelope: dict[str, Any],
        timeout: float = 5,  # noqa: ASYNC109 - the brief's signature; a deadline for two waits
    ) -> dict[str, Any]:
        """Send a Socket Mode envelope to the connected client; return its acknowledgement.

        Raises:
            TimeoutError: no client connected, or none acknowledged, within ``timeout`` seconds.
        """
        return await self._slack.push_envelope(envelope, timeout)

    # ------------------------------------------------------------------ dumping

    async def _dump(self) -> dict[str, Any]:
        if self._node is None:
            raise SandboxError("the sandbox is closed")
        node = await self._node.dump()
        loaded = self.loaded
        faults = [dict(fault) for fault in loaded.traffic.faults]
        for entry in node.get("faults", []):
            fault = faults[int(entry["index"])]
            if entry.get("count") is not None:
                fault["count"] = entry["count"]
        world: dict[str, Any] = {}
        for key, value in loaded.world.items():
            if key == "sanity":
                world[key] = {**value, "documents": node["documents"]}
            elif key == "slack":
                world[key] = {**value, "log": list(loaded.slack.log)}
                if loaded.slack.files:
                    world[key]["files"] = [dict(f) for f in loaded.slack.files.values()]
            elif key == "faults":
                world[key] = faults
            else:
                world[key] = value
        world.setdefault("slack", {"log": list(loaded.slack.log)})
        requests = {service: dict(counts) for service, counts in loaded.traffic.requests.items()}
        requests["sanity"] = dict(node.get("requests", {}))
        world["requests"] = requests
        return world

    # ------------------------------------------------------------------ control routes

    def _control_app(self) -> web.Application:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/world", self._get_world)
        app.router.add_post("/world", self._post_world)
        app.router.add_post("/slack/socket/envelope", self._post_envelope)
        app.router.add_get("/_sandbox/settings", self._get_settings)
        app.router.add_get("/_sandbox/requests", self._get_requests)
        app.router.add_get("/_sandbox/slack/log", self._get_slack_log)
        app.router.add_get("/_sandbox/sanity/queries", self._get_sanity_queries)
        app.router.add_post("/_sandbox/purchase", self._post_purchase)
        app.router.add_post("/_sandbox/stripe/webhook_delivery", self._post_delivery)
        app.router.add_get("/_sandbox/stripe/deliveries", self._get_deliveries)

        responses = web.Application(
            middlewares=[
                traffic_middleware(
                    self._traffic,
                    "slack",
                    slack_fault_body,
                    lambda _request: "/slack/response/{id}",
                )
            ]
        )
        responses.router.add_post("/{id}", self._post_response_url)
        app.add_subapp("/slack/response", responses)

        cms = web.Application(
            middlewares=[
                traffic_middleware(self._traffic, "cms", lambda _s: {}, lambda _r: "/cms/webhook")
            ]
        )
        cms.router.add_post("/webhook", self._post_cms_webhook)
        app.add_subapp("/cms", cms)
        return app

    async def _get_world(self, _request: web.Request) -> web.Response:
        text = json.dumps(await self._dump(), ensure_ascii=False)
        return web.Response(text=text, content_type="application/json")

    async def _post_world(self, request: web.Request) -> web.Response:
        try:
            world = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        try:
            await self.replace_world(world)
        except WorldError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})

    async def requests(self) -> dict[str, dict[str, int]]:
        """How many requests each service received, by method and path template — the
        `requests` of a dumped world, without dumping it (cheap for benchmarks)."""
        if self._node is None:
            raise SandboxError("the sandbox is closed")
        counts = {service: dict(c) for service, c in self.loaded.traffic.requests.items()}
        counts["sanity"] = await self._node.requests()
        return counts

    async def _get_requests(self, _request: web.Request) -> web.Response:
        return web.json_response(await self.requests())

    def slack_log(self, after: int = 0) -> list[dict[str, Any]]:
        """``slack.log`` from entry ``after`` on, without dumping the world (cheap polling)."""
        return list(self.loaded.slack.log[max(0, after) :])

    async def sanity_queries(self) -> list[dict[str, Any]]:
        """The GROQ queries the Sanity stand-in received since the world was loaded, oldest
        first, as ``{"query": text, "params": {…}}`` (the latest 10,000)."""
        if self._node is None:
            raise SandboxError("the sandbox is closed")
        return await self._node.queries()

    async def _get_slack_log(self, request: web.Request) -> web.Response:
        raw = request.query.get("after", "0")
        after = int(raw) if raw.isascii() and raw.isdigit() else 0
        return web.json_response(self.slack_log(after))

    async def _get_sanity_queries(self, _request: web.Request) -> web.Response:
        return web.json_response(await self.sanity_queries())

    async def _post_purchase(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            session = self.checkout.purchase(body)
        except (ValueError, PurchaseError) as error:
            message = str(error) if isinstance(error, PurchaseError) else "the body is not JSON"
            return web.json_response({"error": message}, status=400)
        return web.json_response({"session": session})

    async def _post_delivery(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
            self.checkout.configure_delivery(body)
        except (ValueError, PurchaseError) as error:
            message = str(error) if isinstance(error, PurchaseError) else "the body is not JSON"
            return web.json_response({"error": message}, status=400)
        return web.json_response({"ok": True})

    async def _get_deliveries(self, _request: web.Request) -> web.Response:
        return web.json_response(list(self.checkout.deliveries))

    async def _get_settings(self, _request: web.Request) -> web.Response:
        return web.json_response(self.settings())

    async def _post_response_url(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            try:
                body: Any = await request.json()
            except ValueError:
                body = await request.text()
        else:
            form = await request.post()
            payload = form.get("payload")
            try:
                body = json.loads(payload) if isinstance(payload, str) else dict(form)
            except ValueError:
                body = payload
        self._slack.record_response_url(request.match_info["id"], body)
        return web.json_response({"ok": True})

    async def _post_envelope(self, request: web.Request) -> web.Response:
        try:
            envelope = await request.json()
            timeout = float(request.query.get("timeout", "5"))
        except ValueError:
            return web.json_response({"error": "the body must be a JSON envelope"}, status=400)
        if not isinstance(envelope, dict):
            return web.json_response({"error": "the body must be a JSON envelope"}, status=400)
        try:
            ack = await self.push_socket_envelope(envelope, timeout)
        except TimeoutError:
            return web.json_response(
                {"error": "timeout", "message": "no Socket Mode client acknowledged the envelope"},
                status=504,
            )
        return web.json_response(ack)

    async def _post_cms_webhook(self, request: web.Request) -> web.StreamResponse:
        probe = (self.loaded.world.get("cms") or {}).get("probe") or {"status": 400}
        if probe.get("unreachable"):
            return drop_connection(request)
        status = int(probe.get("status", 400))
        headers = {}
        if probe.get("location"):
            headers["Location"] = str(probe["location"])
        body = probe.get("body")
        if body is None:
            body = _PROBE_DEFAULT_BODY if status == 400 else ""
        if isinstance(body, dict | list):
            return web.json_response(body, status=status, headers=headers)
        return web.Response(text=str(body), status=status, headers=headers)


async def start_sandbox(world: dict[str, Any], *, latency_ms: int = 0) -> Sandbox:
    """Start a sandbox serving ``world`` in the running event loop; returns once all listen.

    Raises:
        WorldError: ``world`` does not follow world-format.md.
        SandboxError: Node or ``sandbox/sanity/node_modules`` is missing, or a server failed.
    """
    sandbox = Sandbox(latency_ms=latency_ms)
    await sandbox._start(world)
    return sandbox
