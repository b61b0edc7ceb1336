"""The last weeks day by day (pure): what the chart of the sweep and /passstats draws — the
webhook's fulfilment rate, purchases fixed by passbot, and purchases still open."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from core.domain.metrics import PurchaseRow, Rate
from core.domain.models import JSON

#: Days the chart shows.
CHART_DAYS = 35


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One day (in PASSBOT_TIMEZONE) of paid pass purchases."""

    day: date
    paid: int
    on_time: int
    fixed_by_passbot: int
    still_open: int

    @property
    def rate(self) -> float | None:
        """Fulfilled by the webhook within 15 minutes ÷ paid (None: no purchase that day)."""
        return Rate(self.on_time, self.paid).value

    def to_json(self) -> JSON:
        """As JSON."""
        return {
            "day": self.day.isoformat(),
            "paid": self.paid,
            "on_time": self.on_time,
            "fulfilment_rate": self.rate,
            "fixed_by_passbot": self.fixed_by_passbot,
            "still_open": self.still_open,
        }


def daily_series(
    rows: Sequence[PurchaseRow],
    *,
    now: datetime,
    tz: tzinfo,
    days: int = CHART_DAYS,
    open_sessions: Collection[str] | None = None,
    fixed_sessions: Collection[str] = (),
) -> tuple[DayPoint, ...]:
    """`days` days ending today, oldest first; a purchase counts on the day it was made.

    `open_sessions`: purchases with a finding still open (dismissed ones left out); None takes
    each row's own `open`. `fixed_sessions`: fixed by passbot just now (autofix).
    """
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    counts = {first + timedelta(days=i): [0, 0, 0, 0] for i in range(days)}
    for row in rows:
        day = row.created.astimezone(tz).date()
        if day not in counts:
            continue
        c = counts[day]
        c[0] += 1
        c[1] += row.on_time
        c[2] += row.by_passbot or row.session in fixed_sessions
        is_open = row.open if open_sessions is None else row.session in open_sessions
        c[3] += is_open and row.session not in fixed_sessions
    return tuple(DayPoint(d, *c) for d, c in counts.items())
