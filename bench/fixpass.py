"""Benchmark: `/fixpass EMAIL`, slash command to card, for a customer who bought at 20 schools.

    .venv/bin/python -m bench.fixpass --schools 20 --purchases 2000 --latency-ms 50 --runs 20

It generates a world of `--purchases` paid purchases over `--schools` schools (each school on its
own connected account) and adds one customer who bought a pass at every school, three of them
never fulfilled (so the card offers fixes). The sandbox runs in its own process, adding
`--latency-ms` to every request (Stripe, Sanity, Clerk and Slack alike); the real Bolt app is
served on loopback in this one, and `--runs` signed `/fixpass` requests are sent, one after the
other, then `--burst` at once. For each it measures

* ack: the HTTP response time of the slash command (what Slack waits for, 3 s at most);
* card: from sending the command until the sandbox's Slack has the "looking…" message replaced
  by the diagnosis card (`chat.update`, polled every 5 ms);
* requests per service per /fixpass, as the sandbox counted them (the account reads are
  concurrent within `--concurrency`, PASSBOT_CONCURRENCY).

It prints a table and the command that reproduces it. Figures, not assertions: this is not a
test. `--profile` prints where this process spent one more /fixpass (cProfile, by own time,
on standard error).

Found with it (before → after, same command): stripe-python turning every listed session into
a `StripeObject` and back cost ~1 ms a session, so CPU, not the network, paced a /fixpass
(card p50 4.1 s); and each offered fix looked its session up on every school's account (98
Stripe requests a /fixpass, now 38: the account the diagnosis found it on is asked first).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.slackapp import SERVICES, SlackBench, diff, percentile, slack_bench
from sandbox.worlds import add_customer_everywhere, generate_world

EMAIL = "vera.vidde@example.com"
TARGET_ACK_MS = 50
TARGET_CARD_MS = 2000


@dataclass
class Run:
    """One /fixpass: its ack and card times (seconds) and the requests it made."""

    ack: float
    card: float
    requests: dict[str, int] = field(default_factory=dict)


def world_for(schools: int, purchases: int, missing: int) -> dict[str, Any]:
    """A generated world plus the customer who bought at every school."""
    world = generate_world(seed=schools, schools=schools, purchases=purchases, broken=False)
    add_customer_everywhere(world, email=EMAIL, missing=missing)
    return world


async def _card_posted(bench: SlackBench, after: int, deadline: float) -> tuple[str, int]:
    """Wait for the "looking…" message posted after log entry `after` to be replaced by the
    card; returns its ts and the log's length then."""
    looking: str | None = None
    seen = after
    while True:
        for entry in await bench.log(seen):
            seen += 1
            args = entry.get("args") or {}
            if entry["method"] == "chat.postMessage" and looking is None:
                if str(args.get("text", "")).startswith("🔎"):
                    looking = str(entry["ts"])
            elif entry["method"] == "chat.update" and looking and args.get("ts") == looking:
                return looking, seen
        if time.perf_counter() > deadline:
            raise SystemExit("no card within 60 s")
        await asyncio.sleep(0.005)


async def one_fixpass(bench: SlackBench) -> Run:
    """Send one /fixpass and wait for its card (and for the app to finish the thread)."""
    await bench.activity.idle(60)
    before = await bench.requests()
    after = len(await bench.log())
    started = time.perf_counter()
    ack, answer = await bench.send(bench.command_body(EMAIL))
    if answer.status_code != 200 or answer.text:
        raise SystemExit(f"/fixpass answered {answer.status_code} {answer.text[:200]!r}")
    await _card_posted(bench, after, started + 60)
    card = time.perf_counter() - started
    await bench.activity.idle(60)
    return Run(ack, card, diff(await bench.requests(), before))


async def burst(bench: SlackBench, n: int) -> list[Run]:
    """`n` /fixpass commands at once (sent from another process): each one's ack, and when all
    the cards were there."""
    await bench.activity.idle(60)
    after = len(await bench.log())
    sent_at, _, sent = await bench.send_many([bench.command_body(EMAIL) for _ in range(n)])
    while True:
        log = await bench.log(after)
        updated = [e for e in log if e["method"] == "chat.update"]
        if len(updated) >= n:
            break
        if time.time() - sent_at > 120:
            raise SystemExit("the burst's cards did not all arrive within 120 s")
        await asyncio.sleep(0.005)
    card = time.time() - sent_at
    await bench.activity.idle(60)
    return [Run(ack, card) for ack, _ in sent]


