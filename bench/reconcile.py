"""Benchmark: `passbot check` at scale against the sandbox, beside its network floor and the
platform scripts' way.

    .venv/bin/python -m bench.reconcile --sizes 1000,10000,100000 --schools 20 --latency-ms 50

For each size it generates a world of N paid pass purchases over 20 schools (35 days), starts
the sandbox in its own process with the given latency added to every request, then runs

* passbot: the real `passbot check --json` in a child process (wall time, CPU seconds and peak
  RSS of that process, requests per service as the sandbox counted them);
* the floor: bench/floor.py, a client that sends the same Stripe and Sanity requests with the
  same concurrency and does nothing else, in a child process too. passbot and the floor take
  turns `--runs` times against the same sandbox, and the run of median wall time of each is
  shown, with passbot's wall time ÷ the floor's;
* the baseline: what the platform's scripts do — list each account's sessions, then one Sanity
  query per paid pass session (`stripeSessionId == $id || stripePaymentId == $pi`), one at a
  time as the scripts do (`--baseline-concurrency 1`, the default) or with passbot's own
  concurrency (`--baseline-concurrency 8`, a generous baseline) — in a child process too.

It prints a table and the command that reproduces it. Figures, not assertions: this is not a
test. The baseline is skipped above `--baseline-max` (one query per session at 50 ms each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.worlds import generate_world

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _start_sandbox(
    world_path: Path, latency_ms: int
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [PYTHON, "-m", "sandbox", "--world", str(world_path), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        env[key] = value
        if key == "SANDBOX_URL":
            break
    if "SANDBOX_URL" not in env:
        proc.kill()
        raise SystemExit("the sandbox did not start")
    return proc, env


def _requests(env: dict[str, str]) -> dict[str, dict[str, int]]:
    url = env["SANDBOX_URL"] + "/_sandbox/requests"
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 — loopback only
        counts: dict[str, dict[str, int]] = json.loads(answer.read())
    return counts


def _diff(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, int]:
    return {
        service: sum(after.get(service, {}).values()) - sum(before.get(service, {}).values())
        for service in ("stripe", "sanity", "clerk")
    }


def _child(
    argv: list[str], env: dict[str, str], tmp: Path, *, cwd: Path = ROOT
) -> tuple[float, float, int, str]:
    """Run a child (in `cwd`); wall seconds, its own CPU seconds (user + system), its own peak
    RSS in MiB, its stdout."""
    out_path = tmp / "child.out"
    started = time.perf_counter()
    with out_path.open("wb") as out, (tmp / "child.err").open("wb") as err:
        proc = subprocess.Popen(  # noqa: S603 — our own interpreter and module
            argv, env={**os.environ, **env}, stdout=out, stderr=err, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)  # reaps it, with its own resource usage
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in (0, 1):
        tail = (tmp / "child.err").read_text()[-800:]
        raise SystemExit(f"{' '.join(argv[2:])} failed ({code}): {tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss // 1024, out_path.read_text()


def write_world(path: Path, n: int, schools: int) -> None:
    """The benchmark's world of `n` purchases (seed `n`, 35 days) written to `path`.

    Generated in a child of its own: a 100k world is ~1.5 GiB in memory, and Linux counts the
    parent's pages at fork time in a child's peak RSS (ru_maxrss), which would bury passbot's
    own figure under the generator's.
    """
    subprocess.run(  # noqa: S603 — our own interpreter and module
        [
            PYTHON,
            "-m",
            "bench.reconcile",
            "--write-world",
            str(path),
            "--sizes",
            str(n),
            "--schools",
            str(schools),
        ],
        check=True,
        cwd=ROOT,
    )


def run_size(
    n: int,
    *,
    schools: int,
    latency_ms: int,
    baseline: bool,
    tmp: Path,
    baseline_concurrency: int = 1,
    runs: int = 1,
) -> dict[str, Any]:
    """Benchmark one size; returns the figures."""
    world_path = tmp / f"world-{n}.json"
    write_world(world_path, n, schools)
    sandbox, env = _start_sandbox(world_path, latency_ms)
    env = {**env, "PASSBOT_DB": str(tmp / f"passbot-{n}.db"), "PASSBOT_CONCURRENCY": "8"}
    try:
        result: dict[str, Any] = {"n": n}
        # passbot and the floor take turns, `runs` times each, against the same sandbox: the
        # median of each is reported, so that a busy moment on the shared machine does not
        # decide the ratio.
        passbot_runs: list[dict[str, Any]] = []
        floor_runs: list[dict[str, Any]] = []
        for _ in range(max(1, runs)):
            before = _requests(env)
            wall, cpu, rss, out = _child([PYTHON, "-m", "bot", "check", "--json"], env, tmp)
            report = json.loads(out)
            result["paid_pass_sessions"] = report["metrics"]["paid_pass_sessions"]
            result["findings"] = len(report["findings"])
            passbot_runs.append(
                {
                    "seconds": wall,
                    "cpu": cpu,
                    "rss_mib": rss,
                    "requests": _diff(_requests(env), before),
                }
            )
            before = _requests(env)
            wall, cpu, rss, out = _child([PYTHON, "-m", "bench.floor"], env, tmp)
            floor_runs.append(
                {
                    "seconds": wall,
                    "cpu": cpu,
                    "rss_mib": rss,
                    "requests": _diff(_requests(env), before),
                }
            )
        result["passbot"] = _median(passbot_runs)
        result["floor"] = _median(floor_runs)
        result["runs"] = {"passbot": passbot_runs, "floor": floor_runs}
        if baseline:
            before = _requests(env)
            wall, cpu, rss, out = _child(
                [PYTHON, "-m", "bench.baseline"],
                {**env, "PASSBOT_CONCURRENCY": str(baseline_concurrency)},
                tmp,
            )
            result["baseline"] = {
                "seconds": wall,
                "cpu": cpu,
                "rss_mib": rss,
                "requests": _diff(_requests(env), before),
                "missing": json.loads(out)["missing"],
            }
        return result
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (its CPU, memory and requests with it)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return dict(ordered[(len(ordered) - 1) // 2])


def _table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"passbot check vs the network floor and the scripts' baseline — {args.schools} "
        f"schools, 35 days, +{args.latency_ms} ms per request, concurrency 8, baseline "
        f"concurrency {args.baseline_concurrency}, median of {args.runs} run(s)",
        "",
        f"{'purchases':>10} {'who':>9} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9} "
        f"{'stripe':>7} {'sanity':>7} {'clerk':>6} {'total':>7}",
    ]
    for r in results:
        for who in ("passbot", "floor", "baseline"):
            if who not in r:
                continue
            f = r[who]
            q = f["requests"]
            lines.append(
                f"{r['n']:>10} {who:>9} {f['seconds']:>8.1f} {f['cpu']:>7.1f} {f['rss_mib']:>9} "
                f"{q['stripe']:>7} {q['sanity']:>7} {q['clerk']:>6} {sum(q.values()):>7}"
            )
        p, fl = r["passbot"], r["floor"]
        lines.append(
            f"{'':>10} {'÷ floor':>9} {p['seconds'] / fl['seconds']:>7.2f}× "
            f"{'':>7} {'':>9} {'':>7} {'':>7} {'':>6} "
            f"{sum(p['requests'].values()) / max(1, sum(fl['requests'].values())):>6.2f}×"
        )
        if "baseline" in r:
            b = r["baseline"]
            lines.append(
                f"{'':>10} {'baseline ÷':>9} {b['seconds'] / p['seconds']:>7.1f}× "
                f"{'':>7} {'':>9} {'':>7} {'':>7} {'':>6} "
                f"{sum(b['requests'].values()) / max(1, sum(p['requests'].values())):>6.1f}×"
            )
    lines += ["", "targets: passbot cpu ≤ 2.5 s at 10,000; passbot wall ≤ 2× the floor's"]
    for r in results:
        p, fl = r["passbot"], r["floor"]
        ratio = p["seconds"] / fl["seconds"]
        cpu = f"cpu {p['cpu']:.1f} s — {'met' if p['cpu'] <= 2.5 else 'NOT met'}; "
        lines.append(
            f"  {r['n']:>7}: {cpu if r['n'] == 10000 else ''}wall {ratio:.2f}× the floor — "
            f"{'met' if ratio <= 2 else 'NOT met'}"
        )
    lines += [
        "",
        "reproduce: .venv/bin/python -m bench.reconcile "
        f"--sizes {','.join(str(r['n']) for r in results)} --schools {args.schools} "
        f"--latency-ms {args.latency_ms} --runs {args.runs} --baseline-max {args.baseline_max} "
        f"--baseline-concurrency {args.baseline_concurrency}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--baseline-max", type=int, default=10000)
    parser.add_argument("--baseline-concurrency", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="passbot and floor runs per size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-world", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_world:  # the child that generates one world (see run_size)
        n = int(args.sizes)
        world = generate_world(seed=n, schools=args.schools, purchases=n, days=35)
        Path(args.write_world).write_text(json.dumps(world))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="passbot-bench-") as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            print(f"… {n} purchases", file=sys.stderr, flush=True)
            results.append(
                run_size(
                    n,
                    schools=args.schools,
                    latency_ms=args.latency_ms,
                    baseline=n <= args.baseline_max,
                    tmp=Path(tmp),
                    baseline_concurrency=args.baseline_concurrency,
                    runs=args.runs,
                )
            )
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2) if args.json else _table(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
