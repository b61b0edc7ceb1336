"""Everything the command line checks before anything runs (cli-contract.md, Settings): the
settings, the `.env` file, day counts, ports, world files and where `--dump-world` writes. A bad
one is a `UsageError`: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.errors import UsageError

if TYPE_CHECKING:
    from bot.settings import Settings

#: The settings a sandbox provides (`Sandbox.settings()`): with `--sandbox`, `demo` and `shell`
#: the environment's values of these are replaced, so they are not held against it.
SANDBOX_KEYS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "SANITY_PROJECT_ID",
        "SANITY_DATASET",
        "SANITY_API_TOKEN",
        "SANITY_API_HOST",
        "SANITY_API_VERSION",
        "CLERK_SECRET_KEY",
        "CLERK_API_URL",
        "PASSBOT_WEBHOOK_URL",
        "PASSBOT_WEBHOOK_PROBE_URL",
        "PASSBOT_NOW",
    }
)


def load_settings(overrides: Mapping[str, str], *, provided: Collection[str] = ()) -> Settings:
    """The settings: the environment and `.env`, with `overrides` (by variable name) on top.

    `provided` names settings that something else will supply (a sandbox): a bad value of one
    of those in the environment is ignored, and the defaults stand in for them.

    Raises:
        UsageError: a setting is malformed, or `.env` cannot be read as text.
    """
    from pydantic import ValidationError  # here, not at the top: `--help` needs neither

    from bot.settings import Settings

    fields = set(Settings.model_fields)
    kwargs = {k.lower(): v for k, v in overrides.items() if k.lower() in fields}
    try:
        return Settings(**cast(dict[str, Any], kwargs))
    except ValidationError as err:
        wrong = [e for e in err.errors() if _name(e) not in provided]
        if wrong:
            raise UsageError(_explain(wrong[0])) from None
        # Only settings the sandbox replaces are bad: their defaults stand in until it does.
        for e in err.errors():
            name = _name(e).lower()
            kwargs[name] = Settings.model_fields[name].default
        return Settings(**cast(dict[str, Any], kwargs))
    except UnicodeDecodeError:
        raise UsageError(".env is not text (UTF-8): fix or remove it") from None
    except OSError as err:
        raise UsageError(f"cannot read .env: {err.strerror or err}") from None


def _name(error: Mapping[str, Any]) -> str:
    return ".".join(str(p) for p in error.get("loc", ())).upper() or "settings"


def _explain(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or "invalid").removeprefix("Value error, ")
    return f"bad setting {_name(error)}: {message}"


def days(text: str) -> int:
    """`--days N`: 1 to MAX_DAYS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    from bot.settings import MAX_DAYS

    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_DAYS} days, not {value}")
    return value


def port(text: str) -> int:
    """`--port N`: 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


def check_output(path: str | None, *, flag: str = "--dump-world") -> None:
    """`path` can be written: its folder exists, and it is not itself a folder."""
    if not path:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: no such folder {folder}")
    if target.is_dir():
        raise UsageError(f"{flag} {path} is a folder")


def load_world(path: str) -> dict[str, Any]:
    """A world file, read and checked against world-format.md.

    Raises:
        UsageError: it cannot be read, is not JSON, or is not a world.
    """
    from sandbox import WorldError, load_world_file  # only needed with a world

    try:
        return load_world_file(path)
    except WorldError as err:
        text = str(err)
        raise UsageError(text if path in text else f"world file {path}: {text}") from None


def package_version() -> str:
    """passbot's installed version."""
    from importlib.metadata import PackageNotFoundError, version  # for --version only

    try:
        return version("passbot")
    except PackageNotFoundError:
        return "unknown"


class VersionAction(argparse.Action):
    """`--version`: print `passbot X.Y.Z` and exit 0 (the version looked up only then)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", 0)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        sys.stdout.write(f"passbot {package_version()}\n")
        parser.exit()
