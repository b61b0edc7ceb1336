"""Benchmark: the CPU `passbot check` spends after decoding — judging, auditing, the report.

    .venv/bin/python -m bench.judge --purchases 10000 --schools 20 --runs 5

It generates a world (as bench.reconcile does: `generate_world(seed=N, schools, purchases=N)`)
or reads one (`--world FILE`), starts the sandbox in this process (no added latency) and makes
the reads of a `check` once through the real adapters, recording what the reconciliation is fed:
each Stripe page with its Sanity documents, each page of active subscriptions, the purchases read
from before the window. Then, `--runs` times, with no network, it replays them:

* models: the Sanity and Stripe models of what was read, built again from their JSON (so that
  nothing one run remembers on a model flatters the next); a document read on several pages is
  built once, as the Sanity adapter's memo does;
* judge: `Reconciliation.add_page` for every page (judging each purchase);
* audit: `audit` of the active subscriptions, the history, `finish` (lint, sort);
* report: `report_json` and the JSON text `check --json` prints.

CPU seconds (time.process_time) of each, best and median of the runs. Figures, not assertions:
this is not a test. `--profile` prints where one more replay spent its time (cProfile, which
about doubles the figures of Python-heavy code). `--output FILE` writes the replay's
`check --json`: it must be byte-identical to what `passbot check --json` prints for the world.

Found with it (10k purchases, 20 schools, best of 7 on the shared 2-core machine, old and new
code in turns): judging took 0.76 s of CPU, now 0.50 s (0.94 → 0.58 s in a busier moment).
Each purchase scanned every user of its page for its Clerk id, copied
its verdict once more to add the pass name, ranked a single matched pass by formatting its date,
built a new `Visibility`, `Provenance` and `SchoolTally` each time, and formatted the run's `now`
for every proposal it made.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import getpass
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.container import build_services
from bot.preflight import SANDBOX_KEYS, load_settings
from core.domain.facts import Facts
from core.domain.models import (
    AccountScan,
    CheckoutSession,
    ClerkUser,
    Pass,
    SanityUser,
    Subscription,
    Tenant,
    Window,
)
from core.domain.reconcile import ReconcileReport, Reconciliation, report_json
from core.usecases.reading import facts_of_page
from sandbox import start_sandbox
from sandbox.worlds import generate_world

#: Who `passbot check` names as the approver when run from a shell (bot/cli.py).
ACTOR = f"cli:{getpass.getuser()}"


@dataclass
class Recorded:
    """What one `check` fed its reconciliation, in order."""

    days: int | None
    mode: str
    window: Window
    tenants: tuple[Tenant, ...]
    passes: tuple[Pass, ...]
    calls: list[tuple[str, Facts]] = field(default_factory=list)
    scans: list[AccountScan] = field(default_factory=list)


class _Recording(Reconciliation):
    """A reconciliation that notes every call it is fed."""

    calls: list[tuple[str, Facts]]

    def add_page(self, facts: Facts) -> None:
        self.calls.append(("page", facts))
        super().add_page(facts)

    def audit(self, facts: Facts, *, only: frozenset[str] | None = None) -> None:
        if only is None:  # `settle`'s own audit is not fed from outside
            self.calls.append(("audit", facts))
        super().audit(facts, only=only)

    def add_context_page(self, facts: Facts) -> None:
        self.calls.append(("context", facts))
        super().add_context_page(facts)


async def record(world: dict[str, Any], days: int | None) -> Recorded:
    """Make the reads of `check` (core/usecases/check.py) once, against a sandbox of `world`."""
    box = await start_sandbox(world)
    try:
        settings = load_settings(box.settings(), provided=SANDBOX_KEYS)
        async with build_services(settings) as services:
            reader = services.reader
            window = reader.window(days)
            catalogue = await reader.catalogue()
            run = _Recording(
                tenants=catalogue.tenants,
                passes=catalogue.passes,
                now=window.end,
                window=window,
                actor=ACTOR,
                keep_purchases=False,
            )
            run.calls = []

            async def on_page(page: list[CheckoutSession]) -> None:
                run.add_page(facts_of_page(page, await reader.related_to(page)))

            _, scans = await reader.scan(
                reader.accounts_of(catalogue), window, on_page=on_page, collect=False
            )
            async for chunk in reader.passes.active_subscription_pages(now=window.end):
                run.audit(Facts(subscriptions=chunk.subscriptions, users=chunk.users))
            await reader.read_history(run, catalogue)
            return Recorded(
                days=days,
                mode=services.payments.mode,
                window=window,
                tenants=tuple(catalogue.tenants),
                passes=tuple(catalogue.passes),
                calls=run.calls,
                scans=scans,
            )
    finally:
        await box.close()


def rebuild(recorded: Recorded) -> list[tuple[str, Facts]]:
    """Every model of the recorded calls built again from its JSON, each object once."""
    built: dict[int, Any] = {}

    def again(model: Any, build: Callable[[Any], Any]) -> Any:
        key = id(model)
        if key not in built:
            built[key] = build(model)
        return built[key]

    def session(s: CheckoutSession) -> CheckoutSession:
        return CheckoutSession.from_json(s.raw, account=s.account)

    out: list[tuple[str, Facts]] = []
    for kind, facts in recorded.calls:
        out.append(
            (
                kind,
                replace(
                    facts,
                    sessions=[again(s, session) for s in facts.sessions],
                    subscriptions=[
                        again(s, lambda m: Subscription.from_json(m.raw))
                        for s in facts.subscriptions
                    ],
                    users=[again(u, lambda m: SanityUser.from_json(m.raw)) for u in facts.users],
                    clerk_users=None
                    if facts.clerk_users is None
                    else [
                        again(c, lambda m: ClerkUser.from_json(m.raw)) for c in facts.clerk_users
                    ],
                ),
            )
        )
    return out


def replay(
    recorded: Recorded, calls: list[tuple[str, Facts]], timings: dict[str, list[float]]
) -> tuple[ReconcileReport, str]:
    """One reconciliation of the recorded reads; CPU seconds of each phase into `timings`."""
    clock = time.process_time
    started = clock()
    run = Reconciliation(
        tenants=recorded.tenants,
        passes=recorded.passes,
        now=recorded.window.end,
        window=recorded.window,
        actor=ACTOR,
        keep_purchases=False,
    )
    for kind, facts in calls:
        if kind == "page":
            run.add_page(facts)
    judged = clock()
    for kind, facts in calls:
        if kind == "audit":
            run.audit(facts)
        elif kind == "context":
            run.add_context_page(facts)
    report = run.finish(accounts=recorded.scans)
    audited = clock()
    text = json.dumps(report_json(report, mode=recorded.mode), indent=2, default=str)
    done = clock()
    timings["judge"].append(judged - started)
    timings["audit"].append(audited - judged)
    timings["report"].append(done - audited)
    timings["total"].append(done - started)
    return report, text


def main(argv: list[str] | None = None) -> int:
    """Record once, replay `--runs` times, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.judge")
    parser.add_argument("--purchases", type=int, default=10000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--world", help="a world file instead of a generated one")
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one more replay")
    parser.add_argument("--output", help="write the last replay's `check --json` text here")
    args = parser.parse_args(argv)
    if args.world:
        world = json.loads(Path(args.world).read_text())
        what = f"--world {args.world}"
    else:
        n = args.purchases
        world = generate_world(seed=n, schools=args.schools, purchases=n, days=35)
        what = f"--purchases {n} --schools {args.schools}"
    recorded = asyncio.run(record(world, args.days))
    del world
    pages = sum(1 for kind, _ in recorded.calls if kind == "page")
    sessions = sum(len(f.sessions) for kind, f in recorded.calls if kind == "page")
    timings: dict[str, list[float]] = {
        k: [] for k in ("models", "judge", "audit", "report", "total")
    }
    text = ""
    for _ in range(max(1, args.runs)):
        started = time.process_time()
        calls = rebuild(recorded)
        timings["models"].append(time.process_time() - started)
        # Everything read is kept here for the replays, far more than one check holds at once:
        # out of the collector's way, so that its passes over it do not weigh on the figures.
        gc.collect()
        gc.freeze()
        report, text = replay(recorded, calls, timings)
        gc.unfreeze()
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(
        f"{sessions} sessions on {pages} pages, {report.paid_pass_sessions} paid pass purchases, "
        f"{len(report.findings)} findings; CPU seconds over {len(timings['total'])} runs"
    )
    print(f"{'phase':<8} {'best':>7} {'median':>7}")
    for phase, values in timings.items():
        print(f"{phase:<8} {min(values):7.3f} {statistics.median(values):7.3f}")
    print("(models: Sanity and Stripe models rebuilt from their JSON, not part of total)")
    days = f" --days {args.days}" if args.days else ""
    print(f"reproduce: .venv/bin/python -m bench.judge {what}{days} --runs {args.runs}")
    if args.profile:
        calls = rebuild(recorded)
        profiler = cProfile.Profile()
        profiler.enable()
        replay(recorded, calls, {k: [] for k in timings})
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
