"""Benchmark: 200 concurrent presses of one approve button → exactly one subscription.

    .venv/bin/python -m bench.approvals --presses 200 --latency-ms 50
    .venv/bin/python -m bench.approvals --presses 200 --latency-ms 50 --db postgresql

A customer with one unfulfilled purchase; `/fixpass` posts the card; then `--presses` signed
block_actions requests for its first button — each with its own trigger id, as separate clicks
are, from two approvers in turn — are sent at once (asyncio.gather, from a child process over
connections opened beforehand, so that neither the client's work nor the listen backlog is
measured) to the real Bolt app on loopback, the sandbox adding `--latency-ms` to every request
and running in its own process. When the app is idle it counts
what came of them: HTTP answers, the presses' recorded outcomes, the subscriptions that exist for
the purchase, passbot's audit rows, Sanity mutations, and the card's updates.

With `--db postgresql` passbot's state (claims, presses, audit) is in a real PostgreSQL server
started for the run (sandbox/postgres.py) instead of a SQLite file.

It prints a table and the command that reproduces it. Figures, not assertions: this is not a
test (tests/e2e/test_slack.py holds the double click and two approvers as tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.fixpass import EMAIL, world_for
from bench.slackapp import SlackBench, buttons, percentile, slack_bench
from sandbox.postgres import local_postgres

APPROVERS = ("U0APPROVER", "U0SECOND")


async def _card(bench: SlackBench) -> tuple[dict[str, Any], str]:
    """Post /fixpass and wait for its card with buttons; (the chat.update args, its ts)."""
    _, answer = await bench.send(bench.command_body(EMAIL))
    assert answer.status_code == 200, answer.text
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        for entry in reversed(await bench.log()):
            args = entry.get("args") or {}
            if entry["method"] == "chat.update" and buttons(args):
                return args, str(args["ts"])
        await asyncio.sleep(0.02)
    raise SystemExit("no card with buttons within 60 s")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Post the card, press it `args.presses` times at once, and count what came of it."""
    world = world_for(args.schools, args.purchases, missing=1)
    world["slack"]["users"].append(
        {"id": "U0SECOND", "name": "bo", "real_name": "Bo Second",
         "profile": {"email": "bo@dance.example"}, "is_admin": False}
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="passbot-bench-") as tmp, ExitStack() as stack:
        db = str(Path(tmp) / "passbot.db")
        if args.db == "postgresql":
            db = stack.enter_context(local_postgres()).create_database("bench")
        async with slack_bench(
            world,
            Path(tmp),
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            passbot_db=db,
        ) as bench:
            card, ts = await _card(bench)
            await bench.activity.idle(60)
            session = json.loads(buttons(card)[0][1]["value"])["s"]
            log_before = len(await bench.log())
            mutations_before = (await bench.requests())["sanity"].get("POST /data/mutate", 0)
            bodies = [
                bench.press_body(card, ts, user=APPROVERS[i % len(APPROVERS)])
                for i in range(args.presses)
            ]
            sent_at, acked, answers = await bench.send_many(bodies)
            applied_at = None
            while applied_at is None and time.time() - sent_at < 120:
                log = await bench.log(log_before)
                if any(
                    e["method"] == "chat.update" and str(e["args"].get("text", "")).startswith("✅")
                    for e in log
                ):
                    applied_at = time.time() - sent_at
                else:
                    await asyncio.sleep(0.005)
            await bench.activity.idle(120)
            settled = time.time() - sent_at
            log = await bench.log(log_before)
            world_now = await bench.world()
            mutations = (await bench.requests())["sanity"].get("POST /data/mutate", 0)
            store = bench.services.audit
            presses = store.presses(10 * args.presses)  # type: ignore[attr-defined]
            audit = [e for e in bench.services.recent_audit(1000) if e.session == session]
    subscriptions = [
        d
        for d in world_now["sanity"]["documents"]
        if d.get("_type") == "subscription" and d.get("stripeSessionId") == session
    ]
    updates = Counter(
        str(e["args"].get("text", ""))[:1] for e in log if e["method"] == "chat.update"
    )
    return {
        "presses": args.presses,
        "http": Counter(status for _, status in answers),
        "ack": [seconds for seconds, _ in answers],
        "acked": acked,
        "applied_at": applied_at,
        "settled": settled,
        "outcomes": Counter(p.outcome for p in presses if p.session == session),
        "subscriptions": len(subscriptions),
        "audit_rows": len(audit),
        "mutations": mutations - mutations_before,
        "card_updates": dict(updates),
        "private_answers": sum(1 for e in log if e["method"] == "response_url"),
    }


def table(r: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as text, with the command that reproduces them."""
    ms = [a * 1000 for a in r["ack"]]
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
    applied = f"{r['applied_at'] * 1000:.0f} ms" if r["applied_at"] is not None else "never"
    updates = ", ".join(f"{k!r} {v}" for k, v in sorted(r["card_updates"].items()))
    lines = [
        f"{r['presses']} concurrent presses of one approve button (two approvers, one trigger id "
        f"each), +{args.latency_ms} ms per request, passbot's state in {args.db}",
        "",
        f"subscriptions for the purchase  {r['subscriptions']:>5}   (want 1)",
        f"audit rows                      {r['audit_rows']:>5}   (want 1)",
        f"Sanity mutations                {r['mutations']:>5}   (want 1)",
        f"presses recorded: {outcomes}",
        f"HTTP answers: {', '.join(f'{k} × {v}' for k, v in sorted(r['http'].items()))}",
        f"card updates by first character: {updates}; private answers {r['private_answers']}",
        "",
        f"ack p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, "
        f"max {max(ms):.0f} ms; all {r['presses']} answered after {r['acked'] * 1000:.0f} ms",
        f"'✅' on the card after {applied}; every press settled after {r['settled'] * 1000:.0f} ms",
        "",
        "reproduce: .venv/bin/python -m bench.approvals "
        f"--presses {args.presses} --latency-ms {args.latency_ms} --schools {args.schools} "
        f"--purchases {args.purchases} --concurrency {args.concurrency}"
        + (f" --db {args.db}" if args.db != "sqlite" else ""),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.approvals")
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    print(table(asyncio.run(run(args)), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
