"""The watch's post (handlers/blocks/watch.py): each purchase with its button, what autofix did,
and the likely-outage message naming the health check."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.domain.summary import AutofixOutcome
from core.domain.watch import OUTAGE_CHECK, WatchAlert
from handlers.blocks.watch import build_watch_post
from handlers.ids import ActionId
from tests.handlers.test_schedule_blocks import (
    NOW,
    OSLO,
    TENANT_ID,
    _buttons,
    _offers,
    _report,
    _text,
    check_limits,
)


def test_each_purchase_without_a_pass_is_posted_with_its_button() -> None:
    report = _report(2)
    alert = WatchAlert(NOW, timedelta(minutes=3), report.findings, unfulfilled_recently=2)
    post, thread = build_watch_post(
        alert, _offers(report, 2), schools={TENANT_ID: "Aurora"}, tz=OSLO
    )
    check_limits(post)
    assert thread == []
    assert post["text"] == "2 paid purchases with no pass after 3 minutes"
    assert "outage" not in _text(post).lower()
    ids = [e["action_id"] for e in _buttons(post["blocks"])]
    assert ids.count(ActionId.FIX_APPLY) == 2
    for finding in report.findings:
        assert finding.session is not None
        assert finding.session in _text(post)


def test_several_at_once_say_likely_outage_and_name_the_health_check() -> None:
    report = _report(3)
    alert = WatchAlert(NOW, timedelta(minutes=3), report.findings, outage=True,
                       unfulfilled_recently=4)  # fmt: skip
    post, _ = build_watch_post(alert, _offers(report, 3), schools={}, tz=OSLO)
    check_limits(post)
    assert post["text"].startswith("Likely outage")
    assert OUTAGE_CHECK in post["text"]
    assert "/passhealth" in _text(post)
    assert "4 recent paid purchases" in _text(post)


def test_what_autofix_fixed_is_listed_without_a_button() -> None:
    report = _report(2)
    fixed, open_ = report.findings
    assert fixed.session is not None
    outcome = AutofixOutcome(fixed.session, fixed.key, True, (f"subscription-{fixed.session}",), 7)
    alert = replace(WatchAlert(NOW, timedelta(seconds=90), report.findings), autofixed=(outcome,))
    post, _ = build_watch_post(alert, _offers(report, 2)[1:], schools={}, tz=OSLO)
    check_limits(post)
    assert alert.open_findings == (open_,)
    text = _text(post)
    assert "Fixed automatically" in text
    assert "audit #7" in text
    assert "90 seconds" in post["text"]
    assert [e["action_id"] for e in _buttons(post["blocks"])].count(ActionId.FIX_APPLY) == 1
