"""`passbot demo`: the sandbox with the built-in world, and a scripted Slack session through the
real app — the 09:00 summary, `/fixpass` for a customer who paid and got nothing, an approval,
and the audit trail — printing what the bot posts, as `passbot shell` renders it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bot.settings import Settings
from bot.shell import Reader, run_shell

INTRO = """passbot demo — two dance schools on their own Stripe Connect accounts, 300 purchases over
35 days, a dozen of them gone wrong. Stripe, Sanity, Clerk and Slack are served on 127.0.0.1 by
the sandbox; passbot's real Slack app and the real SDKs talk to them over HTTP. What follows is a
Slack session, typed by a script: what the bot posts is shown as `passbot shell` shows it.
"""

STEPS: list[tuple[str | None, str]] = [
    ("1. 09:00 — the scheduler posts the daily summary to #passes", "run summary"),
    ("2. A customer writes: she paid and has no pass. Support asks passbot", "/fixpass {email}"),
    # [1] is "Not a problem" beside the finding; [2] approves its fix.
    ("3. An approver presses Approve; the confirm dialog says what will be written", "2"),
    (None, "y"),
    ("4. Who approved what: /passaudit", "/passaudit"),
]


def scripted(email: str, out: Any) -> Reader:
    """A shell reader that types the demo's steps, with a heading before each."""
    lines = [(title, text.format(email=email)) for title, text in STEPS]

    async def read(prompt: str) -> str | None:
        if not lines:
            return None
        title, text = lines.pop(0)
        if title:
            out.write(f"\n{'━' * 78}\n{title}\n{'━' * 78}\n")
        out.write(f"{prompt}{text}\n")
        return text

    return read


async def run_demo(
    world: dict[str, Any], *, world_path: str, make_settings: Callable[[dict[str, str]], Settings]
) -> int:
    """Run the demo against a sandbox seeded from `world`; returns the exit status."""
    out = sys.stdout
    email = (world.get("_demo") or {}).get("customer") or "kari.nordmann@example.com"
    out.write(INTRO + f"(world: {world_path})\n\n")
    code = await run_shell(
        world, make_settings=make_settings, user=None, out=out, read=scripted(email, out)
    )
    out.write(
        "\nNext: `./dev passbot shell` to type yourself; `./dev passbot check --sandbox "
        "examples/demo-world.json --json` for the contract's JSON; README.md for the rest.\n"
    )
    return code
