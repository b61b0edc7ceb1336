"""Faults from the world's `faults`, through the real CLI and adapters: passbot waits and
retries reads, names the failing service, never leaves a fix half applied, and the next run
completes the job."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import OLA_SESSION, TINY, doc, docs, run, write


@pytest.fixture(autouse=True)
def _own_db(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBOT_DB", str(tmp_path / "passbot.db"))
    monkeypatch.chdir(tmp_path)


def faulty(**fault: object) -> dict:
    world = copy.deepcopy(TINY)
    world["faults"] = [fault]
    return world


def test_stripe_rate_limit_is_waited_out(tmp_path, capsys):
    world = faulty(
        service="stripe", path="/v1/checkout/sessions", status=429, count=1, retry_after=1
    )
    dump = str(tmp_path / "out.json")
    code, out, err = run(
        capsys, "check", "--sandbox", write(tmp_path, world), "--json", "--dump-world", dump
    )
    assert code == 1, err  # the world's missing pass, found despite the 429
    assert json.loads(out)["findings"][0]["kind"] == "missing_pass"
    counts = json.loads(Path(dump).read_text())["requests"]["stripe"]
    assert counts["GET /v1/checkout/sessions"] == 3  # 2 accounts + 1 retry


@pytest.mark.parametrize("status", [500, 503, 0])
def test_sanity_read_failures_are_retried(status, tmp_path, capsys):
    world = faulty(service="sanity", path="/data/query", status=status, count=2)
    code, out, err = run(capsys, "check", "--sandbox", write(tmp_path, world), "--json")
    assert code == 1, err
    assert json.loads(out)["metrics"]["paid_pass_sessions"] == 2


def test_clerk_rate_limit_is_waited_out(tmp_path, capsys):
    world = faulty(service="clerk", path="/v1/users", status=429, count=1, retry_after=1)
    code, out, err = run(
        capsys, "diagnose", "ola.hansen177@example.com", "--sandbox", write(tmp_path, world),
        "--json",
    )  # fmt: skip
    assert code == 1, err
    assert json.loads(out)["clerk_users"][0]["id"] == "user_206X9A8RsDNN0ht9UqEYKDj1j"


def test_a_service_that_stays_down_is_named(tmp_path, capsys):
    world = faulty(service="clerk", path="/v1/users", status=503)
    code, out, err = run(
        capsys, "diagnose", "ola.hansen177@example.com", "--sandbox", write(tmp_path, world)
    )
    assert code == 3
    assert err.startswith("passbot: Clerk")
    assert out == ""


@pytest.mark.parametrize("status", [0, 500])
def test_a_write_cut_off_leaves_nothing_half_written_and_the_next_run_completes(
    status, tmp_path, capsys
):
    world = faulty(service="sanity", method="POST", path="/data/mutate", status=status, count=1)
    first = str(tmp_path / "first.json")
    code, _, err = run(
        capsys, "fix", OLA_SESSION, "--yes", "--sandbox", write(tmp_path, world),
        "--dump-world", first,
    )  # fmt: skip
    assert code == 3
    assert err.startswith("passbot: Sanity")
    state = json.loads(Path(first).read_text())
    assert len(docs(state, "subscription")) == 1  # only the one that was there
    code, out, _ = run(capsys, "audit", "--json")
    assert json.loads(out) == []  # nothing applied, nothing audited

    second = str(tmp_path / "second.json")
    code, out, err = run(
        capsys, "fix", OLA_SESSION, "--yes", "--sandbox", first, "--json", "--dump-world", second
    )
    assert code == 0, err
    assert json.loads(out)["created"] == [f"subscription-{OLA_SESSION}"]
    state = json.loads(Path(second).read_text())
    assert len(docs(state, "subscription")) == 2
    assert doc(state, f"subscription-{OLA_SESSION}")["isActive"] is True
