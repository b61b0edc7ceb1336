"""passbot's command line (cli-contract.md). Until the sandbox lands, `demo` reconciles a
built-in example world through the core and prints the findings."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from core.models import Window, parse_instant
from core.reconcile import reconcile, report_json
from core.snapshot import facts_from_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _demo(args: argparse.Namespace) -> int:
    world = json.loads(Path(args.world).read_text(encoding="utf-8"))
    facts, _ = facts_from_world(world)
    now = parse_instant(world.get("now"))
    if now is None:
        print("the demo world needs a `now`", file=sys.stderr)
        return 2
    report = reconcile(facts, now=now, window=Window(now - timedelta(days=35), now), actor="demo")
    if args.json:
        print(json.dumps(report_json(report, mode="test"), indent=2))
    else:
        print(f"{report.paid_pass_sessions} paid pass purchases, {report.with_pass} with a pass")
        for finding in report.findings:
            print(f"[{finding.severity}] {finding.kind}: {finding.summary}")
    return 1 if report.needs_attention else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `passbot` console script."""
    parser = argparse.ArgumentParser(prog="passbot")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="reconcile the built-in example world")
    demo.add_argument("--world", default=str(EXAMPLES / "tiny-world.json"))
    demo.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    code = _demo(args)
    return 0 if args.command == "demo" else code
