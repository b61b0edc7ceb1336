"""Issue 11 §5 through the command line: a key other than the world's is refused by the
sandbox as the real service refuses it, so passbot's "key refused" paths run without injected
faults — `passbot check` against a sandbox, configured from the environment as in production."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox import Sandbox, start_sandbox
from tests.e2e.test_cli import TINY

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPO = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(TINY)
    try:
        yield sandbox
    finally:
        await sandbox.close()


async def _passbot(box: Sandbox, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    settings = {k: v for k, v in box.settings().items() if k != "SANDBOX_URL"}
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PASSBOT_DB": str(tmp_path / "passbot.db"),
        **settings,
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=tmp_path, env=environ,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_worlds_keys_work(box: Sandbox, tmp_path: Path) -> None:
    code, _, err = await _passbot(box, tmp_path, "check", "--json")
    assert code == 1, err  # Ola's missing pass


async def test_a_stripe_key_that_is_not_the_worlds_is_refused(box: Sandbox, tmp_path: Path):
    code, out, err = await _passbot(box, tmp_path, "check", STRIPE_API_KEY="rk_test_" + "z" * 24)
    assert code == 3, (out, err)
    assert err.startswith("passbot: Stripe:")
    assert "check the key's access" in err
    assert "zzzz" not in err  # the key is never shown


async def test_a_sanity_token_that_is_not_the_worlds_is_refused(box: Sandbox, tmp_path: Path):
    code, out, err = await _passbot(box, tmp_path, "check", SANITY_API_TOKEN="sk-someone-else")
    assert code == 3, (out, err)
    assert err.startswith("passbot: Sanity:")
    assert "someone-else" not in err


async def test_a_clerk_key_that_is_not_the_worlds_is_refused(box: Sandbox, tmp_path: Path):
    code, out, err = await _passbot(
        box, tmp_path, "diagnose", "ola.hansen177@example.com", CLERK_SECRET_KEY="sk_test_other"
    )
    assert code == 3, (out, err)
    assert err.startswith("passbot: Clerk:")


async def test_an_api_version_that_is_not_a_date_is_refused(box: Sandbox, tmp_path: Path):
    """The sandbox's Sanity refuses `v2025-13-45` as Sanity does; passbot names Sanity (exit 3),
    or — should the setting itself be validated first — refuses the setting (exit 2)."""
    code, out, err = await _passbot(box, tmp_path, "check", SANITY_API_VERSION="v2025-13-45")
    assert code in (2, 3), (out, err)
    assert "Sanity" in err or "SANITY_API_VERSION" in err
    assert err.count("\n") == 1
