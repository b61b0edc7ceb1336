"""passbot's command line (cli-contract.md): check, diagnose, fix, audit, demo, sandbox.

Exit status: 0 ran and nothing needs attention; 1 something needs attention (a critical
finding, a refused fix); 2 bad usage or input (one line on stderr, nothing written); 3 a
service failed (named on stderr; nothing half-written).
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.preflight import (
    SANDBOX_KEYS,
    VersionAction,
    check_output,
    days,
    load_settings,
    load_world,
    port,
)
from core.errors import CoreError, NotFoundError, RefusedError, UpstreamError, UsageError

# Everything heavier (pydantic, stripe, httpx, the use cases) is imported by the command that
# needs it: `passbot --help` and a usage error load only this module and bot.preflight
# (bench/startup.py).
if TYPE_CHECKING:
    from bot.serve import ServeChecks
    from bot.settings import Settings
    from core.usecases.services import Services

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GLOBAL_FLAGS = ("--json", "--sandbox", "--dump-world", "--as")

#: The commands that do one piece of work and exit (not `serve`, `sandbox` or `shell`, which run
#: until stopped).
ONE_SHOT = frozenset({"check", "diagnose", "fix", "audit", "health", "job", "demo"})
#: The cycle collector's thresholds while a one-shot command runs as the program (CPython's
#: default is 700, 10, 10). A `check` allocates millions of short-lived objects: at the default
#: the collector runs ~900 times, and its passes over everything alive cost ~20 % of the CPU at
#: 10,000 purchases, and ~0.05 s of starting up. Cyclic garbage now waits for 50,000 new objects
#: instead of 700: more memory held, bounded by the threshold, not by the number of purchases
#: (bench/startup.py, bench/reconcile.py).
ONE_SHOT_GC = (50_000, 10, 10)
#: Modules that libraries import only to offer what passbot never uses, kept out of the process
#: when it is the command (`None` in `sys.modules` makes their import fail, and the importer falls
#: back as it would without them installed). httpx's package loads its own command line whenever
#: click, rich and pygments are installed (the dev tools bring them): ~0.1 s of every start. The
#: stripe SDK loads requests (~0.05 s) only to pick a default synchronous client; passbot gives
#: it an httpx client, and a one-shot command makes no other use of requests.
UNUSED_ALWAYS = ("httpx._main",)
UNUSED_ONE_SHOT = ("requests",)


class _Parser(argparse.ArgumentParser):
    """argparse that fails with exit status 2 and one line, as the contract asks."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


def _globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False
    )
    parser.add_argument("--sandbox", metavar="WORLD.json", default=default)
    parser.add_argument("--dump-world", metavar="OUT.json", default=default)
    parser.add_argument("--as", dest="actor", metavar="SLACK_USER_ID", default=default)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; global options work before or after the command."""
    parser = _Parser(prog="passbot", description="Paid but no pass? passbot finds and fixes it.")
    parser.add_argument("--version", action=VersionAction, help="print the version and exit")
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="one reconciliation over the last N days")
    check.add_argument("--days", type=days)
    check.add_argument("--tenant", metavar="SLUG")
    diagnose = sub.add_parser("diagnose", help="everything about one customer")
    diagnose.add_argument(
        "email",
        metavar="QUERY",
        nargs="+",
        help="an email, a cs_/pi_/ch_ id, a Sanity subscription or user id, a Clerk id, a name",
    )
    diagnose.add_argument("--days", type=days)
    fix = sub.add_parser("fix", help="the fix for one paid Checkout Session")
    fix.add_argument("session_id")
    fix.add_argument("--yes", action="store_true", help="apply it (default: preview)")
    dates = fix.add_mutually_exclusive_group()
    dates.add_argument(
        "--start-today",
        action="store_true",
        help="count the validity from today instead of the purchase (when offered)",
    )
    dates.add_argument(
        "--keep-dates",
        action="store_true",
        help="write a late pass as purchased, though it has ended (a record only)",
    )
    sub.add_parser("audit", help="the fixes passbot applied, newest first")
    demo = sub.add_parser("demo", help="the built-in demo against the sandbox")
    demo.add_argument("--world", default=str(EXAMPLES / "demo-world.json"))
    sandbox = sub.add_parser("sandbox", help="run the sandbox and print its settings")
    sandbox.add_argument("--world", default=str(EXAMPLES / "demo-world.json"))
    sandbox.add_argument("--latency-ms", type=int, default=0)
    health = sub.add_parser("health", help="webhook and configuration health")
    job = sub.add_parser("job", help="one scheduled job now: a preview, or posted with --post")
    job.add_argument("name", choices=["summary", "sweep", "health", "early_warning"])
    job.add_argument(
        "--post", action="store_true", help="post to PASSBOT_CHANNEL and claim the period"
    )
    job.add_argument("--force", action="store_true", help="with --post: post even if claimed")
    job.add_argument(
        "--chart", metavar="OUT.png", help="sweep: also write the 35-day chart as a PNG"
    )
    serve = sub.add_parser("serve", help="run the Slack bot (Socket Mode; --http for HTTP)")
    serve.add_argument("--http", action="store_true", help="serve /slack/events and /healthz")
    serve.add_argument("--port", type=port, help="HTTP mode's port (default: PORT, else 3000)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="HTTP mode's address (default: loopback)"
    )
    shell = sub.add_parser("shell", help="the Slack app in a terminal, against the sandbox")
    shell.add_argument("--world", default=str(EXAMPLES / "demo-world.json"))
    for child in (check, diagnose, fix, sub.choices["audit"], demo, sandbox, health, job):
        _globals(child, suppress=True)
    for child in (serve, shell):
        _globals(child, suppress=True)
    return parser


def _load_world(path: str) -> dict[str, Any]:
    return load_world(path)


@asynccontextmanager
async def _environment(args: argparse.Namespace) -> AsyncIterator[Settings]:
    """Settings from the environment, or from a sandbox started for this command."""
    if not args.sandbox:
        yield _env_settings(args)
        return
    from sandbox import start_sandbox  # the sandbox is only needed with --sandbox

    world = getattr(args, "world_data", None) or _load_world(args.sandbox)
    box = await start_sandbox(world)
    try:
        yield _settings(box.settings())
    finally:
        try:
            if args.dump_world:
                state = await box.dump_world()
                Path(args.dump_world).write_text(json.dumps(state, indent=1), encoding="utf-8")
        finally:
            await box.close()


def _settings(overrides: dict[str, str]) -> Settings:
    return load_settings(overrides)


def _env_settings(args: argparse.Namespace) -> Settings:
    """The environment's settings: those `_preflight` read, when it read them as they are."""
    settings: Settings | None = getattr(args, "env_settings", None)
    return settings if settings is not None else _settings({})


