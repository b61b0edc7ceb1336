"""The scheduled posts' builders as data: the summary (per school, trend line, each open finding
with its buttons, "Fix all N" behind a confirm that lists them, automatic fixes, metrics), the
early warning, the health card, /passstats, "Not a problem" and its form, the card after "Fix
all" — all within Slack's limits, a huge summary included."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain.approval import Claim, Proposal, plan_hash
from core.domain.findings import Finding
from core.domain.fixes import plan_fix
from core.domain.health import Check, HealthReport
from core.domain.metrics import (
    Durations,
    FalsePositives,
    Metrics,
    PurchaseRow,
    Rate,
    ReportsPerWeek,
    purchase_row,
)
from core.domain.models import Window
from core.domain.reconcile import ReconcileReport
from core.domain.summary import AutofixOutcome, EarlyWarning, Summary, build_summary
from core.usecases.approvals import Applied
from core.usecases.batch import (
    ALREADY_FIXED,
    APPLIED,
    DONE_BEFORE,
    FAILED,
    STALE,
    BatchItem,
    BatchResult,
    batch_id,
)
from core.usecases.feedback import Dismissal
from core.usecases.fix import FixOutcome
from core.usecases.proposals import Offer
from handlers.blocks import kit
from handlers.blocks.finding import (
    build_card_dismissed,
    build_dismiss_modal,
    build_dismissed_note,
)
from handlers.blocks.health import build_health_card
from handlers.blocks.stats import build_stats, sparkline
from handlers.blocks.summary import (
    FIX_ALL_MAX,
    SHOWN_FINDINGS,
    build_fix_all_applying,
    build_fix_all_report,
    build_fix_all_result,
    build_summary_post,
)
from handlers.blocks.warning import build_warning_post
from handlers.ids import ActionId, BlockId, CallbackId, InputId
from handlers.payloads import DismissMeta, DismissValue, FixAllValue
from tests.factories import NOW, TENANT_ID, World
from tests.handlers.test_blocks import check_limits

OSLO = ZoneInfo("Europe/Oslo")
WINDOW = Window(NOW - timedelta(days=14), NOW)


def _report(purchases: int) -> ReconcileReport:
    world = World.default()
    for n in range(1, purchases + 1):
        world.buy(n)
    return world.run()


def _offers(report: ReconcileReport, limit: int) -> list[Offer]:
    offers = []
    for n, purchase in enumerate(report.purchases[:limit]):
        plan = plan_fix(purchase)
        if not plan.operations:
            continue
        proposal = Proposal(f"prop{n:04d}", purchase.session.id, None, plan_hash(plan),
                            "passbot:scheduler", NOW)  # fmt: skip
        offers.append(Offer(proposal, FixOutcome(purchase.session.id, plan, purchase, False, None)))
    return offers


def _summary(
    report: ReconcileReport, *, schools: dict[str, str] | None = None, **kw: object
) -> Summary:
    rows = [purchase_row(p, {}) for p in report.purchases]
    return build_summary(
        kind=str(kw.pop("kind", "daily")),
        rows=rows,
        findings=report.findings,
        schools=schools or {TENANT_ID: "Aurora Dance"},
        now=NOW,
        window=WINDOW,
        mode="test",
        tz=OSLO,
        **kw,
    )


def _buttons(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    found = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks if "accessory" in b]
    return found


def _text(message: kit.Message) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


# ----------------------------------------------------------------------------- the summary


def test_the_summary_shows_each_school_its_trend_and_each_open_finding_with_its_buttons() -> None:
    report = _report(3)
    offers = _offers(report, 3)
    post, thread = build_summary_post(_summary(report), offers, tz=OSLO)
    check_limits(post)
    assert thread == []
    text = _text(post)
    assert post["blocks"][0] == kit.header("📋 Daily summary — Sat 28 Nov 2026")
    for shown in ("*3* paid pass purchases since Sat 14 Nov", "*Aurora Dance* — 3 paid",
                  "0 by the webhook", "0 fixed by passbot", "*3* still open",
                  "fulfilment *0.0%*", "*Open findings* (3)", "Will write:"):  # fmt: skip
        assert shown in text, shown
    days = next(b for b in post["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert days.startswith("fulfilment by day, the last 14 days: `")
    actions = [b for b in post["blocks"] if b["type"] == "actions"]
    assert (
        actions[0]["block_id"] == f"{BlockId.FIX_ALL}:{batch_id([o.proposal.id for o in offers])}"
    )
    (fix_all,) = actions[0]["elements"]
    assert fix_all["text"]["text"] == "Fix all 3"
    assert FixAllValue.decode(fix_all["value"]).proposals == tuple(o.proposal.id for o in offers)
    assert "kari.nordmann@example.com" in fix_all["confirm"]["text"]["text"]
    assert [a["block_id"] for a in actions[1:]] == [f"fix:prop{n:04d}" for n in range(3)]
    beside = [b["accessory"] for b in post["blocks"] if "accessory" in b]
    assert [b["action_id"] for b in beside] == [ActionId.FINDING_DISMISS] * 3
    keys = {DismissValue.decode(b["value"]).key for b in beside}
    assert keys == {f.key for f in report.findings}


def test_a_quiet_day_says_nothing_is_open() -> None:
    world = World.default()
    world.fulfil(world.buy(1))
    post, thread = build_summary_post(_summary(world.run()), [], tz=OSLO)
    check_limits(post)
    assert "✅ Nothing open" in _text(post)
    assert _buttons(post["blocks"]) == []
    assert thread == []


def test_the_trend_line_is_a_sparkline_of_daily_rates() -> None:
    assert sparkline([None, 0.0, 0.5, 1.0]) == "·▁▅█"
    assert sparkline([3.0, 6.0], top=6.0) == "▅█"


def test_automatic_fixes_and_the_weekly_metrics_are_reported() -> None:
    report = _report(2)
    fixed = report.findings[0]
    assert fixed.session is not None
    autofixed = [
        AutofixOutcome(fixed.session, fixed.key, True, (f"subscription-{fixed.session}",), 41),
        AutofixOutcome("cs_other", "missing_pass:cs_other", False, error="changed"),
    ]
    summary = _summary(report, kind="weekly", autofixed=autofixed, metrics=_metrics())
    post, _ = build_summary_post(summary, [], tz=OSLO)
    check_limits(post)
    text = _text(post)
    assert post["blocks"][0] == kit.header("📋 Weekly sweep — week 48 2026")
    assert "*Fixed automatically* (PASSBOT_AUTOFIX, each audited): 2" in text
    assert f"🤖 `{fixed.session}` → created `subscription-{fixed.session}` (audit #41)" in text
    assert "⚠️ `cs_other` — not applied: changed" in text
    assert "*Webhook fulfilment*\\n*95.0%*" in text
    assert "*Open findings* (1)" in text  # the automatic fix left one open


@pytest.mark.parametrize("findings", [0, 1, 9, 70, 500])
def test_any_summary_keeps_slacks_limits_and_shows_every_finding(findings: int) -> None:
    report = _report(findings)
    schools = {f"t{n:02d}": f"School {n} " + "Ü" * 200 for n in range(30)}
    moved = tuple(replace(f, tenant=f"t{i % 30:02d}") for i, f in enumerate(report.findings))
    report = replace(report, findings=moved)
    offers = _offers(report, FIX_ALL_MAX)
    summary = _summary(report, schools=schools)
    post, thread = build_summary_post(summary, offers, tz=OSLO)
    for message in (post, *thread):
        check_limits(message)
    everything = _text(post) + "".join(_text(m) for m in thread)
    for finding in report.findings:
        assert finding.session is not None
        assert finding.session in everything
    on_post = [e for e in _buttons(post["blocks"]) if e["action_id"] == ActionId.FIX_APPLY]
    assert len(on_post) == min(findings, SHOWN_FINDINGS)
    if findings >= 2:
        (fix_all,) = [e for e in _buttons(post["blocks"]) if e["action_id"] == ActionId.FIX_ALL]
        assert len(FixAllValue.decode(fix_all["value"]).proposals) == min(findings, FIX_ALL_MAX)
    if findings > SHOWN_FINDINGS:
        assert f"{findings - len(on_post)} more open findings" in _text(post)
    schools_shown = "first 15 of 31" if findings else "first 15 of 30"  # + "(no school)"
    assert schools_shown in _text(post)  # the schools, summarised; all of them in the thread
    assert "School 29" in "".join(_text(m) for m in thread)


# ----------------------------------------------------------------------------- the warning


def test_the_early_warning_names_each_purchase_with_its_button_and_suspects_an_outage() -> None:
    report = _report(3)
    offers = _offers(report, 3)
    warning = EarlyWarning(NOW, Window(NOW - timedelta(minutes=75), NOW - timedelta(minutes=15)),
                           report.findings, paid=4, unfulfilled=3)  # fmt: skip
    post, thread = build_warning_post(warning, offers, schools={TENANT_ID: "Aurora"}, tz=OSLO)
    check_limits(post)
    assert thread == []
    text = _text(post)
    assert post["text"] == (
        "Early warning: 3 paid purchases 15–75 minutes old with no pass — a webhook outage?"
    )
    assert "made between 07:45 and 08:45" in text
    assert "This looks like a webhook outage" in text
    ids = [e["action_id"] for e in _buttons(post["blocks"])]
    assert ids.count(ActionId.FIX_APPLY) == 3
    assert ids.count(ActionId.FIX_ALL) == 1
    one = replace(warning, findings=report.findings[:1], unfulfilled=1)
    single, _ = build_warning_post(one, offers[:1], schools={}, tz=OSLO)
    assert "outage" not in _text(single)
    assert ActionId.FIX_ALL not in [e["action_id"] for e in _buttons(single["blocks"])]


# ----------------------------------------------------------------------------- health, stats


def test_the_health_card_shows_failures_first_with_what_to_do() -> None:
    checks = (
        Check("config", True, "info", "all settings present"),
        Check("webhook_probe", False, "critical",
              "the endpoint answered 500: the signing secret is missing — set it and redeploy"),
        Check("clerk_access", False, "warning", "not checked: no key", skipped=True),
    )  # fmt: skip
    card = build_health_card(HealthReport("live", checks, NOW), tz=OSLO)
    check_limits(card)
    assert card["text"] == "passbot health — 2 of 3 checks failed: webhook_probe, clerk_access"
    text = _text(card)
    assert text.index("❌ *webhook_probe* (critical)") < text.index("✅ *config*")
    assert "set it and redeploy" in text
    assert "⏭️ *clerk_access* — not checked: no key" in text
    ok = build_health_card(HealthReport("test", checks[:1], NOW), tz=OSLO)
    assert ok["text"] == "passbot health — all 1 checks passed"


def _metrics() -> Metrics:
    return Metrics(
        generated_at=NOW,
        period_days=28,
        fulfilment=Rate(19, 20),
        time_to_resolve=Durations(4, timedelta(hours=3), timedelta(hours=26)),
        false_positives=FalsePositives(1, 12, (("a test purchase", 1),)),
        reports=ReportsPerWeek((0, 2, 1, 3)),
    )


def test_passstats_shows_every_metric() -> None:
    stats = build_stats(_metrics())
    check_limits(stats)
    text = _text(stats)
    for shown in ("*95.0%* — 19 of 20", "median *3.0 h* · p90 *26.0 h* (4 resolved)",
                  "*1* of 12 findings dismissed as not a problem (8.3%)",
                  "“a test purchase” ×1", "*1.5* per week", "0 · 2 · 1 · 3"):  # fmt: skip
        assert shown in text, shown


# ----------------------------------------------------------------------------- not a problem


def _finding() -> tuple[kit.Message, Finding]:
    report = _report(1)
    post, _ = build_summary_post(_summary(report), _offers(report, 1), tz=OSLO)
    return post, report.findings[0]


def test_not_a_problem_asks_why_in_a_form_within_its_limits() -> None:
    post, finding = _finding()
    (section,) = [b for b in post["blocks"] if "accessory" in b]
    value = DismissValue.decode(section["accessory"]["value"])
    meta = DismissMeta.make(value, channel="C1", ts="1.2", block_id=section["block_id"])
    view = build_dismiss_modal(meta, about="x" * 5000)
    assert view["callback_id"] == CallbackId.DISMISS
    assert len(view["title"]["text"]) <= kit.MAX_VIEW_TITLE
    assert DismissMeta.decode(view["private_metadata"]) == meta
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert (field["block_id"], field["element"]["action_id"]) == (
        BlockId.DISMISS_REASON, InputId.DISMISS_REASON
    )  # fmt: skip
    assert all(
        len(b.get("text", {}).get("text", "")) <= kit.MAX_SECTION_TEXT for b in view["blocks"]
    )
    assert value.key == finding.key


def test_a_dismissed_finding_loses_its_buttons_and_says_who_and_why() -> None:
    post, finding = _finding()
    (section,) = [b for b in post["blocks"] if "accessory" in b]
    value = DismissValue.decode(section["accessory"]["value"])
    dismissal = Dismissal(finding.key, "a <test> buyer", "U0SUPPORT", NOW + timedelta(minutes=14))
    card = build_card_dismissed(post["blocks"], section["block_id"], dismissal, fix=value.fix,
                                tz=OSLO)  # fmt: skip
    check_limits(card)
    assert (
        card["text"]
        == "🙈 Not a problem — dismissed by <@U0SUPPORT> at 09:14: “a &lt;test&gt; buyer”"
    )
    assert [b for b in card["blocks"] if "accessory" in b] == []
    assert f"fix:{value.fix}" not in {b.get("block_id") for b in card["blocks"]}
    assert len(card["blocks"]) == len(post["blocks"])  # the note takes the buttons' place
    note = build_dismissed_note(dismissal, tz=OSLO)
    check_limits(note)
    assert finding.key in note["text"]


# ----------------------------------------------------------------------------- fix all


def test_the_card_after_fix_all_reports_each_purchase() -> None:
    report = _report(4)
    offers = _offers(report, 4)
    post, _ = build_summary_post(_summary(report), offers, tz=OSLO)
    (block_id,) = [
        b["block_id"] for b in post["blocks"] if b.get("block_id", "").startswith("fix-all:")
    ]
    applying = build_fix_all_applying(post["blocks"], block_id, count=4, approver="U0APPROVER")
    assert applying["text"] == "⏳ fixing 4 purchases one by one… — approved by <@U0APPROVER>"
    at = NOW + timedelta(minutes=14)

    def applied(offer: Offer) -> Applied:
        outcome = FixOutcome(offer.proposal.session, offer.preview.plan, offer.preview.purchase,
                             True, None, audit_id=3)  # fmt: skip
        return Applied(outcome, "U0APPROVER", at)

    items = (
        BatchItem("prop0000", offers[0].proposal.session, APPLIED, applied=applied(offers[0])),
        BatchItem("prop0001", offers[1].proposal.session, DONE_BEFORE,
                  claim=Claim("k", "", False, "U0SECOND", "done", at, "prop0001")),
        BatchItem("prop0002", offers[2].proposal.session, STALE, "changed"),
        BatchItem("prop0003", offers[3].proposal.session, FAILED, "sanity: 503"),
    )  # fmt: skip
    result = BatchResult(batch_id([o.proposal.id for o in offers]), items, "U0APPROVER", at)
    card = build_fix_all_result(post["blocks"], block_id, result, tz=OSLO)
    check_limits(card)
    assert card["text"] == (
        "⚠️ Fix all — approved by <@U0APPROVER> at 09:14: 1 fixed, 1 already fixed, "
        "1 changed since the summary, 1 failed — press Fix all again to retry the failed ones"
    )
    text = _text(card)
    assert "✅ Already applied by <@U0SECOND> at 09:14" in text
    assert "⚠️ Changed since the summary" in text
    remaining = {b["block_id"] for b in card["blocks"] if b["type"] == "actions"}
    assert remaining == {"fix:prop0003", block_id}  # the failed one and Fix all, to retry
    (reply,) = build_fix_all_report(result, tz=OSLO)
    check_limits(reply)
    for item in items:
        assert str(item.session) in _text(reply)
    done = replace(result, items=(replace(items[0], outcome=ALREADY_FIXED),))
    assert not done.retriable


def test_fix_all_never_outgrows_a_button_value() -> None:
    ids = [f"{n:016x}" for n in range(FIX_ALL_MAX)]
    assert len(FixAllValue.make(ids).encode()) <= kit.MAX_BUTTON_VALUE


def test_purchase_rows_of_a_summary_count_the_webhook() -> None:
    created = datetime(2026, 11, 27, 10, tzinfo=UTC)
    rows = [PurchaseRow("cs_1", TENANT_ID, created, True, created + timedelta(minutes=1))]
    summary = build_summary(kind="daily", rows=rows, findings=[], schools={TENANT_ID: "A"},
                            now=NOW, window=WINDOW, mode="test", tz=OSLO)  # fmt: skip
    post, _ = build_summary_post(summary, [], tz=OSLO)
    assert "fulfilment *100.0%*" in _text(post)
