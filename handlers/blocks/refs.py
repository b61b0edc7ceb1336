"""Links and times in mrkdwn: `<url|label>` to the system that holds a thing, and Slack's date
tokens (`<!date^…>`) so that each reader sees a time in their own time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo

from handlers.blocks.kit import code, escape

#: Slack's date token formats: "Dec 7, 2026 09:14" / "Dec 7, 2026", in the reader's zone.
DATE_TIME = "{date_short_pretty} {time}"
DATE = "{date_short_pretty}"


def link(url: str | None, label: str) -> str:
    """`label` linked to `url` (mrkdwn), or as inline code when there is no address."""
    if not url:
        return code(label)
    safe = escape(label).replace("|", "¦")
    return f"<{escape(url)}|{safe}>"


def slack_time(value: datetime, tz: tzinfo, *, fmt: str = DATE_TIME) -> str:
    """A time as a Slack date token: each reader sees it in their own zone; clients that cannot
    render tokens show the fallback, the time in PASSBOT_TIMEZONE with the zone named."""
    local = value.astimezone(tz)
    shown = local.strftime("%Y-%m-%d %H:%M" if fmt == DATE_TIME else "%Y-%m-%d")
    return f"<!date^{int(value.timestamp())}^{fmt}|{shown} {zone_name(tz, value)}>"


def zone_name(tz: tzinfo, at: datetime) -> str:
    """The zone's name (`Europe/Oslo`), else its abbreviation at `at`."""
    key = getattr(tz, "key", None)
    return str(key) if key else (at.astimezone(tz).tzname() or "UTC")
