"""The Node process that serves the sandbox's Sanity (``sandbox/sanity/server.mjs``).

It is started with its standard input on a pipe: when this process ends, the pipe closes and Node
exits (it also exits when its parent process changes), so it never outlives the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import IO, Any

import aiohttp

from sandbox.world import SandboxError, WorldError

SANITY_DIR = Path(__file__).parent / "sanity"
SERVER = SANITY_DIR / "server.mjs"
_START_TIMEOUT = 20.0


class SanityNode:
    """A running ``server.mjs``: its address, and its private ``/_sandbox/`` routes."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self._process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(
            base_url=self.url,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    @classmethod
    async def start(cls) -> SanityNode:
        """Start Node and wait until it listens.

        Raises:
            SandboxError: Node is not installed, ``npm ci`` has not been run in
                ``sandbox/sanity``, or the server did not start.
        """
        node = shutil.which("node")
        if node is None:
            raise SandboxError(
                "the Sanity sandbox needs Node.js 20 or later, and `node` is not on PATH"
            )
        if (
            not (SANITY_DIR / "node_modules" / "groq-js").is_dir()
            or not (SANITY_DIR / "node_modules" / "@sanity" / "mutator").is_dir()
        ):
            raise SandboxError(
                f"{SANITY_DIR / 'node_modules'} is missing or incomplete: run "
                "`npm ci` in sandbox/sanity (./dev setup does it)"
            )
        process = _spawn(node)
        stdout: IO[bytes] | None = process.stdout
        if stdout is None:  # pragma: no cover - Popen with stdout=PIPE always sets it
            raise SandboxError("could not read the Sanity sandbox's output")
        try:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), _START_TIMEOUT)
        except TimeoutError:
            _stop(process)
            raise SandboxError("the Sanity sandbox (node server.mjs) did not start") from None
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("LISTENING "):
            code = _stop(process)
            raise SandboxError(
                f"the Sanity sandbox (node server.mjs) failed to start (exit status {code})"
            )
        return cls(process, int(text.split()[1]))

    async def load(self, payload: dict[str, Any]) -> None:
        """Replace the documents, settings and faults of the Sanity server.

        Raises:
            WorldError: the server refused the documents (a missing or duplicate ``_id``).
        """
        body = json.dumps(payload).encode("utf-8")
        async with self._session.post(
            "/_sandbox/load", data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        ) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                raise WorldError(str(error.get("description") or answer))

    async def write(self, documents: list[dict[str, Any]]) -> None:
        """Create documents that do not exist yet, as another client (the platform's webhook)
        would: not counted in ``requests``; system fields (``_rev``, times) set by the server."""
        body = json.dumps({"documents": documents}).encode("utf-8")
        async with self._session.post(
            "/_sandbox/write", data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        ) as response:
            response.raise_for_status()

    async def dump(self) -> dict[str, Any]:
        """The documents, request counts and fault counts of the Sanity server."""
        async with self._session.get("/_sandbox/dump") as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json(content_type=None)
            return answer

    async def requests(self) -> dict[str, int]:
        """The Sanity server's request counts alone (cheap whatever the dataset's size)."""
        async with self._session.get("/_sandbox/requests") as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json(content_type=None)
            return dict(answer.get("requests", {}))

    async def queries(self) -> list[dict[str, Any]]:
        """The latest queries the Sanity server received (text and params), oldest first."""
        async with self._session.get("/_sandbox/queries") as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json(content_type=None)
            return list(answer.get("queries", []))

    async def close(self) -> None:
        """Stop Node (closing its stdin makes it exit) and release everything."""
        await self._session.close()
        await asyncio.to_thread(_stop, self._process)


def _spawn(node: str) -> subprocess.Popen[bytes]:
    """Start ``node server.mjs`` on a free port, its stdin and stdout on pipes."""
    return subprocess.Popen(  # noqa: S603 - our own fixed program, no shell
        [node, str(SERVER), "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=SANITY_DIR,
        # Its own session: a Ctrl-C in the terminal reaches only Python, which still needs Node
        # to dump the world before it stops it.
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """End ``process`` gently (stdin EOF), then firmly; close its pipes; its exit status."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode
