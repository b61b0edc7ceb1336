"""Approvals: the claim in passbot's database (SQLite and PostgreSQL) that makes a fix apply once,
across threads and processes; the plan hash that detects a changed proposal; and the
append-only press log."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from core.adapters.store import SqlStore, open_store
from core.domain.approval import Press, Proposal, expect_plan, plan_hash
from core.domain.findings import CreateDoc, PatchDoc
from core.domain.fixes import FixPlan, plan_fix
from core.errors import StaleFixError
from tests.db import REFUSED, raw
from tests.factories import NOW, World, purchase_of

LEASE = timedelta(minutes=5)


@pytest.fixture
def store(db_url: str):
    opened = open_store(db_url)
    yield opened
    opened.close()


def _claim(store: SqlStore, *, proposal="p1", holder="U1", token="t1", at=NOW):  # noqa: S107
    return store.claim("cs_1", proposal=proposal, holder=holder, token=token, now=at, lease=LEASE)


def test_the_first_press_wins_and_the_others_are_told_who_is_applying(store) -> None:
    first = _claim(store)
    second = _claim(store, holder="U2", token="t2")
    assert first.won
    assert not second.won
    assert (second.holder, second.state, second.outcome) == ("U1", "applying", "busy")
    assert second.token == ""  # a loser never learns the winner's token


def test_a_finished_claim_says_done_to_presses_of_the_same_proposal(store) -> None:
    first = _claim(store)
    store.finish("cs_1", token=first.token, now=NOW + timedelta(seconds=3))
    again = _claim(store, holder="U2", token="t2", at=NOW + timedelta(minutes=1))
    assert not again.won
    assert (again.state, again.outcome, again.at) == (
        "done",
        "done_before",
        NOW + timedelta(seconds=3),
    )
    newer_card = _claim(store, proposal="p2", holder="U2", token="t3")
    assert newer_card.won  # a new card for a purchase that broke again


def test_a_released_claim_can_be_taken_again(store) -> None:
    first = _claim(store)
    store.release("cs_1", token="someone-else")  # only the holder's token releases it
    assert not _claim(store, token="t2").won
    store.release("cs_1", token=first.token)
    assert _claim(store, holder="U2", token="t3").won


def test_a_claim_left_by_a_dead_process_expires_after_its_lease(store) -> None:
    _claim(store)
    assert not _claim(store, token="t2", at=NOW + LEASE - timedelta(seconds=1)).won
    assert _claim(store, token="t3", at=NOW + LEASE).won


def test_claims_are_atomic_across_connections(db_url: str) -> None:
    open_store(db_url).close()
    results: list[bool] = []
    lock = threading.Lock()

    def press(n: int) -> None:
        own = open_store(db_url)
        try:
            won = own.claim("cs_1", proposal="p", holder=f"U{n}", token=f"t{n}", now=NOW,
                            lease=LEASE).won  # fmt: skip
        finally:
            own.close()
        with lock:
            results.append(won)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


#: One process pressing: opens the store, says ready, waits for "go", claims, says if it won.
_PRESS = """
import sys
from datetime import datetime, timedelta, timezone
from core.adapters.store import open_store
url, n = sys.argv[1], sys.argv[2]
store = open_store(url)
print("ready", flush=True)
sys.stdin.readline()
now = datetime(2026, 11, 28, 8, tzinfo=timezone.utc)
won = store.claim("cs_1", proposal="p", holder="U" + n, token="t" + n, now=now,
                  lease=timedelta(minutes=5)).won