#: A Slack user id (`U…`, or `W…` on Enterprise Grid): what `--as` takes.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None) is not None:
        value = str(args.actor)
        if not SLACK_USER_ID.fullmatch(value):
            shown = value if len(value) <= 40 else value[:37] + "…"
            raise UsageError(f"--as takes a Slack user id (U… or W…), got {shown!r}")
        return value
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """JSON as is; text for people: in PASSBOT_TIMEZONE (named once), no internal codes."""
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return
    from handlers.blocks.wording import local_text

    try:
        tz: tzinfo = ZoneInfo(_env_settings(args).passbot_timezone)
    except (KeyError, ValueError, UsageError):  # a bad zone is reported where it is used
        tz = UTC
    print(local_text(text, tz))


def _progress(args: argparse.Namespace) -> Callable[[str, int], None] | None:
    if args.json or not sys.stderr.isatty():
        return None

    def show(label: str, total: int) -> None:
        print(f"\rreading Stripe… {total} sessions ({label})   ", end="", file=sys.stderr)

    return show


async def _check(args: argparse.Namespace, services: Services, settings: Settings) -> int:
    from bot import render
    from core.domain.reconcile import report_json

    report = await services.check(
        days=args.days, tenant=args.tenant, actor=_actor(args), progress=_progress(args)
    )
    if _progress(args):
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    mode = services.payments.mode
    text = render.render_check(report, mode=mode, tz=ZoneInfo(settings.passbot_timezone))
    _emit(args, report_json(report, mode=mode), text)
    return 1 if report.needs_attention else 0


async def _diagnose(args: argparse.Namespace, services: Services, settings: Settings) -> int:
    """`diagnose QUERY`: an email, a Stripe, Sanity or Clerk id, or a name; several customers
    found are listed to pick from (exit 1: a choice is needed)."""
    from bot.lookup_cli import diagnose_command

    return await diagnose_command(args, services, settings, actor=_actor(args), emit=_emit)


async def _fix(args: argparse.Namespace, services: Services, _settings: Settings) -> int:
    from bot import render

    alternative = "start_today" if args.start_today else "keep_dates" if args.keep_dates else None
    actor = _actor(args)
    if args.yes:
        try:
            outcome = await services.apply_fix(
                args.session_id, actor=actor, alternative=alternative
            )
        except RefusedError as err:
            data = {
                "session": args.session_id.strip(),
                "applied": False,
                "already_fixed": False,
                "created": [],
                "patched": [],
                "deactivated": [],
                "document": None,
                "refused": str(err),
            }
            _emit(args, data, f"Refused: {err}")
            return 1
    else:
        outcome = await services.preview_fix(args.session_id, actor=actor, alternative=alternative)
    _emit(args, outcome.to_json(), render.render_fix(outcome))
    return 1 if outcome.plan.refused else 0


def _audit(args: argparse.Namespace) -> int:
    """The audit log needs only passbot's own store, not the services."""
    from bot import render
    from core.adapters.store import open_store

    store = open_store(_env_settings(args).passbot_db)
    try:
        entries = store.recent(50)
    finally:
        store.close()
    _emit(args, render.audit_json(entries), render.render_audit(entries))
    return 0


#: A SIGTERM or SIGINT stops `serve` within this many seconds, whatever it was doing.
STOP_SECONDS = 9.0


