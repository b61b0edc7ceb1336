"""Benchmark: how long `passbot` takes to start, and what it imports on the way.

    .venv/bin/python -m bench.startup --runs 20

Runs each command `--runs` times, one after another, in a child process of its own, and prints
the median and the best wall time and CPU time (user + system, from the child's own rusage),
then the heaviest imports of `bot.cli` by `python -X importtime`. Commands: `passbot --help`,
a usage error (`passbot nosuch`, exit 2), and `passbot check --help`.

It measures the environment it runs in: `./dev setup` writes the bytecode of every package and
of passbot; where nothing did (`PYTHONDONTWRITEBYTECODE` set and the packages installed without
it), each start compiles what it imports. Figures, not assertions: this is not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSBOT = str(Path(sys.executable).with_name("passbot"))

COMMANDS = {
    "passbot --help": [PASSBOT, "--help"],
    "passbot nosuch (exit 2)": [PASSBOT, "nosuch"],
    "passbot check --help": [PASSBOT, "check", "--help"],
}


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 — our own entry point
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def _imports(env: dict[str, str], top: int) -> list[tuple[float, str]]:
    """The heaviest imports of `bot.cli` and of what it imports itself (cumulative seconds)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import bot.cli"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S.*)$", line)
        if found and len(found.group(2)) <= 2:  # bot.cli, and what it imports itself
            rows.append((int(found.group(1)) / 1e6, found.group(2) + found.group(3)))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=6, help="heaviest imports to list")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    lines = [
        f"passbot start-up — {args.runs} runs each, one after another",
        "",
        f"{'command':<26} {'wall p50 s':>10} {'wall min s':>10} {'cpu p50 s':>10}"
        f" {'cpu min s':>10}",
    ]
    for label, command in COMMANDS.items():
        runs = [_once(command, env) for _ in range(max(1, args.runs))]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        lines.append(
            f"{label:<26} {statistics.median(walls):>10.3f} {min(walls):>10.3f}"
            f" {statistics.median(cpus):>10.3f} {min(cpus):>10.3f}"
        )
    lines += ["", "heaviest imports (python -X importtime -c 'import bot.cli', cumulative):"]
    lines += [f"  {seconds:>7.3f} s  {module}" for seconds, module in _imports(env, args.top)]
    lines += ["", f"reproduce: .venv/bin/python -m bench.startup --runs {args.runs}"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
