"""`/passcheck [days]`: one reconciliation, summarised on a card, every finding in the thread."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from core.domain.findings import SEVERITY_ORDER, Finding
from core.domain.reconcile import ReconcileReport
from core.usecases.proposals import Offer
from handlers.blocks.diagnose import MARK
from handlers.blocks.kit import (
    MAX_BLOCKS,
    Block,
    Message,
    code,
    context,
    escape,
    header,
    message,
    section,
)
from handlers.blocks.summary import open_findings


def _finding_line(finding: Finding, schools: Mapping[str, str]) -> str:
    where = " · ".join(
        x
        for x in (
            escape(schools.get(finding.tenant, finding.tenant)) if finding.tenant else "",
            code(finding.session) if finding.session else "",
        )
        if x
    )
    hint = f" → `/fixpass {escape(finding.email)}`" if finding.email and finding.fix else ""
    return (
        f"{MARK[finding.severity]} *{escape(finding.kind.value)}* "
        f"{'· ' + where + ' ' if where else ''}— {escape(finding.summary)}{hint}"
    )


def build_check_report(
    report: ReconcileReport,
    *,
    mode: str,
    schools: Mapping[str, str],
    offers: Sequence[Offer] = (),
    dismissed: Collection[str] = (),
) -> tuple[Message, list[Message]]:
    """The reconciliation card and its thread: each finding with the summary's buttons — Not a
    problem, and Approve where a fix was proposed (`offers`); dismissed ones left out."""
    rate = report.fulfilment_rate
    days = max(1, round((report.window.end - report.window.start).total_seconds() / 86400))
    accounts = ", ".join(
        f"{escape(a.account)} {'ok' if a.ok else '🔴 unreachable'}" for a in report.accounts
    )
    findings = sorted(
        (f for f in report.findings if f.key not in dismissed),
        key=lambda f: SEVERITY_ORDER[f.severity],
    )
    lines = [_finding_line(f, schools) for f in findings]
    blocks: list[Block] = [
        header(f"Pass check — the last {days} days ({mode} mode)"),
        section(
            f"*{report.paid_pass_sessions}* paid pass purchases · *{report.with_pass}* with a "
            f"pass · fulfilment *{'—' if rate is None else f'{rate:.1%}'}* · "
            f"{report.not_pass_sessions} other sessions"
        ),
        context(f"accounts: {accounts}"),
    ]
    details: list[Message] = []
    if lines:
        title = f"*Findings* ({len(lines)}) — each with its fix, or who must decide"
        shown, details = open_findings(
            findings, offers, schools, room=MAX_BLOCKS - len(blocks), title=title
        )
        blocks += shown
    else:
        blocks.append(section("✅ No findings: every paid purchase has its pass."))
    verdict = "needs attention" if report.needs_attention else "all good"
    card = message(f"Pass check: {len(lines)} findings ({verdict})", blocks)
    return card, details