async def _serve(
    args: argparse.Namespace, settings: Settings, services: Services, checks: ServeChecks
) -> int:
    """`passbot serve`: until SIGINT or SIGTERM, then at most STOP_SECONDS to wind down."""
    import asyncio
    import signal

    from bot.serve import run_serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(
        run_serve(
            settings,
            services,
            http=args.http,
            host=args.host,
            port=args.port,
            stop=stop,
            announce=lambda line: print(line, file=sys.stderr),
            checks=checks,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not running.done():  # stopping: however it is stuck (connecting, reconnecting, a run)
        await asyncio.wait({running}, timeout=STOP_SECONDS)
    if not running.done():
        running.cancel()
        await asyncio.wait({running}, timeout=0.5)
        print(f"passbot: stopped after {STOP_SECONDS:.0f} s of winding down", file=sys.stderr)
        return 0
    return running.result()


async def _shell(args: argparse.Namespace) -> int:
    """`passbot shell`: the app driven from this terminal against a sandbox."""
    from bot.shell import line_reader, run_shell

    return await run_shell(
        _load_world(args.world),
        make_settings=_settings,
        user=args.actor,
        out=sys.stdout,
        read=line_reader(sys.stdin, sys.stdout),
        dump_to=args.dump_world,
    )


Command = Callable[[argparse.Namespace, "Services", "Settings"], Coroutine[Any, Any, int]]
COMMANDS: dict[str, Command] = {
    "check": _check,
    "diagnose": _diagnose,
    "fix": _fix,
}


async def _run(args: argparse.Namespace) -> int:
    _actor(args)  # a bad --as is refused before anything starts
    if args.command == "audit" and not args.sandbox:
        return _audit(args)
    if args.command == "demo":
        from bot.demo import run_demo

        return await run_demo(
            _load_world(args.world), world_path=args.world, make_settings=_settings
        )
    if args.command == "shell":
        return await _shell(args)
    from bot.container import build_services

    async with _environment(args) as settings:
        if args.command == "audit":
            return _audit(args)
        if args.command == "serve":
            from bot.serve import preflight_serve

            # Slack's answers and the port before anything is built (or PASSBOT_DB written).
            args.port = args.port if args.port is not None else settings.port or 3000
            checks = await preflight_serve(settings, http=args.http, host=args.host, port=args.port)
            async with build_services(settings) as services:
                return await _serve(args, settings, services, checks)
        if args.command in ("health", "job"):
            from bot.jobs_cli import health_command, job_command

            return await (health_command if args.command == "health" else job_command)(
                args, settings
            )
        async with build_services(settings) as services:
            return await COMMANDS[args.command](args, services, settings)


def _preflight(args: argparse.Namespace) -> None:
    """Check every setting and argument before anything runs; start logging.

    Raises:
        UsageError: one of them is bad.
    """
    from bot.logs import configure_logging

    check_output(args.dump_world)
    sandboxed = bool(args.sandbox) or args.command in ("demo", "shell")
    settings = load_settings({}, provided=SANDBOX_KEYS if sandboxed else ())
    # Read once: without a sandbox these are the settings every later step would read again
    # (with one, a bad value of a key the sandbox replaces was set aside here, so not these).
    args.env_settings = None if sandboxed else settings
    if args.sandbox:
        args.world_data = load_world(args.sandbox)
    elif args.command in ("demo", "shell"):
        load_world(args.world)
    # `serve` logs at INFO by default; the other commands print their answer (and a failure's
    # one line), so they log only errors unless PASSBOT_LOG_LEVEL asks for more.
    explicit = "passbot_log_level" in settings.model_fields_set
    level = settings.passbot_log_level if explicit or args.command == "serve" else "ERROR"
    configure_logging(level, settings.passbot_log_format)


def _leave_out(modules: tuple[str, ...]) -> None:
    """Keep `modules` from being imported later in this process (see UNUSED_ALWAYS); one already
    imported stays as it is."""
    for name in modules:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `passbot` console script (and of `python -m bot`).

    `argv` None means this process is the command (the console script, `python -m bot`): then it
    leaves out the modules it never uses (UNUSED_ALWAYS, and UNUSED_ONE_SHOT for a one-shot
    command), and a one-shot command sets the cycle collector's thresholds (ONE_SHOT_GC). A
    caller passing `argv` keeps its own process as it is.
    """
    try:
        args = build_parser().parse_args(argv)
        if argv is None:
            _leave_out(UNUSED_ALWAYS)
            if args.command in ONE_SHOT:
                gc.set_threshold(*ONE_SHOT_GC)
                _leave_out(UNUSED_ONE_SHOT)
        if args.command == "sandbox":
            from sandbox import run_sandbox_cli

            return run_sandbox_cli(args.world, args.dump_world, latency_ms=args.latency_ms)
        _preflight(args)
        import asyncio

        return asyncio.run(_run(args))
    except (UsageError, NotFoundError) as err:
        print(f"passbot: {err}", file=sys.stderr)
        return 2
    except RefusedError as err:
        print(f"passbot: refused: {err}", file=sys.stderr)
        return 1
    except UpstreamError as err:
        print(f"passbot: {err}", file=sys.stderr)
        return 3
    except CoreError as err:
        print(f"passbot: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
