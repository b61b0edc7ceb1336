"""bench/ab.py: two versions of the code, one sandbox, runs taking turns."""

from __future__ import annotations

import subprocess
import sys

from bench.ab import GIT, Version, summary
from tests.e2e.process import REPO


def _version(label: str, cpu: list[float], outputs: list[str]) -> Version:
    return Version(label, REPO, cpu=cpu, wall=[1.0] * len(cpu), outputs=outputs)


def test_the_summary_pairs_rounds_and_guards_the_output():
    a = _version("A", [3.0, 3.4, 2.9], ["x", "x", "x"])
    b = _version("B", [2.8, 3.5, 2.6], ["x", "x", "x"])
    lines = summary(a, b)
    assert lines[1].split()[:4] == ["A", "3.100", "3.000", "2.900"]
    assert lines[2].split()[:4] == ["B", "2.967", "2.800", "2.600"]
    assert "mean -0.133 s, median -0.200 s; B used more in 1 of 3 rounds, less in 2" in lines[4]
    assert lines[5] == "outputs: identical in every run"
    changed = summary(a, _version("B", [2.8, 3.5, 2.6], ["x", "y", "x"]))
    assert changed[5] == "outputs: 2 different ones (A 1, B 2) — not a pure speed change"


def test_one_round_of_the_same_revision_on_both_sides():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ab",
            "--a",
            "HEAD",
            "--b",
            "HEAD",
            "--purchases",
            "20",
            "--schools",
            "2",
            "--latency-ms",
            "0",
            "--runs",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "round 1 A: cpu" in done.stdout
    assert "round 1 B: cpu" in done.stdout
    assert "outputs: identical in every run" in done.stdout
    assert "reproduce: .venv/bin/python -m bench.ab --b HEAD --a HEAD" in done.stdout
    worktrees = subprocess.run(  # noqa: S603 - git, on this repository
        [GIT, "-C", str(REPO), "worktree", "list"], capture_output=True, text=True, check=True
    )
    assert "passbot-ab-" not in worktrees.stdout  # removed again
