"""Every setting passbot reads, by the names of cli-contract.md (Settings). Nothing else reads
the environment; secrets are SecretStr so they never reach a repr, a log or a message."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The most days a reconciliation may look back (`--days`, PASSBOT_LOOKBACK_DAYS): ten years.
MAX_DAYS = 3650
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
_API_VERSION = re.compile(r"v(?:1|X|\d{4}-\d{2}-\d{2})")


def check_url(value: str) -> str:
    """An http(s) URL with a host (and a valid port), or ValueError saying what is wrong."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"not a URL: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {value!r}")
    del port
    return value


def check_port(value: int | None) -> int | None:
    """A TCP port, 1–65535 (None: not set)."""
    if value is not None and not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a TCP port (1-65535)")
    return value


class Settings(BaseSettings):
    """passbot's configuration: the environment (and a `.env` file) by the contract's names."""

    # An empty value counts as not set (cli-contract.md, Settings).
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"

    sanity_project_id: str | None = None
    sanity_dataset: str = "production"
    sanity_api_token: SecretStr | None = None
    sanity_api_host: str | None = None
    sanity_api_version: str = "v2025-02-19"

    clerk_secret_key: SecretStr | None = None
    clerk_api_url: str = "https://api.clerk.com/v1"

    passbot_webhook_url: str | None = None
    #: Where `health` actually sends its probe; defaults to PASSBOT_WEBHOOK_URL (the sandbox
    #: sets it to its own stand-in for the platform's endpoint).
    passbot_webhook_probe_url: str | None = None
    passbot_channel: str | None = None
    passbot_approvers: str = ""
    passbot_two_person: bool = False
    passbot_timezone: str = "Europe/Oslo"
    passbot_lookback_days: int = 35
    passbot_autofix: bool = False
    passbot_db: str = "passbot.db"
    #: A fixed "now" (the sandbox's world clock); absent: the wall clock.
    passbot_now: datetime | None = None
    #: How many Stripe accounts are read at once.
    passbot_concurrency: int = 8
    #: Logging: a level, and `text` (one line, key=value) or `json` (one object a line).
    passbot_log_level: str = "INFO"
    passbot_log_format: str = "text"
    #: In Socket Mode, where `/healthz`, `/readyz` and `/metrics` are served (off when unset).
    passbot_health_port: int | None = None
    #: HTTP mode's port when `--port` is not given (platforms that assign one set PORT).
    port: int | None = None
    #: The Sanity Studio's address (`https://<name>.sanity.studio`): documents on cards link there.
    passbot_studio_url: str | None = None
    #: The Clerk instance's dashboard address
    #: (`https://dashboard.clerk.com/apps/<app>/instances/<instance>`): users link there.
    passbot_clerk_dashboard_url: str | None = None
    #: The watch: seconds between reads of Stripe's Events API (one request per account).
    passbot_watch_interval: float = 60.0
    #: The watch: seconds after payment a purchase may go without its pass before it is posted.
    passbot_watch_grace: float = 180.0
    #: Verifies Stripe's signature on `POST /stripe/webhook` (HTTP mode; `whsec_…`).
    passbot_stripe_webhook_secret: SecretStr | None = None

    @field_validator("passbot_lookback_days")
    @classmethod
    def _days(cls, value: int) -> int:
        if not 1 <= value <= MAX_DAYS:
            raise ValueError(f"must be 1 to {MAX_DAYS} days")
        return value

    @field_validator("passbot_watch_interval", "passbot_watch_grace")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be a number of seconds greater than 0")
        return value

    @field_validator("passbot_concurrency")
    @classmethod
    def _concurrency(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise ValueError("must be 1 to 64")
        return value

    @field_validator(
        "slack_api_url",
        "stripe_api_base",
        "sanity_api_host",
        "clerk_api_url",
        "passbot_webhook_url",
        "passbot_webhook_probe_url",
        "passbot_studio_url",
        "passbot_clerk_dashboard_url",
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value) if value is not None else None

    @field_validator("passbot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"not a time zone: {value!r} (e.g. Europe/Oslo)") from None
        return value

    @field_validator("sanity_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.fullmatch(value):
            raise ValueError(f"not a Sanity API version: {value!r} (e.g. v2025-02-19)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("not an app-level token (they start with xapp-)")
        return value

    @field_validator("passbot_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"not a log level: {value!r} (one of {', '.join(LOG_LEVELS)})")
        return value.upper()

    @field_validator("passbot_log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"not a log format: {value!r} (text or json)")
        return value.lower()

    @field_validator("passbot_health_port", "port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        return check_port(value)

    @property
    def approvers(self) -> frozenset[str]:
        """Slack user ids and user-group ids allowed to approve fixes."""
        return frozenset(part.strip() for part in self.passbot_approvers.split(",") if part.strip())

    @property
    def sanity_host(self) -> str | None:
        """Sanity's API base: the setting, else `https://<project>.api.sanity.io` (no CDN)."""
        if self.sanity_api_host:
            return self.sanity_api_host.rstrip("/")
        if self.sanity_project_id:
            return f"https://{self.sanity_project_id}.api.sanity.io"
        return None

    def missing(self, *names: str) -> list[str]:
        """Which of these settings (by field name) are unset, as environment variable names."""
        return [name.upper() for name in names if getattr(self, name) in (None, "")]