store.close()
print("won" if won else "lost")
"""


def test_claims_are_atomic_across_processes(db_url: str) -> None:
    open_store(db_url).close()
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _PRESS, db_url, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:  # every one has its store open: now all press at once
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    said = sorted(p.communicate(timeout=60)[0].strip() for p in processes)
    assert said == ["lost"] * 3 + ["won"]


def test_proposals_round_trip_and_presses_are_append_only(store, db_url: str) -> None:
    proposal = Proposal("abc", "cs_1", "start_today", "h" * 16, "U0SUPPORT", NOW)
    store.save_proposal(proposal)
    assert store.proposal("abc") == proposal
    assert store.proposal("nope") is None
    store.record_press(Press(at=NOW, user_id="U1", outcome="applied", user_email="a@b.no"))
    store.record_press(Press(at=NOW, user_id="U2", outcome="busy"))
    assert [p.outcome for p in store.presses()] == ["busy", "applied"]
    for statement in ("UPDATE presses SET outcome = 'x'", "DELETE FROM presses"):
        with pytest.raises(REFUSED, match="append-only"):
            raw(db_url, statement)
    assert len(store.presses()) == 2


# ----------------------------------------------------------------------------- plan hashes


def _plan(**session_kw) -> FixPlan:
    world = World.default()
    session = world.buy(1, **session_kw)
    return plan_fix(purchase_of(world.run(), session))


def test_the_hash_ignores_who_approved_and_when_but_not_what_is_written() -> None:
    plan = _plan()
    (create,) = plan.operations
    assert isinstance(create, CreateDoc)
    approved = {**create.document, "approvedBy": "U9", "approvedAt": "2030-01-01T00:00:00.000Z"}
    other_approver = FixPlan(plan.session, (CreateDoc(approved),), plan.resolves, ())
    assert plan_hash(other_approver) == plan_hash(plan)
    clips = FixPlan(plan.session, (CreateDoc({**create.document, "remainingClips": 3}),),
                    plan.resolves, ())  # fmt: skip
    assert plan_hash(clips) != plan_hash(plan)


def test_the_requester_and_the_approver_derive_the_same_hash_for_a_deactivation() -> None:
    world = World.default()
    session = world.buy(1)
    world.fulfil(session)
    world.fulfil(session, _id="copyOfThePass")

    def plan_by(actor: str) -> FixPlan:
        report = world.run(actor=actor, now=NOW + timedelta(minutes=5 if actor == "U2" else 0))
        return plan_fix(purchase_of(report, session))

    by_requester, by_approver = plan_by("U1"), plan_by("U2")
    assert by_requester.deactivated
    assert by_requester.operations != by_approver.operations  # deactivatedBy/At differ…
    assert plan_hash(by_requester) == plan_hash(by_approver)  # …and do not count


def test_start_from_today_hashes_the_length_not_the_day() -> None:
    doc = {"_id": "s", "startBasis": "approval", "startDate": "2026-11-28T08:00:00.000Z",
           "endDate": "2026-12-28T08:00:00.000Z"}  # fmt: skip
    later = {**doc, "startDate": "2026-11-29T10:00:00.000Z", "endDate": "2026-12-29T10:00:00.000Z"}
    longer = {**doc, "endDate": "2027-01-28T08:00:00.000Z"}
    hashes = [plan_hash(FixPlan("cs", (CreateDoc(d),), (), ())) for d in (doc, later, longer)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_a_patch_hashes_its_before_and_after_but_not_its_stamp() -> None:
    def patch(before: object, stamp: str) -> FixPlan:
        op = PatchDoc("sub", {"isActive": True, "fixedBy": stamp}, {"isActive": before}, "rev1")
        return FixPlan("cs", (op,), (), ())

    assert plan_hash(patch(False, "U1")) == plan_hash(patch(False, "U2"))
    assert plan_hash(patch(False, "U1")) != plan_hash(patch(None, "U1"))


def test_the_expectation_refuses_a_changed_plan_and_lets_an_already_fixed_one_through() -> None:
    plan = _plan()
    expect_plan(plan_hash(plan))(plan)
    with pytest.raises(StaleFixError, match="changed since the proposal"):
        expect_plan("0" * 16)(plan)
    expect_plan("0" * 16)(FixPlan(plan.session, (), (), (), already_fixed=True))
    with pytest.raises(StaleFixError):
        expect_plan(plan_hash(plan))(FixPlan(plan.session, (), (), (), refused="tenant mismatch"))


def test_a_button_that_does_not_match_its_proposal_is_refused(store) -> None:
    from core.domain.approval import Approval
    from core.errors import UsageError
    from core.usecases.approvals import Approvals

    store.save_proposal(Proposal("p1", "cs_1", None, "a" * 16, "U1", NOW))
    approvals = Approvals(services=None, store=store)  # type: ignore[arg-type]  # not reached
    forged = Approval("p1", "cs_OTHER", None, "a" * 16, approver="U2")
    with pytest.raises(UsageError, match="does not match"):
        approvals.claim(forged)
