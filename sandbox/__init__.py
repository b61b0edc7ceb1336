"""passbot's sandbox: Stripe, Sanity, Clerk and Slack served on loopback from a world file.

The services answer their real HTTP APIs, so the real SDKs (stripe-python, slack_sdk, plain httpx
for Sanity and Clerk) and the real bot code run against them unchanged. A *world*
(world-format.md) seeds the state; :meth:`Sandbox.dump_world` (``GET {SANDBOX_URL}/world``) gives
it back with what was written, what the bot said in Slack, and how many requests each service got.

This package imports nothing from ``bot``, ``handlers`` or ``core``.
"""

from __future__ import annotations

from sandbox.app import Sandbox, start_sandbox
from sandbox.cli import run_sandbox_cli
from sandbox.world import SandboxError, WorldError, check_world, load_world_file

__all__ = [
    "Sandbox",
    "SandboxError",
    "WorldError",
    "check_world",
    "load_world_file",
    "run_sandbox_cli",
    "start_sandbox",
]
