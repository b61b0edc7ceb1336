"""The 35-day chart as a PNG: the webhook's daily fulfilment rate above, purchases fixed by
passbot and purchases still open below. Drawn with matplotlib's Agg backend (no display, no
files): bytes in memory, uploaded to Slack or written by `passbot job sweep --chart`.

matplotlib rather than a hand-made renderer: axes, dates and legible text are what it is for,
and the Agg backend draws without a display or a font installed on the machine.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from core.domain.daily import DayPoint

GREEN, RED, BLUE, GREY = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e"


def chart_title(days: Sequence[DayPoint]) -> str:
    """ "Last 35 days: 291 paid · 96.9% on time · 3 fixed by passbot · 9 still open"."""
    paid = sum(d.paid for d in days)
    on_time = sum(d.on_time for d in days)
    rate = f"{on_time / paid:.1%}" if paid else "—"
    fixed = sum(d.fixed_by_passbot for d in days)
    still = sum(d.still_open for d in days)
    return (
        f"Last {len(days)} days: {paid} paid · {rate} fulfilled by the webhook · "
        f"{fixed} fixed by passbot · {still} still open"
    )


def render_chart(days: Sequence[DayPoint], *, subtitle: str = "") -> bytes:
    """The chart as PNG bytes (1200×700). matplotlib is imported here, on first use: it takes
    seconds to import, which no command that draws nothing should pay."""
    import matplotlib

    matplotlib.use("Agg")  # never a display
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 7), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    x = [d.day for d in days]
    rates = [None if d.rate is None else d.rate * 100 for d in days]
    top.plot(
        x,
        [float("nan") if r is None else r for r in rates],
        color=BLUE,
        marker="o",
        markersize=4,
        linewidth=2,
        label="fulfilled by the webhook within 15 min",
    )
    top.set_ylim(0, 105)
    top.set_ylabel("fulfilment rate, %")
    top.grid(axis="y", alpha=0.3)
    top.legend(loc="lower left", frameon=False)
    top.set_title(chart_title(days), loc="left", fontsize=13)
    fixed = [d.fixed_by_passbot for d in days]
    still = [d.still_open for d in days]
    bottom.bar(x, fixed, color=GREEN, label="fixed by passbot")
    bottom.bar(x, still, bottom=fixed, color=RED, label="still open")
    bottom.set_ylabel("purchases")
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_ylim(0, max([1, *(f + o for f, o in zip(fixed, still, strict=True))]) * 1.4)
    bottom.legend(loc="upper left", frameon=False, ncols=2)
    bottom.yaxis.get_major_locator().set_params(integer=True)
    if subtitle:
        figure.suptitle(subtitle, x=0.01, ha="left", fontsize=10, color=GREY)
    figure.autofmt_xdate(rotation=0, ha="center")
    bottom.xaxis.set_major_formatter(DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
