"""Benchmark: what each kind of lookup costs — `passbot diagnose QUERY`, the real CLI against
the sandbox seeded with a world file, counting the requests each service received (the dumped
world's `requests`) and the wall time of the whole command (sandbox start included).

    .venv/bin/python -m bench.lookup --world examples/demo-world.json

The lookup itself (finding the customer) comes before the diagnosis every kind shares, so the
difference to the email row is what the lookup adds. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.cli import main


def _queries(world: dict[str, Any]) -> list[tuple[str, str]]:
    demo = world.get("_demo") or {}
    session = str(demo.get("missing_pass"))
    customer = str(demo.get("customer"))
    users = [d for d in world["sanity"]["documents"] if d.get("_type") == "user"]
    user = next(u for u in users if u.get("email") == customer)
    return [
        ("email", customer),
        ("Checkout Session", session),
        ("PaymentIntent", session.replace("cs_", "pi_")),
        ("Charge", session.replace("cs_", "ch_")),
        ("Sanity user id", str(user["_id"])),
        ("Clerk user id", str(user["clerkId"])),
        ("name (one match)", str(user["name"])),
        ("name (pick-list)", "ola nordmann"),
    ]


def run(world_path: str) -> list[tuple[str, int, float, dict[str, int]]]:
    world = json.loads(Path(world_path).read_text(encoding="utf-8"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PASSBOT_DB"] = str(Path(tmp) / "bench.db")
        for label, query in _queries(world):
            dump = Path(tmp) / "after.json"
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["diagnose", query, "--sandbox", world_path, "--dump-world", str(dump)])
            wall = time.perf_counter() - started
            counts = json.loads(dump.read_text())["requests"]
            per = {s: sum(v.values()) for s, v in counts.items() if isinstance(v, dict)}
            rows.append((label, code, wall, per))
    return rows


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default="examples/demo-world.json")
    args = parser.parse_args()
    rows = run(args.world)
    print(f"{'lookup by':<18} {'exit':>4} {'wall s':>7} {'stripe':>7} {'sanity':>7} {'clerk':>6}")
    for label, code, wall, per in rows:
        print(f"{label:<18} {code:>4} {wall:>7.1f} {per.get('stripe', 0):>7} "
              f"{per.get('sanity', 0):>7} {per.get('clerk', 0):>6}")  # fmt: skip
    print(f"\nreproduce: .venv/bin/python -m bench.lookup --world {args.world}", file=sys.stdout)


if __name__ == "__main__":
    main_cli()
