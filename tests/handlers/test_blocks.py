"""Block builders as data: the card's content, a snapshot, the card after a press, and Slack's
limits held for every message — a huge diagnosis included."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.domain.approval import Claim, Proposal, plan_hash
from core.domain.diagnose import Diagnosis
from core.domain.fixes import plan_fix
from core.domain.links import Links
from core.ports import AuditEntry
from core.usecases.approvals import Applied
from core.usecases.fix import FixOutcome
from core.usecases.proposals import Offer, Proposals
from handlers.blocks import kit
from handlers.blocks.audit import build_audit_log
from handlers.blocks.check import build_check_report
from handlers.blocks.diagnose import build_diagnosis
from handlers.blocks.errors import build_error, build_forbidden, build_help, build_looking
from handlers.blocks.fix import (
    build_card_applying,
    build_card_note,
    build_card_result,
    build_claim_lost,
)
from handlers.ids import ActionId
from handlers.payloads import DismissValue, FixAllValue, FixButtonValue
from tests.factories import EMAIL, NOW, TENANT_ID, World

OSLO = ZoneInfo("Europe/Oslo")
SNAPSHOTS = Path(__file__).parent / "snapshots"


def _proposals(world: World, *, offers_for: int | None = None) -> Proposals:
    diagnosis = world.diagnose(EMAIL)
    offers = []
    for n, purchase in enumerate(diagnosis.purchases[:offers_for]):
        plan = plan_fix(purchase)
        if not plan.operations:
            continue
        proposal = Proposal(f"prop{n:04d}", purchase.session.id, None, plan_hash(plan),
                            "U0SUPPORT", NOW)  # fmt: skip
        offers.append(Offer(proposal, FixOutcome(purchase.session.id, plan, purchase, False, None)))
    return Proposals(diagnosis, tuple(offers), {TENANT_ID: "Aurora Dance"})


def _one_missing() -> Proposals:
    world = World.default()
    world.buy(1)
    return _proposals(world)


def _huge() -> Proposals:
    world = World.default()
    for n in range(1, 301):
        world.buy(n)
    return _proposals(world, offers_for=10)


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside a message."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def check_limits(message: kit.Message) -> None:
    """Slack's limits (kit.py), and passbot's own invariants on buttons."""
    assert message["text"]
    assert len(message["text"]) <= kit.MAX_FALLBACK_TEXT
    blocks = message["blocks"]
    assert len(blocks) <= kit.MAX_BLOCKS
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids))
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= kit.MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= kit.MAX_FIELDS
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= kit.MAX_HEADER_TEXT
        if block["type"] == "context":
            assert len(block["elements"]) <= kit.MAX_CONTEXT_ELEMENTS
            assert all(len(e["text"]) <= kit.MAX_CONTEXT_TEXT for e in block["elements"])
        if block["type"] == "actions":
            assert len(block["elements"]) <= kit.MAX_ACTIONS_ELEMENTS
            assert len({e["action_id"] for e in block["elements"]}) == len(block["elements"])
    for node in walk(blocks):
        if node.get("type") == "button":
            assert len(node["text"]["text"]) <= kit.MAX_BUTTON_TEXT
            assert len(node["value"]) <= kit.MAX_BUTTON_VALUE
            assert node["action_id"] in set(ActionId)
            if node["action_id"] == ActionId.FINDING_DISMISS:  # asks why in a form: no dialog
                DismissValue.decode(node["value"])
            else:
                value = FixAllValue if node["action_id"] == ActionId.FIX_ALL else FixButtonValue
                value.decode(node["value"])
                dialog = node["confirm"]
                assert len(dialog["title"]["text"]) <= kit.MAX_CONFIRM_TITLE
                assert len(dialog["text"]["text"]) <= kit.MAX_CONFIRM_TEXT
        for key in ("block_id", "action_id"):
            assert len(node.get(key, "")) <= kit.MAX_ID


# ----------------------------------------------------------------------------- the card


def test_the_card_says_who_what_was_paid_what_shows_and_offers_the_fix() -> None:
    card, details = build_diagnosis(_one_missing(), requested_by="U0SUPPORT", tz=OSLO)
    check_limits(card)
    assert details == []
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert card["blocks"][0] == kit.header(f"🔎 {EMAIL}")
    for shown in ("*Verdict:* something is wrong and a fix is offered below", "Sanity user",
                  "Clerk account", "*Paid purchases* (1)", "*Passes* (0)", "missing_pass",
                  "Aurora Dance", "asked by <@U0SUPPORT>"):  # fmt: skip
        assert shown in text, shown
    (actions,) = [b for b in card["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == "fix:prop0000"
    (button,) = actions["elements"]
    assert button["text"]["text"] == "Approve: create pass"
    value = FixButtonValue.decode(button["value"])
    assert (value.proposal, value.alternative) == ("prop0000", None)
    dialog = button["confirm"]["text"]["text"]
    assert "*10 Clip Card* (clipcard, 10 clips)" in dialog
    assert "Aurora Dance" in dialog


def test_the_card_matches_its_snapshot() -> None:
    """The card as JSON (paste it into Block Kit Builder to look at it); set
    PASSBOT_UPDATE_SNAPSHOTS=1 to rewrite it after a deliberate change, and review the diff."""
    clerk = "https://dashboard.clerk.com/apps/app_1/instances/ins_1"
    links = Links(studio_url="https://dance.sanity.studio", clerk_dashboard_url=clerk)
    card, _ = build_diagnosis(_one_missing(), requested_by="U0SUPPORT", tz=OSLO, links=links)
    path = SNAPSHOTS / "diagnosis_card.json"
    if os.environ.get("PASSBOT_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == card


def test_an_unfixable_finding_says_what_a_person_must_decide() -> None:
    world = World.default()
    world.buy(1)
    world.replace(world.sessions[0]["metadata"]["passId"], tenant={"_type": "reference",
                  "_ref": "tenant-elsewhere"})  # fmt: skip
    proposals = _proposals(world)
    card, _ = build_diagnosis(proposals, requested_by="U1", tz=OSLO)
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "🧑‍⚖️ A person must decide:" in text
    assert not [b for b in card["blocks"] if b["type"] == "actions"]


def test_a_huge_diagnosis_summarises_on_the_card_and_details_the_thread() -> None:
    proposals = _huge()
    diagnosis: Diagnosis = proposals.diagnosis
    assert len(diagnosis.purchases) == 300
    card, details = build_diagnosis(proposals, requested_by="U1", tz=OSLO)
    for message in (card, *details):
        check_limits(message)
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "*Paid purchases* (300) — first 20 of 300" in text
    assert "280 more purchases in the thread" in text
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert 1 <= len(buttons) <= 10
    thread = json.dumps([m["blocks"] for m in details], ensure_ascii=False)
    for purchase in diagnosis.purchases:
        assert purchase.session.id in thread  # every purchase is in the thread
    shown_findings = text.count("*missing_pass*")
    assert thread.count("*missing_pass*") == len(diagnosis.findings) - shown_findings


def test_long_text_is_cut_within_the_limits() -> None:
    world = World.default()
    world.buy(1)
    world.replace(world.sessions[0]["metadata"]["passId"], name="Ü" * 5000)
    card, _ = build_diagnosis(_proposals(world), requested_by="U1", tz=OSLO)
    check_limits(card)


# ----------------------------------------------------------------------------- after a press


def _card_and_block() -> tuple[list[dict[str, Any]], str]:
    card, _ = build_diagnosis(_one_missing(), requested_by="U0SUPPORT", tz=OSLO)
    (actions,) = [b for b in card["blocks"] if b["type"] == "actions"]
    return card["blocks"], actions["block_id"]


def _applied() -> Applied:
    offer = _one_missing().offers[0]
    outcome = FixOutcome(offer.proposal.session, offer.preview.plan, offer.preview.purchase, True,
                         None, audit_id=7)  # fmt: skip
    return Applied(outcome, "U0APPROVER", datetime(2026, 11, 28, 8, 14, tzinfo=UTC))


def test_a_press_strips_the_buttons_then_shows_who_approved_at_local_time() -> None:
    blocks, block_id = _card_and_block()
    applying = build_card_applying(blocks, block_id, approver="U0APPROVER")
    assert not [b for b in applying["blocks"] if b["type"] == "actions"]
    assert applying["blocks"][-1]["block_id"] == "fix-note:prop0000"
    result = build_card_result(applying["blocks"], block_id, _applied(), tz=OSLO)
    assert result["text"] == "✅ Pass created — approved by <@U0APPROVER> at 09:14"
    notes = [b for b in result["blocks"] if b.get("block_id") == "fix-note:prop0000"]
    assert len(notes) == 1
    assert "audit #7" in notes[0]["elements"][0]["text"]
    check_limits(result)


def test_an_error_note_keeps_the_buttons_and_a_change_removes_them() -> None:
    blocks, block_id = _card_and_block()
    retry = build_card_note(blocks, block_id, "⚠️ Sanity failed", keep_buttons=True)
    assert [b for b in retry["blocks"] if b["type"] == "actions"]
    again = build_card_note(retry["blocks"], block_id, "⚠️ Sanity failed", keep_buttons=True)
    assert len(again["blocks"]) == len(retry["blocks"])  # one note, not two
    changed = build_card_note(blocks, block_id, "⚠️ Changed", keep_buttons=False)
    assert not [b for b in changed["blocks"] if b["type"] == "actions"]


def test_a_lost_claim_says_who_is_applying_or_applied() -> None:
    busy = Claim("cs", "", False, "U2", "applying", NOW, "p")
    done = Claim("cs", "", False, "U2", "done", NOW, "p")
    assert "<@U2> is applying" in build_claim_lost(busy, tz=OSLO)["text"]
    assert "Already applied by <@U2> at 09:00" in build_claim_lost(done, tz=OSLO)["text"]


# ----------------------------------------------------------------------------- other messages


def test_audit_check_errors_and_help_keep_the_limits() -> None:
    entries = [
        AuditEntry(at=NOW, actor="U0APPROVER", action="create_subscription", session=f"cs_{n}",
                   documents=(f"subscription-cs_{n}",), transaction_id="t", changes={},
                   source="slack", actor_email="ada@dance.example", id=n)
        for n in range(87)
    ]  # fmt: skip
    audit = build_audit_log(entries, tz=OSLO)
    assert "first 20 of 87" in json.dumps(audit["blocks"])
    world = World.default()
    for n in range(1, 120):
        world.buy(n)
    report, details = build_check_report(world.run(), mode="test", schools={})
    assert "more open findings, with their buttons, in the thread" in json.dumps(report["blocks"])
    assert details
    incident = build_error("Something went wrong", incident_id="abcd1234")
    assert "abcd1234" in json.dumps(incident["blocks"])
    forbidden = build_forbidden(frozenset({"S0APPROVERS", "U0SECOND"}))
    assert "<!subteam^S0APPROVERS>" in forbidden["text"]
    assert "<@U0SECOND>" in forbidden["text"]
    looking = build_looking("x" * 5000, requested_by="U1")
    others = (incident, forbidden, build_help(), looking, build_audit_log([], tz=OSLO))
    for message in (audit, report, *details, *others):
        check_limits(message)


def test_kit_primitives() -> None:
    assert kit.truncate("abcdef", 4) == "abc…"
    assert kit.escape("<a&b>") == "&lt;a&amp;b&gt;"
    sections = kit.line_sections(["x" * 1400] * 5, title="T")
    assert all(len(s["text"]["text"]) <= kit.MAX_SECTION_TEXT for s in sections)
    assert len(sections) == 3
    clamped = kit.message("t", [kit.divider()] * 80)
    assert len(clamped["blocks"]) == kit.MAX_BLOCKS
    assert "31 more blocks" in clamped["blocks"][-1]["elements"][0]["text"]
    with pytest.raises(ValueError, match="over Slack's limit"):
        kit.button("b", action_id=ActionId.FIX_APPLY, value="v" * 2001)
    assert [len(m["blocks"]) for m in kit.paged("t", [kit.divider()] * 120)] == [50, 50, 20]
