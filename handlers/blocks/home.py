"""The App Home tab: health at a glance, the last run of each job, who may approve, and the open
findings by school — each with "Not a problem" and a button that opens its card."""

from __future__ import annotations

from datetime import tzinfo

from core.domain.metrics import FindingRecord
from core.usecases.home import HomeData
from core.usecases.proposals import Offer
from handlers.blocks.fix import build_offer
from handlers.blocks.kit import (
    Block,
    View,
    button,
    context,
    divider,
    escape,
    header,
    section,
)
from handlers.blocks.refs import slack_time
from handlers.ids import ActionId, BlockId
from handlers.payloads import DismissValue

#: Findings shown per school (the rest are counted); a Home tab holds 100 blocks.
PER_SCHOOL = 5
MAX_HOME_BLOCKS = 100
_SEVERITY = {"critical": "🔴", "warning": "🟠", "info": "⚪"}
_JOBS = {
    "summary": "Daily summary",
    "sweep": "Weekly sweep",
    "health": "Health check",
    "early_warning": "Early warning",
}


def _mention(approver: str) -> str:
    return (
        f"<!subteam^{escape(approver)}>" if approver.startswith("S") else f"<@{escape(approver)}>"
    )


def _finding_blocks(
    record: FindingRecord, n: int, offer: Offer | None, schools: dict[str, str]
) -> list[Block]:
    mark = _SEVERITY.get(record.severity, "⚪")
    text = f"{mark} *{escape(record.kind)}* — {escape(record.summary)}"
    fix = offer.proposal.id if offer else None
    dismiss = button(
        "Not a problem",
        action_id=ActionId.FINDING_DISMISS,
        value=DismissValue.make(record.key, fix=fix).encode(),
    )
    blocks: list[Block] = [section(text, block_id=f"{BlockId.FINDING}:home{n}", accessory=dismiss)]
    if offer is not None:  # what will be written, and Approve (its confirm says it again)
        blocks += build_offer([offer], schools)
    if record.session:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{BlockId.HOME_OPEN}:{n}",
                "elements": [
                    button("Open its card", action_id=ActionId.HOME_OPEN, value=record.session)
                ],
            }
        )
    return blocks


def _runs(data: HomeData, tz: tzinfo) -> list[str]:
    by_job = {r.job: r for r in data.runs}
    lines = []
    for job, name in _JOBS.items():
        run = by_job.get(job)
        if run is None:
            lines.append(f"• {name}: not run yet")
            continue
        when = slack_time(run.finished_at or run.claimed_at, tz)
        state = {"done": "✅ done", "failed": "❌ failed"}.get(run.status, f"⏳ {run.status}")
        lines.append(f"• {name}: {state} · {when} (period {escape(run.period)})")
    return lines


def build_home(data: HomeData, *, tz: tzinfo, notice: str | None = None) -> View:
    """The Home tab's view (type `home`)."""
    findings = data.open_findings
    critical = sum(1 for r in findings if r.severity == "critical")
    health = next((r for r in data.runs if r.job == "health"), None)
    glance = (
        f"{'🔴' if critical else '✅'} *{critical}* critical and *{len(findings) - critical}* "
        f"other open findings · last health check: "
        + (
            f"{'✅' if health.status == 'done' else '❌'} {slack_time(health.claimed_at, tz)}"
            if health
            else "not run yet"
        )
    )
    approvers = ", ".join(_mention(a) for a in data.approvers) or "_nobody (PASSBOT_APPROVERS)_"
    blocks: list[Block] = [header("passbot")]
    if notice:
        blocks.append(context(notice))
    blocks += [
        section(f"*Health at a glance*\n{glance}"),
        section("*Last runs*\n" + "\n".join(_runs(data, tz))),
        section(f"*Who may approve:* {approvers}"),
        context(f"updated {slack_time(data.now, tz)}"),
        divider(),
    ]
    blocks += _by_school(data, room=MAX_HOME_BLOCKS - len(blocks))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _by_school(data: HomeData, *, room: int) -> list[Block]:
    findings, schools = data.open_findings, data.schools
    if not findings:
        return [section("✅ *No open findings:* every paid purchase has its pass.")]
    groups: dict[str | None, list[FindingRecord]] = {}
    for record in findings:
        groups.setdefault(record.tenant if record.tenant in schools else None, []).append(record)
    out: list[Block] = [header(f"Open findings ({len(findings)})")]
    n = 0
    for tenant, records in sorted(groups.items(), key=lambda g: (g[0] is None, str(g[0]))):
        name = schools.get(tenant, tenant) if tenant else "Not tied to a school"
        group: list[Block] = [section(f"*{escape(name)}* — {len(records)} open")]
        for record in records[:PER_SCHOOL]:
            group += _finding_blocks(record, n, data.offers.get(record.key), schools)
            n += 1
        if len(records) > PER_SCHOOL:
            group.append(context(f"{len(records) - PER_SCHOOL} more: see the summary's thread"))
        if len(out) + len(group) > room:
            out.append(context("More schools have open findings: see the summary."))
            break
        out += group
    return out
