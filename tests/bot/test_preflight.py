"""Every setting is checked when read (bot/preflight.py, bot/settings.py): the whole table of
malformed values, in-process; tests/e2e/test_startup.py runs the cases of the issue through the
command line."""

from __future__ import annotations

import pytest

from bot.preflight import SANDBOX_KEYS, load_settings
from core.errors import UsageError

MALFORMED = {
    "SANITY_API_HOST": ["::::", "sanity.example", "http://", "https://h:99999"],
    "STRIPE_API_BASE": ["http://127.0.0.1:99999", "api.stripe.com"],
    "CLERK_API_URL": ["ftp://clerk.example"],
    "SLACK_API_URL": ["not a url"],
    "PASSBOT_WEBHOOK_URL": ["::"],
    "PASSBOT_WEBHOOK_PROBE_URL": ["//no-scheme"],
    "PASSBOT_TIMEZONE": ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/"],
    "PASSBOT_LOOKBACK_DAYS": ["99999999", "0", "-1", "many"],
    "PASSBOT_CONCURRENCY": ["0", "1000"],
    "PASSBOT_TWO_PERSON": ["perhaps"],
    "PASSBOT_AUTOFIX": ["2"],
    "PASSBOT_NOW": ["yesterday"],
    "SANITY_API_VERSION": ["latest", "2025-02-19"],
    "SLACK_APP_TOKEN": ["xoxb-a-bot-token", "app-token"],
    "PASSBOT_LOG_LEVEL": ["LOUD"],
    "PASSBOT_LOG_FORMAT": ["xml"],
    "PASSBOT_HEALTH_PORT": ["70000", "0", "web"],
    "PORT": ["http", "65536"],
}
CASES = [(name, value) for name, values in MALFORMED.items() for value in values]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in MALFORMED:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("name", "value"), CASES)
def test_a_malformed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as caught:
        load_settings({})
    message = str(caught.value)
    assert message.startswith(f"bad setting {name}: "), message
    assert "\n" not in message
    if name == "SLACK_APP_TOKEN":
        assert value not in message  # a secret is never echoed


def test_good_values_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANITY_API_HOST", "https://abc123.api.sanity.io")
    monkeypatch.setenv("PASSBOT_TIMEZONE", "America/New_York")
    monkeypatch.setenv("PASSBOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("PASSBOT_LOG_FORMAT", "JSON")
    monkeypatch.setenv("PASSBOT_HEALTH_PORT", "8081")
    monkeypatch.setenv("SANITY_API_VERSION", "v2021-10-21")
    settings = load_settings({})
    assert settings.sanity_host == "https://abc123.api.sanity.io"
    assert (settings.passbot_log_level, settings.passbot_log_format) == ("DEBUG", "json")
    assert settings.passbot_health_port == 8081


def test_an_empty_value_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSBOT_TIMEZONE", "")
    monkeypatch.setenv("STRIPE_API_KEY", "")
    monkeypatch.setenv("PASSBOT_HEALTH_PORT", "")
    settings = load_settings({})
    assert settings.passbot_timezone == "Europe/Oslo"
    assert settings.missing("stripe_api_key") == ["STRIPE_API_KEY"]
    assert settings.passbot_health_port is None


def test_what_a_sandbox_replaces_is_not_held_against_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANITY_API_HOST", "::::")
    monkeypatch.setenv("PASSBOT_DB", "mine.db")
    assert "SANITY_API_HOST" in SANDBOX_KEYS
    settings = load_settings({}, provided=SANDBOX_KEYS)
    assert settings.sanity_api_host is None
    assert settings.passbot_db == "mine.db"
    monkeypatch.setenv("PASSBOT_TIMEZONE", "Mars/Base")  # passbot's own: still refused
    with pytest.raises(UsageError, match="PASSBOT_TIMEZONE"):
        load_settings({}, provided=SANDBOX_KEYS)


def test_a_dotenv_that_is_not_text_is_refused(tmp_path) -> None:
    (tmp_path / ".env").write_bytes(b"A=1\n\xff\xfe\x00\n")
    with pytest.raises(UsageError, match=r"\.env is not text"):
        load_settings({})


def test_env_example_and_readme_list_every_setting() -> None:
    from pathlib import Path

    from bot.settings import Settings

    root = Path(__file__).resolve().parents[2]
    names = {name.upper() for name in Settings.model_fields}
    example = {
        line.split("=", 1)[0]
        for line in (root / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert example == names
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert [n for n in sorted(names) if f"`{n}`" not in readme] == []
