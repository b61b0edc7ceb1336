"""`passbot demo`: the sandbox with the built-in world, and a walk through what passbot does —
the daily summary, `/fixpass` for one customer, an approved fix, and the audit trail."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bot import render
from bot.cli import _settings
from bot.container import build_services
from core.errors import CoreError


def _banner(title: str) -> None:
    print(f"\n{'━' * 78}\n{title}\n{'━' * 78}")


async def run_demo(world: dict[str, Any], *, world_path: str) -> int:
    """Run the demo against a sandbox seeded from `world`; returns the exit status."""
    from sandbox import start_sandbox

    demo = world.get("_demo") or {}
    box = await start_sandbox(world)
    tmp = tempfile.mkdtemp(prefix="passbot-demo-")
    try:
        env = box.settings()
        env.setdefault("PASSBOT_DB", os.environ.get("PASSBOT_DB") or str(Path(tmp) / "demo.db"))
        settings = _settings(env)
        print(f"passbot demo — sandbox at {env.get('SANDBOX_URL')} seeded from {world_path}")
        print("(Stripe, Sanity, Clerk and Slack are served on 127.0.0.1 by the sandbox; the")
        print(" real SDKs and passbot's real code talk to them over HTTP.)")
        async with build_services(settings) as services:
            _banner("1. The daily summary (09:00 in #passes): passbot check")
            report = await services.check(actor="U0APPROVER")
            print(render.render_check(report, mode=services.payments.mode))

            email = demo.get("customer") or _first_missing_email(report)
            if not email:
                print("\nNo customer with a missing pass in this world; the demo ends here.")
                return 0
            _banner(f"2. Support asks: /fixpass {email}")
            diagnosis = await services.diagnose(email, actor="U0SUPPORT")
            print(render.render_diagnosis(diagnosis))

            fixable = [f for f in diagnosis.findings if f.fix is not None and f.session]
            if not fixable:
                return 0
            session = fixable[0].session
            assert session is not None
            _banner(f"3. The confirm dialog shows exactly what will be written: fix {session}")
            preview = await services.preview_fix(session, actor="U0APPROVER")
            print(render.render_fix(preview))

            _banner("4. Ada (an approver) presses Approve: the fix is re-derived and applied")
            outcome = await services.apply_fix(
                session, actor="U0APPROVER", actor_email="ada@dance.example", source="demo"
            )
            print(render.render_fix(outcome))
            again = await services.apply_fix(session, actor="U0APPROVER", source="demo")
            print(
                "\nPressed again (a double click): "
                + ("nothing written, already fixed." if again.already_fixed else "WROTE AGAIN?!")
            )

            _banner(f"5. /fixpass {email} again")
            print(render.render_diagnosis(await services.diagnose(email, actor="U0SUPPORT")))

            _banner("6. /passaudit: who approved what")
            print(render.render_audit(services.recent_audit(5)))
            print("\nNext: `passbot check --sandbox examples/demo-world.json --json` prints the")
            print("contract's JSON; `passbot sandbox` runs the sandbox for a bot of your own.")
        return 0
    except CoreError as err:
        print(f"demo stopped: {err}")
        return 3
    finally:
        await box.close()


def _first_missing_email(report: Any) -> str | None:
    for finding in report.findings:
        if finding.kind.value == "missing_pass" and finding.email:
            return str(finding.email)
    return None
