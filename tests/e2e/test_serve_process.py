"""`passbot serve` as an operator runs it: a child process of the real command line against a
sandbox in another process. Over HTTP: /healthz, /readyz and /metrics answer, a `/fixpass`, an
approval and a `/passcheck` are each one log line with a request id, and no customer email or
name is in anything logged. Stopping: SIGTERM and SIGINT end it within 10 seconds while it
reconnects to a Slack that went away, and while it waits on a Slack that does not answer."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.e2e.process import REPO, environment, start, wait_until_ready
from tests.e2e.slackbot import APPROVERS, OLA, latest_card, slack_world, updates

NAME_KEYS = ("name", "first_name", "last_name", "firstName", "lastName")
#: How long a stop may take (the issue's bound).
STOP_BOUND = 10.0


class SandboxProcess:
    """`python -m sandbox` in its own process, its settings, and its state over HTTP."""

    def __init__(self, world: Path) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "sandbox", "--world", str(world)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            text=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("SANDBOX_URL="):
            line = self.process.stdout.readline()
            assert line, "the sandbox did not start"
            lines.append(line.rstrip("\n"))
        self.settings = dict(line.split("=", 1) for line in lines)
        self.url = self.settings.pop("SANDBOX_URL")

    def world(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/world", timeout=30).json())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.communicate(timeout=30)


@pytest.fixture
def world_file(tmp_path: Path) -> Path:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(slack_world()), encoding="utf-8")
    return path


@pytest.fixture
def sandbox(world_file: Path) -> Iterator[SandboxProcess]:
    box = SandboxProcess(world_file)
    try:
        yield box
    finally:
        box.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_within_bound(process: subprocess.Popen[bytes], sig: int) -> float:
    """Send `sig`; the seconds it took the process to end (fails past the bound)."""
    started = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"still running {STOP_BOUND} s after {sig!r}") from None
    return time.monotonic() - started


# ------------------------------------------------------------------------------ Slack's part


class Slack:
    """Signed requests as Slack sends them, to a bot served at `url`."""

    def __init__(self, url: str, sandbox: SandboxProcess) -> None:
        self.url = url
        self.sandbox = sandbox
        self.signer = SignatureVerifier(sandbox.settings["SLACK_SIGNING_SECRET"])

    def post(self, body: str) -> httpx.Response:
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": self.signer.generate_signature(timestamp=stamp, body=body),
        }
        return httpx.post(self.url + "/slack/events", content=body, headers=headers, timeout=30)

    def command(self, command: str, text: str) -> httpx.Response:
        return self.post(
            urlencode({
                "team_id": "T0SANDBOX", "channel_id": "C0PASSES", "user_id": "U0SUPPORT",
                "user_name": "support", "command": command, "text": text,
                "api_app_id": "A0PASSBOT",
                "response_url": f"{self.sandbox.url}/slack/response/{uuid.uuid4().hex[:12]}",
                "trigger_id": uuid.uuid4().hex,
            })
        )  # fmt: skip

    def approve(self, card: Any) -> httpx.Response:
        block_id, element = card.buttons()[0]
        payload = {
            "type": "block_actions",
            "user": {"id": "U0APPROVER", "username": "ada", "team_id": "T0SANDBOX"},
            "api_app_id": "A0PASSBOT",
            "container": {"type": "message", "message_ts": card.ts, "channel_id": card.channel},
            "trigger_id": uuid.uuid4().hex,
            "team": {"id": "T0SANDBOX"},
            "channel": {"id": card.channel},
            "message": {"type": "message", "ts": card.ts, "text": card.text,
                        "blocks": card.blocks},
            "response_url": f"{self.sandbox.url}/slack/response/{uuid.uuid4().hex[:12]}",
            "actions": [{"type": "button", "action_id": element["action_id"],
                         "block_id": block_id, "value": element["value"],
                         "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def wait_for(self, check: Any, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check(self.sandbox.world()["slack"]["log"])
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError("Slack never saw it")


# ------------------------------------------------------------------------------ the customers


def customer_data(world: dict[str, Any]) -> set[str]:
    """Every email address and person's name in the world's Stripe, Sanity and Clerk data."""
    found: set[str] = set()
    text = json.dumps({k: world[k] for k in ("stripe", "sanity", "clerk") if k in world})
    found |= {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in NAME_KEYS and isinstance(value, str) and len(value.strip()) > 2:
                    found.add(value.strip().lower())
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(world.get("clerk"))
    walk(world.get("stripe", {}).get("checkout_sessions"))
    walk([d for d in world["sanity"]["documents"] if d.get("_type") == "user"])
    return found


def test_serve_over_http_logs_one_line_per_request_and_serves_health_and_metrics(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    port = free_port()
    log_file = tmp_path / "serve.log"
    env = environment(
        sandbox.settings,
        PASSBOT_DB=str(tmp_path / "passbot.db"),
        PASSBOT_APPROVERS=APPROVERS,
        PASSBOT_CHANNEL="C0PASSES",
        PASSBOT_LOG_FORMAT="json",
        PORT=str(port),  # HTTP mode's port, without --port
    )
    serve = start("serve", "--http", env=env, cwd=tmp_path, log=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + "/readyz", serve)
        ready = httpx.get(base + "/readyz").json()
        assert ready == {"ok": True, "slack": True, "database": True, "scheduler": True}
        assert httpx.get(base + "/healthz").json() == {"ok": True}

        slack = Slack(base, sandbox)
        assert slack.command("/fixpass", OLA).status_code == 200
        card = slack.wait_for(lambda log: latest_card(log, with_buttons=True))
        assert slack.approve(card).status_code == 200
        slack.wait_for(lambda log: updates(log, "✅"))
        assert slack.command("/passcheck", "").status_code == 200
        slack.wait_for(lambda log: any("reconcil" in json.dumps(e).lower() for e in log[-3:]))

        metrics = httpx.get(base + "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        samples = parse_metrics(metrics.text)
    finally:
        stop_within_bound(serve, signal.SIGTERM)

    assert samples["passbot_fixes_applied_total"] == 1
    assert samples['passbot_slack_ack_seconds_count{kind="command"}'] == 2
    assert samples['passbot_slack_ack_seconds_count{kind="block_actions"}'] == 1
    for service in ("stripe", "sanity", "clerk", "slack"):
        assert samples[f'passbot_service_requests_total{{service="{service}"}}'] > 0
    assert samples['passbot_job_runs_total{job="summary",status="posted"}'] == 1
    assert 0 < samples['passbot_webhook_fulfilment_rate{school="all"}'] <= 1
    # The gauge is exported; Ola's finding, fixed by the approval, is no longer open in it (an
    # approval resolves its findings in the history at once, as an automatic fix does).
    assert "# TYPE passbot_open_findings gauge" in metrics.text
    assert not [k for k, v in samples.items()
                if k.startswith('passbot_open_findings{kind="missing_pass"') and v]  # fmt: skip

    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["msg"] == "slack request"]
    assert [(r["kind"], r["action"]) for r in requests] == [
        ("command", "/fixpass"), ("block_actions", "fix.apply"), ("command", "/passcheck")
    ]  # fmt: skip
    fixpass, press = requests[0], requests[1]
    assert fixpass["customer"].startswith("c-")
    fixes = [line for line in lines if line["msg"] == "fix applied"]
    assert len(fixes) == 1
    assert fixes[0]["request_id"] == press["request_id"]  # the fix shares the press's id
    assert fixes[0]["actor"] == "U0APPROVER"
    runs = [line for line in lines if line["msg"] == "job run"]
    assert {r["job"] for r in runs} >= {"summary", "sweep", "health", "early_warning"}
    assert len({r["request_id"] for r in runs}) == len(runs)

    assert leaks(log_file.read_text().lower(), tmp_path) == []


def leaks(logged: str, tmp_path: Path) -> list[str]:
    """The customers' emails and names (whole words) found in `logged`."""
    world = json.loads((tmp_path / "world.json").read_text(encoding="utf-8"))
    found = customer_data(world)
    assert len(found) >= 4  # the world has customers to look for
    return sorted(item for item in found if re.search(rf"\b{re.escape(item)}\b", logged))


def test_check_logs_no_customer_data_at_debug(
    sandbox: SandboxProcess, tmp_path: Path, world_file: Path
) -> None:
    env = environment(PASSBOT_DB=str(tmp_path / "db"), PASSBOT_LOG_LEVEL="DEBUG")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "check", "--sandbox", str(world_file)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the world's missing pass
    logged = done.stderr.lower()
    assert "http request: get" in logged  # DEBUG: the libraries' request lines too
    assert leaks(logged, tmp_path) == []


def parse_metrics(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_within_ten_seconds_while_reconnecting(
    sandbox: SandboxProcess, tmp_path: Path, sig: int
) -> None:
    port = free_port()
    log_file = tmp_path / "serve.log"
    env = environment(
        sandbox.settings, PASSBOT_DB=str(tmp_path / "db"), PASSBOT_HEALTH_PORT=str(port)
    )
    serve = start("serve", env=env, cwd=tmp_path, log=log_file)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", serve)
        sandbox.stop(signal.SIGKILL)  # Slack goes away: the Socket Mode client reconnects
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
            assert time.monotonic() < deadline, "never noticed that Slack went away"
            time.sleep(0.2)
        time.sleep(1)
    finally:
        stop_within_bound(serve, sig)
    assert serve.returncode == 0
    assert "Traceback" not in log_file.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_within_ten_seconds_while_slack_does_not_answer(
    sandbox: SandboxProcess, tmp_path: Path, sig: int
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = environment(
            sandbox.settings,
            PASSBOT_DB=str(tmp_path / "db"),
            SLACK_API_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/api/",
        )
        serve = start("serve", env=env, cwd=tmp_path, log=tmp_path / "serve.log")
        time.sleep(4)  # started, and waiting for auth.test's answer
        assert serve.poll() is None
        stop_within_bound(serve, sig)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
