"""``passbot sandbox`` (and ``python -m sandbox``): run a sandbox until told to stop.

Standard output carries the settings and nothing else — one ``KEY=VALUE`` a line, ``SANDBOX_URL``
last — so that a script can read them, e.g. ``eval "$(… | sed 's/^/export /')"``. Problems go to
standard error as one line. Exit status: 0 after a clean stop, 2 for a world file that cannot be
read or is not a world, 1 when the sandbox cannot start (Node or its modules missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sandbox.app import Sandbox, start_sandbox
from sandbox.world import SandboxError, WorldError, load_world_file


def _fail(message: str) -> None:
    sys.stderr.write(f"passbot sandbox: {message}\n")
    sys.stderr.flush()


def write_world(path: str | Path, world: dict[str, Any]) -> None:
    """Write a world file (indented JSON), replacing ``path`` only once it is complete."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps(world, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, target)


async def _serve(world: dict[str, Any], dump_path: str | None, latency_ms: int) -> int:
    try:
        sandbox: Sandbox = await start_sandbox(world, latency_ms=latency_ms)
    except WorldError as error:
        _fail(str(error))
        return 2
    except SandboxError as error:
        _fail(str(error))
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        sys.stdout.write("".join(f"{key}={value}\n" for key, value in sandbox.settings().items()))
        sys.stdout.flush()
        await stop.wait()
        if dump_path is not None:
            write_world(dump_path, await sandbox.dump_world())
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await sandbox.close()
    return 0


def run_sandbox_cli(world_path: str, dump_path: str | None, *, latency_ms: int = 0) -> int:
    """Run ``passbot sandbox --world FILE [--dump-world OUT]`` and return its exit status."""
    try:
        world = load_world_file(world_path)
    except WorldError as error:
        _fail(str(error))
        return 2
    if latency_ms < 0:
        _fail("--latency-ms must be 0 or more")
        return 2
    return asyncio.run(_serve(world, dump_path, latency_ms))


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox --world FILE [--dump-world OUT] [--latency-ms N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Serve Stripe, Sanity, Clerk and Slack on 127.0.0.1 from a world file and "
        "print the settings that point passbot at them.",
    )
    parser.add_argument("--world", required=True, help="the world file (world-format.md)")
    parser.add_argument("--dump-world", metavar="OUT", help="write the final state here on exit")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="delay every service answer by N ms"
    )
    args = parser.parse_args(argv)
    return run_sandbox_cli(args.world, args.dump_world, latency_ms=args.latency_ms)