async def profile_one(bench: SlackBench) -> str:
    """Where this process spent one /fixpass (cProfile, by own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    await one_fixpass(bench)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    return out.getvalue()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the world, serve the app, and measure."""
    world = world_for(args.schools, args.purchases, args.missing)
    sessions = len(world["stripe"]["checkout_sessions"])
    with tempfile.TemporaryDirectory(prefix="passbot-bench-") as tmp:
        async with slack_bench(
            world, Path(tmp), latency_ms=args.latency_ms, concurrency=args.concurrency
        ) as bench:
            await one_fixpass(bench)  # warm up: connections, imports, the SQLite file
            runs = [await one_fixpass(bench) for _ in range(args.runs)]
            bursts = await burst(bench, args.burst) if args.burst else []
            profile = await profile_one(bench) if args.profile else None
            card = (await bench.log())[-1]
    return {
        "sessions": sessions,
        "runs": runs,
        "burst": bursts,
        "profile": profile,
        "card_blocks": len(card.get("args", {}).get("blocks", [])),
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def table(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as text, with the command that reproduces them."""
    runs: list[Run] = result["runs"]
    acks = [r.ack for r in runs]
    cards = [r.card for r in runs]
    per = {s: statistics.median(r.requests.get(s, 0) for r in runs) for s in SERVICES}
    ack_p99, card_p99 = percentile(acks, 99), percentile(cards, 99)
    lines = [
        f"/fixpass for a customer with purchases at {args.schools} schools — "
        f"{result['sessions']} Checkout Sessions in the world, +{args.latency_ms} ms per request, "
        f"PASSBOT_CONCURRENCY={args.concurrency}",
        "",
        f"{'':<22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>10} {'met':>4}",
        f"{'ack (HTTP response)':<22} {_ms(percentile(acks, 50)):>8} {_ms(ack_p99):>8} "
        f"{_ms(max(acks)):>8} {'≤ ' + str(TARGET_ACK_MS) + ' p99':>10} "
        f"{'yes' if ack_p99 * 1000 <= TARGET_ACK_MS else 'NO':>4}",
        f"{'card posted':<22} {_ms(percentile(cards, 50)):>8} {_ms(card_p99):>8} "
        f"{_ms(max(cards)):>8} {'≤ ' + str(TARGET_CARD_MS) + ' p99':>10} "
        f"{'yes' if card_p99 * 1000 <= TARGET_CARD_MS else 'NO':>4}",
        "",
        f"requests per /fixpass ({len(runs)} runs, one after another): "
        + ", ".join(f"{s} {per[s]:g}" for s in SERVICES),
        f"card: {result['card_blocks']} blocks",
    ]
    if result["burst"]:
        bursts: list[Run] = result["burst"]
        burst_acks = [r.ack for r in bursts]
        lines.append(
            f"burst of {len(bursts)} at once: ack p50 {_ms(percentile(burst_acks, 50))} ms, "
            f"max {_ms(max(burst_acks))} ms; all {len(bursts)} cards after "
            f"{_ms(bursts[0].card)} ms"
        )
    lines += [
        "",
        "reproduce: .venv/bin/python -m bench.fixpass "
        f"--schools {args.schools} --purchases {args.purchases} --latency-ms {args.latency_ms} "
        f"--runs {args.runs} --burst {args.burst} --concurrency {args.concurrency}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.fixpass")
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--purchases", type=int, default=2000, help="in the whole world")
    parser.add_argument("--missing", type=int, default=3, help="the customer's unfulfilled")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--burst", type=int, default=5, help="then this many at once (0: none)")
    parser.add_argument("--concurrency", type=int, default=8, help="PASSBOT_CONCURRENCY")
    parser.add_argument("--profile", action="store_true", help="profile one more /fixpass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        runs = [vars(r) for r in result["runs"]]
        print(json.dumps({**result, "runs": runs, "burst": [vars(r) for r in result["burst"]]}))
    else:
        print(table(result, args))
    if result["profile"]:
        print(result["profile"], file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
