"""Benchmark: the watch (issue 13) — 100 purchases over 10 minutes at 20 schools, the platform's
webhook failing for 30 % of them, passbot's own Stripe webhook losing 30 % of its deliveries.

    .venv/bin/python -m bench.watch

The sandbox (live clock) and `passbot serve --http` (the real CLI, PASSBOT_AUTOFIX on, the
issue's defaults: PASSBOT_WATCH_INTERVAL 60 s, PASSBOT_WATCH_GRACE 180 s) run as child processes,
the sandbox adding `--latency-ms` to every request and delivering Stripe's events, signed, to
passbot's `/stripe/webhook`. First one interval with nothing happening (Stripe requests counted),
then the purchases, made with the sandbox's checkout simulator at random instants (seeded), each
at a random school; a failing one gets no pass from the platform. This process watches the Slack
log and Sanity and reports, for the purchases without a pass: payment → Slack post (p50, p99)
and payment → pass (autofix), beside the targets; and Stripe requests per minute.

`--speed K` divides every duration (window, interval, grace, idle) by K for a quick look; the
figures of record are those of the default run (about 15 minutes: 10 of purchases, then the
last one's grace period). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.reconcile import ROOT, _start_sandbox
from bench.slackapp import percentile
from sandbox.worlds import generate_world

SECRET = "whsec_bench_watch"  # noqa: S105 - the sandbox's own webhook secret
CHANNEL = "C0PASSES"
PASSES_QUERY = '*[_type == "subscription" && stripeSessionId in $ids].stripeSessionId'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_bot(port: int, env: dict[str, str], err: Path) -> subprocess.Popen[bytes]:
    """`passbot serve --http --port PORT`, the real CLI in a child process (stderr to `err`)."""
    with err.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot", "serve", "--http", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            cwd=ROOT,
        )


def _customers(world: dict[str, Any]) -> list[dict[str, str]]:
    """One purchase body per (school, customer, pass) choice."""
    docs = world["sanity"]["documents"]
    accounts = {d["_id"]: d["stripeConnect"]["accountId"] for d in docs if d["_type"] == "tenant"}
    passes: dict[str, list[str]] = {}
    for d in docs:
        if d["_type"] == "pass":
            passes.setdefault(d["tenant"]["_ref"], []).append(d["_id"])
    out = []
    for d in docs:
        if d["_type"] == "user" and d["tenant"]["_ref"] in accounts:
            tenant = d["tenant"]["_ref"]
            out.append({"account": accounts[tenant], "email": d["email"], "tenant": tenant})
    for c in out:
        c["passes"] = ",".join(passes[c["tenant"]])
    return out


async def _stripe_total(http: httpx.AsyncClient, url: str) -> tuple[int, int]:
    counts = (await http.get(f"{url}/_sandbox/requests")).json()["stripe"]
    return sum(counts.values()), int(counts.get("GET /v1/events", 0))


def _mentions(entry: dict[str, Any], sessions: set[str]) -> set[str]:
    text = json.dumps(entry.get("args") or {})
    return {s for s in sessions if s in text}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    speed = args.speed
    window, interval, grace = args.window_s / speed, args.interval_s / speed, args.grace_s / speed
    idle = args.idle_s / speed
    rng = random.Random(args.seed)
    world = generate_world(
        seed=args.seed, schools=args.schools, purchases=args.history, broken=False
    )
    world["now"] = "live"
    customers = _customers(world)
    with tempfile.TemporaryDirectory(prefix="passbot-bench-watch-") as tmp:
        tmp_path = Path(tmp)
        world_path = tmp_path / "world.json"
        world_path.write_text(json.dumps(world))
        sandbox, env = _start_sandbox(world_path, args.latency_ms)
        port = _free_port()
        bot_env = {
            **os.environ,
            **{k: v for k, v in env.items() if k != "SANDBOX_URL"},
            "PASSBOT_CHANNEL": CHANNEL,
            "PASSBOT_AUTOFIX": "true",
            "PASSBOT_DB": str(tmp_path / "passbot.db"),
            "PASSBOT_STRIPE_WEBHOOK_SECRET": SECRET,
            "PASSBOT_WATCH_INTERVAL": f"{interval:g}",
            "PASSBOT_WATCH_GRACE": f"{grace:g}",
            "PASSBOT_CONCURRENCY": "8",
            "PYTHONUNBUFFERED": "1",
        }
        bot = _start_bot(port, bot_env, tmp_path / "bot.err")
        url = env["SANDBOX_URL"]
        try:
            async with httpx.AsyncClient(timeout=60) as http:
                said = tmp_path / "bot.err"  # passbot serve announces on stderr
                while "scheduler caught up" not in said.read_text():
                    if bot.poll() is not None:
                        raise SystemExit(f"passbot serve ended: {said.read_text()[-2000:]}")
                    await asyncio.sleep(0.2)
                await http.post(
                    f"{url}/_sandbox/stripe/webhook_delivery",
                    json={"url": f"http://127.0.0.1:{port}/stripe/webhook", "secret": SECRET},
                )
                await asyncio.sleep(min(5.0, interval))
                # ------------------------------------------------------------ idle
                idle_before = await _stripe_total(http, url)
                await asyncio.sleep(idle)
                idle_after = await _stripe_total(http, url)
                # ------------------------------------------------------------ purchases
                offsets = sorted(rng.uniform(0, window) for _ in range(args.purchases))
                plan: list[dict[str, Any]] = []
                for offset in offsets:
                    c = rng.choice(customers)
                    plan.append(
                        {
                            "offset": offset,
                            "body": {
                                "account": c["account"],
                                "email": c["email"],
                                "pass": rng.choice(c["passes"].split(",")),
                                "fulfil": rng.random() >= args.fail,
                                "deliver": rng.random() >= args.webhook_loss,
                                "delay_s": 2,
                            },
                        }
                    )
                paid: dict[str, float] = {}
                failing: set[str] = set()
                posted: dict[str, float] = {}
                passed: dict[str, float] = {}
                per_minute: list[int] = []
                log_at = len((await http.get(f"{url}/_sandbox/slack/log")).json())
                start = time.time()
                load_before = await _stripe_total(http, url)
                minute_mark = (start, load_before[0])

                async def buy() -> None:
                    for item in plan:
                        await asyncio.sleep(max(0.0, start + item["offset"] - time.time()))
                        answer = await http.post(f"{url}/_sandbox/purchase", json=item["body"])
                        session = answer.json()["session"]
                        paid[session] = time.time()
                        if not item["body"]["fulfil"]:
                            failing.add(session)

                buyer = asyncio.create_task(buy())
                dataset = env["SANITY_DATASET"]
                query_url = (
                    f"{env['SANITY_API_HOST']}/{env['SANITY_API_VERSION']}/data/query/{dataset}"
                )
                auth = {"Authorization": f"Bearer {env['SANITY_API_TOKEN']}"}
                deadline = start + window + grace + 2 * interval + 30
                while time.time() < deadline:
                    await asyncio.sleep(0.5)
                    now = time.time()
                    log = (
                        await http.get(f"{url}/_sandbox/slack/log", params={"after": log_at})
                    ).json()
                    log_at += len(log)
                    for entry in log:
                        for s in _mentions(entry, set(paid) - set(posted)):
                            posted[s] = now
                    waiting = sorted(failing - set(passed))
                    if waiting:
                        found = await http.get(
                            query_url,
                            params={
                                "query": PASSES_QUERY,
                                "$ids": json.dumps(waiting),
                            },
                            headers=auth,
                        )
                        for s in found.json().get("result") or []:
                            passed.setdefault(s, now)
                    if now - minute_mark[0] >= 60 / speed:
                        total = (await _stripe_total(http, url))[0]
                        per_minute.append(total - minute_mark[1])
                        minute_mark = (now, total)
                    if buyer.done() and failing <= set(posted) and failing <= set(passed):
                        break
                await buyer
                load_after = await _stripe_total(http, url)
                elapsed = time.time() - start
        finally:
            bot.terminate()
            await asyncio.to_thread(bot.wait, 30)
            sandbox.terminate()
            await asyncio.to_thread(sandbox.wait, 30)
    accounts = args.schools + 1
    detect = [posted[s] - paid[s] for s in failing if s in posted]
    to_pass = [passed[s] - paid[s] for s in failing if s in passed]
    return {
        "speed": speed,
        "interval": interval,
        "grace": grace,
        "accounts": accounts,
        "purchases": len(paid),
        "failing": len(failing),
        "posted": len(detect),
        "false_alarms": len(set(posted) - failing),
        "passed": len(to_pass),
        "detect": detect,
        "to_pass": to_pass,
        "idle_s": idle,
        "idle_stripe": idle_after[0] - idle_before[0],
        "idle_events": idle_after[1] - idle_before[1],
        "load_stripe": load_after[0] - load_before[0],
        "load_minutes": elapsed * speed / 60,
        "per_minute": per_minute,
    }


def _s(values: Sequence[float], p: float) -> str:
    return f"{percentile(values, p):7.1f}" if values else "      —"


def table(r: dict[str, Any], argv: Sequence[str]) -> str:
    grace, interval, speed = r["grace"], r["interval"], r["speed"]
    detect_target = grace + interval
    idle_per = r["idle_stripe"] / r["accounts"] / (r["idle_s"] / interval)
    events_per = r["idle_events"] / r["accounts"] / (r["idle_s"] / interval)
    p99 = percentile(r["detect"], 99) if r["detect"] else float("inf")
    worst = max(r["to_pass"]) if r["to_pass"] else float("inf")
    all_posted = r["posted"] == r["failing"]
    all_passed = r["passed"] == r["failing"]
    unit = "s" if speed == 1 else f"s (÷{speed:g})"
    lines = [
        f"{r['purchases']} purchases, {r['failing']} without the webhook's pass, "
        f"{r['accounts']} Stripe accounts; interval {interval:g} s, grace {grace:g} s, autofix on",
        "",
        f"                                 p50 {unit}   p99      max     target        met",
        f"payment → Slack post            {_s(r['detect'], 50)} {_s(r['detect'], 99)} "
        f"{_s(r['detect'], 100)}   p99 ≤ {detect_target:5.0f}   "
        f"{'yes' if p99 <= detect_target and all_posted else 'NO'} "
        f"({r['posted']}/{r['failing']} posted)",
        f"payment → pass (autofix)        {_s(r['to_pass'], 50)} {_s(r['to_pass'], 99)} "
        f"{_s(r['to_pass'], 100)}   max ≤ {300 / speed:5.0f}   "
        f"{'yes' if worst <= 300 / speed and all_passed else 'NO'} "
        f"({r['passed']}/{r['failing']} passes)",
        f"false alarms (a fulfilled purchase posted): {r['false_alarms']}",
        "",
        f"Stripe requests while idle ({r['idle_s']:g} s): {r['idle_stripe']} "
        f"({idle_per:.2f} per account per interval, target ≤ 1: "
        f"{'yes' if idle_per <= 1 else 'NO'}); "
        f"events lists {r['idle_events']} ({events_per:.2f} per account per interval)",
        f"Stripe requests during the purchases: {r['load_stripe']} in {r['load_minutes']:.1f} min "
        f"= {r['load_stripe'] / max(r['load_minutes'], 1e-9):.0f} per minute; per minute: "
        + " ".join(str(n) for n in r["per_minute"]),
        "",
        "reproduce: .venv/bin/python -m bench.watch " + " ".join(argv),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.watch", description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=100)
    parser.add_argument("--window-s", type=float, default=600, help="purchases spread over this")
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--fail", type=float, default=0.3, help="share without the webhook's pass")
    parser.add_argument(
        "--webhook-loss",
        type=float,
        default=0.3,
        help="share of passbot's Stripe webhook deliveries lost",
    )
    parser.add_argument("--interval-s", type=float, default=60)
    parser.add_argument("--grace-s", type=float, default=180)
    parser.add_argument("--idle-s", type=float, default=60, help="nothing happening, first")
    parser.add_argument("--speed", type=float, default=1, help="divide every duration by this")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--history", type=int, default=400, help="older purchases in the world")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    result = asyncio.run(run(args))
    print(table(result, given or []))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
