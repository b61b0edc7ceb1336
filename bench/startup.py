"""Benchmark: how long `passbot` takes to start, and what it imports on the way.

    .venv/bin/python -m bench.startup --runs 20

Runs each command `--runs` times, one after another, in a child process of its own, and prints
the median and the best wall time and CPU time (user + system, from the child's own rusage),
then the heaviest imports of `bot.cli` by `python -X importtime`. Commands: `passbot --help`,
a usage error (`passbot nosuch`, exit 2), `passbot check --help`, and the fixed cost of a
command that works: `passbot check --json` against a tiny world (2 schools, 10 purchases, 35
days; `generate_world(seed=1, …)`) served by the sandbox in a process of its own with no added
latency, its PASSBOT_DB in a temporary folder — interpreter, imports, settings, the state
database, the requests and the output, nearly none of it proportional to the purchases. The
heaviest imports of that `check` follow (`-X importtime`, cumulative). Beside them, for scale:
the same tiny `check`'s network floor (`bench.floor`, the same requests and nothing else), and
importing the third-party libraries alone — the floor's (httpx, msgspec, orjson), then with the
rest of passbot's stack (pydantic-settings, stripe-python).

It measures the environment it runs in: `./dev setup` writes the bytecode of every package and
of passbot; where nothing did (`PYTHONDONTWRITEBYTECODE` set and the packages installed without
it), each start compiles what it imports. Figures, not assertions: this is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSBOT = str(Path(sys.executable).with_name("passbot"))

COMMANDS = {
    "passbot --help": [PASSBOT, "--help"],
    "passbot nosuch (exit 2)": [PASSBOT, "nosuch"],
    "passbot check --help": [PASSBOT, "check", "--help"],
}
#: The third-party libraries alone, as a command run as the program loads them (httpx's own
#: command line and requests left out, as bot/cli.py does): what the network floor imports, then
#: what passbot's stack (pydantic-settings, stripe-python) adds — a floor of passbot's start that
#: no change to passbot's own code can go below.
_LEAVE_OUT = "import sys; sys.modules['httpx._main'] = sys.modules['requests'] = None; "
IMPORTS = {
    "import httpx msgspec orjson": [
        sys.executable,
        "-c",
        _LEAVE_OUT + "import httpx, msgspec, orjson",
    ],
    "  + pydantic-settings stripe": [
        sys.executable,
        "-c",
        _LEAVE_OUT + "import httpx, msgspec, orjson, pydantic_settings, stripe._http_client",
    ],
}
CHECK_LABEL = "passbot check --json (tiny)"
CHECK = [PASSBOT, "check", "--json"]
#: The network floor of the same `check` (bench/floor.py): its fixed cost, beside passbot's.
FLOOR_LABEL = "bench.floor (tiny)"
FLOOR = [sys.executable, "-m", "bench.floor"]
#: The tiny world (seed, schools, purchases, days): small enough that what is left is the fixed
#: cost of one `check`.
TINY_WORLD = (1, 2, 10, 35)


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 — our own entry point
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


@contextmanager
def _tiny_sandbox(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment of a `check` against the tiny world, served by `python -m sandbox` in a
    child process (stopped after), with PASSBOT_DB in a temporary folder."""
    from bench.reconcile import _start_sandbox  # only for this row
    from sandbox.worlds import generate_world

    with tempfile.TemporaryDirectory(prefix="passbot-startup-") as tmp:
        world = Path(tmp) / "tiny-world.json"
        seed, schools, purchases, days = TINY_WORLD
        world.write_text(
            json.dumps(generate_world(seed=seed, schools=schools, purchases=purchases, days=days)),
            encoding="utf-8",
        )
        box, settings = _start_sandbox(world, 0)
        try:
            yield {**env, **settings, "PASSBOT_DB": str(Path(tmp) / "passbot.db")}
        finally:
            box.terminate()
            box.communicate(timeout=30)


def _imports(
    env: dict[str, str], top: int, code: list[str] | None = None
) -> list[tuple[float, str]]:
    """The heaviest imports of `bot.cli` (or of the command `code` runs) and of what it imports
    itself (cumulative seconds)."""
    done = subprocess.run(  # noqa: S603 — our own interpreter
        [sys.executable, "-X", "importtime", *(code or ["-c", "import bot.cli"])],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=code is None,
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
    parser.add_argument(
        "--no-check", action="store_true", help="skip `passbot check` on the tiny world"
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    lines = [
        f"passbot start-up — {args.runs} runs each, one after another",
        "",
        f"{'command':<28} {'wall p50 s':>10} {'wall min s':>10} {'cpu p50 s':>10}"
        f" {'cpu min s':>10}",
    ]

    def row(label: str, command: list[str], child_env: dict[str, str]) -> str:
        runs = [_once(command, child_env) for _ in range(max(1, args.runs))]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        return (
            f"{label:<28} {statistics.median(walls):>10.3f} {min(walls):>10.3f}"
            f" {statistics.median(cpus):>10.3f} {min(cpus):>10.3f}"
        )

    lines += [row(label, command, env) for label, command in COMMANDS.items()]
    lines += [row(label, command, env) for label, command in IMPORTS.items()]
    check_imports: list[tuple[float, str]] = []
    if not args.no_check:
        with _tiny_sandbox(env) as check_env:
            _once(CHECK, check_env)  # the first run makes and migrates PASSBOT_DB
            lines.append(row(CHECK_LABEL, CHECK, check_env))
            lines.append(row(FLOOR_LABEL, FLOOR, check_env))
            check_imports = _imports(check_env, args.top, ["-m", "bot", "check", "--json"])
    lines += ["", "heaviest imports (python -X importtime -c 'import bot.cli', cumulative):"]
    lines += [f"  {seconds:>7.3f} s  {module}" for seconds, module in _imports(env, args.top)]
    if check_imports:
        lines += ["", "heaviest imports of `passbot check --json` (tiny world, cumulative):"]
        lines += [f"  {seconds:>7.3f} s  {module}" for seconds, module in check_imports]
    lines += ["", f"reproduce: .venv/bin/python -m bench.startup --runs {args.runs}"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
