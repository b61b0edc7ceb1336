"""The shell's input: a line at a time without blocking the event loop; on a terminal through
readline, so that Tab completes commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

Reader = Callable[[str], Awaitable[str | None]]


#: What Tab completes: the slash commands, the shell's own words, the jobs.
COMPLETIONS = (
    "/fixpass ",
    "/passcheck ",
    "/passaudit ",
    "/passhealth",
    "/passstats",
    "run summary",
    "run sweep",
    "run early_warning",
    "run health",
    "as ",
    "in ",
    "help",
    "quit",
)


def complete(text: str, state: int) -> str | None:
    """readline's completer: the `state`-th completion of `text` (None past the last)."""
    found = [c for c in COMPLETIONS if c.startswith(text)]
    return found[state] if state < len(found) else None


def _tab_completion() -> bool:
    """Tab completes commands on a terminal (readline, where the platform has it)."""
    try:
        import readline
    except ImportError:  # no readline on this platform: lines are read without completion
        return False
    readline.set_completer_delims("\n")  # a whole line is one word: "run sw" → "run sweep"
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")
    return True


def line_reader(stream: TextIO, out: TextIO) -> Reader:
    """Read a line at a time without blocking the event loop; None at the end of input. On a
    terminal, lines are read with readline: Tab completes commands, arrows recall history."""
    if stream.isatty() and stream is sys.stdin and _tab_completion():

        async def read_tty(prompt: str) -> str | None:
            try:
                return await asyncio.to_thread(input, prompt)
            except EOFError:
                out.write("\n")
                return None

        return read_tty

    async def read(prompt: str) -> str | None:
        out.write(prompt)
        out.flush()
        line = await asyncio.to_thread(stream.readline)
        if not line:
            out.write("\n")
            return None
        if not stream.isatty():
            out.write(line if line.endswith("\n") else line + "\n")  # echo scripted input
        return line.rstrip("\n")

    return read
