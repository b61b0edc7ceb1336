"""Operations figures: start-up time, idle memory of `serve`, and log lines per `/fixpass`.

Everything runs as an operator runs it: `passbot` in child processes, against a sandbox in its
own process (`python -m sandbox`), `serve --http` on loopback, Slack's requests signed.

    .venv/bin/python -m bench.ops --runs 5
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

REPO = Path(__file__).resolve().parent.parent
WORLD = REPO / "examples" / "demo-world.json"
EMAIL = "kari.nordmann@example.com"


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sandbox() -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sandbox", "--world", str(WORLD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("SANDBOX_URL="):
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        lines.append(line.rstrip("\n"))
    return process, dict(line.split("=", 1) for line in lines)


def version_seconds(runs: int) -> list[float]:
    """Wall seconds of `passbot --version`, each a fresh process."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "--version"],
            env=_env({}),
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - started)
    return times


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _post(url: str, secret: str, body: str) -> None:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": str(signature),
    }
    httpx.post(url, content=body, headers=headers, timeout=60).raise_for_status()


def serve_run(settings: dict[str, str], sandbox_url: str, folder: Path) -> dict[str, Any]:
    """One `serve --http`: seconds to ready, idle RSS, and log lines of one /fixpass."""
    port = _free_port()
    log = folder / f"serve-{port}.log"
    env = _env(
        {
            **settings,
            "PASSBOT_DB": str(folder / f"{port}.db"),
            "PASSBOT_CHANNEL": "C0PASSES",
            "PASSBOT_APPROVERS": "U0APPROVER",
            "PASSBOT_LOG_LEVEL": "INFO",
        }
    )
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log.open("wb") as sink:
        serve = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bot", "serve", "--http", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if serve.poll() is not None:
                raise SystemExit(f"serve exited: {log.read_text()}")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        time.sleep(10)  # the start-up catch-up (summary, sweep, health) done: idle
        rss = _rss_kib(serve.pid)
        before = len(log.read_text().splitlines())
        slack_log = f"{sandbox_url}/_sandbox/slack/log"
        seen = len(httpx.get(slack_log, timeout=30).json())
        body = urlencode({
            "team_id": "T0SANDBOX", "channel_id": "C0PASSES", "user_id": "U0SUPPORT",
            "command": "/fixpass", "text": EMAIL, "api_app_id": "A0PASSBOT",
            "response_url": f"{sandbox_url}/slack/response/{uuid.uuid4().hex[:12]}",
            "trigger_id": uuid.uuid4().hex,
        })  # fmt: skip
        _post(base + "/slack/events", settings["SLACK_SIGNING_SECRET"], body)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the card: "looking…" replaced (chat.update)
            entries = httpx.get(slack_log, params={"after": seen}, timeout=30).json()
            if any(e.get("method") == "chat.update" for e in entries):
                break
            time.sleep(0.1)
        time.sleep(1)
        lines = log.read_text().splitlines()[before:]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=15)
    return {"ready": ready, "rss_mib": rss / 1024, "fixpass_lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    versions = version_seconds(args.runs)
    box, settings = _sandbox()
    sandbox_url = settings.pop("SANDBOX_URL")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            serves = [serve_run(settings, sandbox_url, Path(tmp)) for _ in range(args.runs)]
    finally:
        box.send_signal(signal.SIGTERM)
        box.communicate(timeout=30)
    med = statistics.median
    print(f"{'':34} {'median':>8} {'min':>8} {'max':>8}")
    print(f"{'passbot --version (s)':34} {med(versions):8.2f} {min(versions):8.2f} "
          f"{max(versions):8.2f}")  # fmt: skip
    ready = [s["ready"] for s in serves]
    print(f"{'serve --http to /readyz 200 (s)':34} {med(ready):8.2f} {min(ready):8.2f} "
          f"{max(ready):8.2f}")  # fmt: skip
    rss = [s["rss_mib"] for s in serves]
    print(f"{'serve idle RSS (MiB)':34} {med(rss):8.1f} {min(rss):8.1f} {max(rss):8.1f}")
    counts = [len(s["fixpass_lines"]) for s in serves]
    print(f"{'log lines per /fixpass at INFO':34} {med(counts):8.0f} {min(counts):8.0f} "
          f"{max(counts):8.0f}")  # fmt: skip
    print("\none /fixpass logged:")
    for line in serves[-1]["fixpass_lines"]:
        print("  " + line[:160])
    print(f"\nreproduce: .venv/bin/python -m bench.ops --runs {args.runs}")


if __name__ == "__main__":
    main()
