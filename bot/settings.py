"""Every setting passbot reads, by the names of cli-contract.md (Settings). Nothing else reads
the environment; secrets are SecretStr so they never reach a repr, a log or a message."""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """passbot's configuration: the environment (and a `.env` file) by the contract's names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

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
    #: The Sanity Studio's address (`https://<name>.sanity.studio`): documents on cards link there.
    passbot_studio_url: str | None = None
    #: The Clerk instance's dashboard address
    #: (`https://dashboard.clerk.com/apps/<app>/instances/<instance>`): users link there.
    passbot_clerk_dashboard_url: str | None = None

    @field_validator("passbot_lookback_days")
    @classmethod
    def _positive_days(cls, value: int) -> int:
        if value < 1:
            raise ValueError("PASSBOT_LOOKBACK_DAYS must be at least 1")
        return value

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
