"""A/B: two versions of passbot's code against one sandbox, their runs taking turns.

    .venv/bin/python -m bench.ab --b HEAD~1 --purchases 10000 --schools 20 --runs 6
    .venv/bin/python -m bench.ab --a main --b my-branch --world WORLD.json -- diagnose a@b.c

The machine this project is measured on changes speed by up to 1.8× within minutes, so a
change worth 0.1 s of CPU cannot be seen by setting a run now beside a table from an hour ago.
This runs the same command (default `check --json`) from two versions of the code — A, the work
tree unless `--a REV` is given, and B, `--b REV` — against one sandbox, alternately (A then B in
one round, B then A in the next, so neither always goes first), each as the console script runs
it (`python -m bot`, in a child process of its own with that version's code first on the path
and its bytecode compiled beforehand). It prints each round's CPU seconds (user + system of the
child alone) and wall seconds, the mean and median of each version, the per-round difference
B − A with how many rounds it had each sign, and whether every run printed the same output — a
behaviour guard for a change meant to be pure speed. Figures, not assertions.

A revision is checked out with `git worktree add --detach` into a temporary folder and removed
at the end. Each version keeps its own PASSBOT_DB.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.reconcile import PYTHON, ROOT, _child, _start_sandbox, write_world

#: What each version compiles before its first run (PYTHONDONTWRITEBYTECODE may be set, and a
#: fresh worktree has no bytecode: compiling would be counted as the version's CPU).
PACKAGES = ("bot", "core", "handlers", "sandbox")
GIT = shutil.which("git") or "git"


@dataclass
class Version:
    """One side of the comparison: its label, its code, and its runs."""

    label: str
    tree: Path
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@contextmanager
def checked_out(rev: str, tmp: Path) -> Iterator[Path]:
    """`rev` of this repository in a temporary worktree, removed afterwards."""
    tree = tmp / f"tree-{len(list(tmp.iterdir()))}"
    subprocess.run(  # noqa: S603 - git, on this repository
        [GIT, "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(tree), rev],
        check=True,
    )
    try:
        yield tree  # the sandbox runs from this repository's own code, for both versions
    finally:
        subprocess.run(  # noqa: S603 - git, on this repository
            [GIT, "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )


def compile_tree(tree: Path) -> None:
    """Write the version's bytecode once, so no run pays for compiling it."""
    subprocess.run(  # noqa: S603 - our own interpreter
        [PYTHON, "-m", "compileall", "-q", *PACKAGES], cwd=tree, check=True, capture_output=True
    )


def summary(a: Version, b: Version) -> list[str]:
    """The table's lines for two versions' runs (rounds paired in order)."""
    lines = [f"{'':>8} {'cpu mean':>9} {'cpu median':>11} {'cpu min':>8} {'wall median':>12}"]
    for v in (a, b):
        lines.append(
            f"{v.label:>8} {statistics.fmean(v.cpu):>9.3f} {statistics.median(v.cpu):>11.3f} "
            f"{min(v.cpu):>8.3f} {statistics.median(v.wall):>12.2f}"
        )
    diffs = [y - x for x, y in zip(a.cpu, b.cpu, strict=True)]
    higher = sum(d > 0 for d in diffs)
    lines += [
        "",
        f"B − A cpu per round: mean {statistics.fmean(diffs):+.3f} s, median "
        f"{statistics.median(diffs):+.3f} s; B used more in {higher} of {len(diffs)} rounds, "
        f"less in {sum(d < 0 for d in diffs)}",
    ]
    outputs = set(a.outputs) | set(b.outputs)
    lines.append(
        "outputs: identical in every run"
        if len(outputs) == 1
        else f"outputs: {len(outputs)} different ones (A {len(set(a.outputs))}, "
        f"B {len(set(b.outputs))}) — not a pure speed change"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run both versions in turns and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("--a", metavar="REV", help="version A (default: the work tree)")
    parser.add_argument("--b", metavar="REV", required=True, help="version B, a git revision")
    world_from = parser.add_mutually_exclusive_group()
    world_from.add_argument("--world", type=Path, help="a world file (default: generated)")
    world_from.add_argument("--purchases", type=int, default=10000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=6, help="rounds; each runs A and B once")
    parser.add_argument("command", nargs="*", help="passbot's arguments (default: check --json)")
    args = parser.parse_args(argv)
    command = args.command or ["check", "--json"]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="passbot-ab-")))
        trees = tmp / "trees"
        trees.mkdir()
        tree_a = stack.enter_context(checked_out(args.a, trees)) if args.a else ROOT
        a = Version("A", tree_a)
        b = Version("B", stack.enter_context(checked_out(args.b, trees)))
        for version in (a, b):
            compile_tree(version.tree)
        world = args.world
        if world is None:  # the world bench.reconcile measures at that size
            world = tmp / "world.json"
            write_world(world, args.purchases, args.schools)
        sandbox, env = _start_sandbox(world, args.latency_ms)
        stack.callback(sandbox.wait, 30)
        stack.callback(sandbox.terminate)
        for round_ in range(max(1, args.runs)):
            for version in (a, b) if round_ % 2 == 0 else (b, a):
                child_env = {
                    **env,
                    "PYTHONPATH": str(version.tree),
                    "PASSBOT_DB": str(tmp / f"passbot-{version.label}.db"),
                }
                wall, cpu, _, out = _child(
                    [PYTHON, "-m", "bot", *command], child_env, tmp, cwd=version.tree
                )
                version.cpu.append(cpu)
                version.wall.append(wall)
                version.outputs.append(out)
                print(f"round {round_ + 1} {version.label}: cpu {cpu:.3f} s, wall {wall:.2f} s")
        describe = f"A = {args.a or 'the work tree'}, B = {args.b}"
        source = str(args.world) if args.world else f"{args.purchases} purchases"
        print()
        print(
            f"passbot {' '.join(command)} — {describe}; {source}, {args.schools} schools, "
            f"+{args.latency_ms} ms per request, {args.runs} rounds"
        )
        print()
        print("\n".join(summary(a, b)))
        print()
        reproduce = ["--b", args.b] + (["--a", args.a] if args.a else [])
        reproduce += (
            ["--world", str(args.world)]
            if args.world
            else ["--purchases", str(args.purchases), "--schools", str(args.schools)]
        )
        reproduce += ["--latency-ms", str(args.latency_ms), "--runs", str(args.runs)]
        print(
            f"reproduce: .venv/bin/python -m bench.ab {' '.join(reproduce)}"
            + (f" -- {' '.join(command)}" if args.command else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
