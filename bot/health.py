"""`passbot health` (and the monthly job, and `/passhealth`): settings → plain config facts, the
health use case built through the composition root, and the report as text."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.container import REQUIRED_FOR_SERVICES, SystemClock, build_health, build_services
from bot.settings import Settings
from core.domain.health import ConfigFacts, HealthReport, config_only_report
from core.usecases.health import HealthConfig

#: Settings the Slack bot needs and health does not: named in `config`, never failing it.
OPTIONAL_FOR_HEALTH = (
    "slack_bot_token",
    "slack_app_token",
    "slack_signing_secret",
    "passbot_channel",
    "passbot_approvers",
)


def _bad_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    return None


def config_facts(settings: Settings) -> ConfigFacts:
    """What is missing or malformed, by environment variable name.

    Required: what building the services needs, and PASSBOT_WEBHOOK_URL (health's webhook
    checks need it). Malformed: a Stripe key that is not a secret or restricted key, Sanity's
    CDN as the API host, a webhook URL that is not http(s). A bad PASSBOT_TIMEZONE is named
    but does not fail health (only the scheduler needs it).
    """
    missing = settings.missing(*REQUIRED_FOR_SERVICES, "passbot_webhook_url")
    malformed: list[tuple[str, str]] = []
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
    if key and not key.startswith(("sk_", "rk_")):
        malformed.append(("STRIPE_API_KEY", "is not a secret (sk_) or restricted (rk_) key"))
    if settings.sanity_host and "apicdn.sanity.io" in settings.sanity_host:
        malformed.append(("SANITY_API_HOST", "points at Sanity's CDN; use the API host"))
    for name, value in (
        ("PASSBOT_WEBHOOK_URL", settings.passbot_webhook_url),
        ("PASSBOT_WEBHOOK_PROBE_URL", settings.passbot_webhook_probe_url),
    ):
        if why := _bad_url(value):
            malformed.append((name, why))
    optional = settings.missing(*OPTIONAL_FOR_HEALTH)
    try:
        ZoneInfo(settings.passbot_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        optional.append(f"PASSBOT_TIMEZONE (unknown zone {settings.passbot_timezone!r})")
    return ConfigFacts(
        missing_required=tuple(missing),
        malformed=tuple(malformed),
        missing_optional=tuple(optional),
    )


def health_config(settings: Settings) -> HealthConfig:
    """The plain values the health use case needs."""
    return HealthConfig(
        webhook_url=settings.passbot_webhook_url,
        probe_url=settings.passbot_webhook_probe_url,
        config=config_facts(settings),
    )


def _blocking(facts: ConfigFacts) -> bool:
    """The services cannot be built (anything but a missing or bad webhook URL)."""
    webhook = {"PASSBOT_WEBHOOK_URL", "PASSBOT_WEBHOOK_PROBE_URL"}
    return bool(set(facts.missing_required) - webhook) or any(
        name not in webhook for name, _ in facts.malformed
    )


def _mode(settings: Settings) -> str:
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
    if key.startswith(("sk_live_", "rk_live_")):
        return "live"
    return "test" if key.startswith(("sk_test_", "rk_test_")) else "unknown"


async def run_health(settings: Settings) -> HealthReport:
    """Every check against the services the settings point at.

    When a setting the services need is missing or malformed, only `config` is judged and the
    other checks are reported as not checked.
    """
    config = health_config(settings)
    if _blocking(config.config):
        now = settings.passbot_now or SystemClock().now()
        return config_only_report(config.config, mode=_mode(settings), now=now)
    async with build_services(settings) as services, build_health(settings, services) as health:
        return await health.run(config)


def exit_status(report: HealthReport) -> int:
    """0 every check ok; 1 a check failed; 3 a service failed outright."""
    if report.service_errors:
        return 3
    return 0 if report.ok else 1


def render_health(report: HealthReport) -> str:
    """The report as text, one check a line (the detail wrapped under it)."""
    width = max(len(c.name) for c in report.checks)
    when = report.checked_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"passbot health — {report.mode} mode — {when}", ""]
    for check in report.checks:
        mark = "ok " if check.ok else ("-- " if check.skipped else "XX ")
        tag = "" if check.ok else f"[{check.severity}] "
        lines.append(f"{mark} {check.name.ljust(width)}  {tag}{check.detail}")
    failures = len(report.failures)
    lines.append("")
    if failures:
        lines.append(f"{failures} of {len(report.checks)} checks failed.")
    else:
        lines.append(f"All {len(report.checks)} checks passed.")
    lines += [f"service failure: {err}" for err in report.service_errors]
    return "\n".join(lines)
