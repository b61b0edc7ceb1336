"""`/passhealth` and the monthly health check: each check with ✅ or ❌ and, when it failed,
what to do (the check's own detail says it)."""

from __future__ import annotations

from datetime import tzinfo

from core.domain.health import Check, HealthReport
from handlers.blocks.kit import Block, Message, context, escape, header, line_sections, message


def check_line(check: Check) -> str:
    """One check: its mark, name and detail (a failure's detail says what to do)."""
    if check.ok:
        return f"✅ *{escape(check.name)}* — {escape(check.detail)}"
    if check.skipped:
        return f"⏭️ *{escape(check.name)}* — {escape(check.detail)}"
    return f"❌ *{escape(check.name)}* ({escape(check.severity)}) — {escape(check.detail)}"


def build_health_card(report: HealthReport, *, tz: tzinfo) -> Message:
    """The health report: failures first, then the checks that passed."""
    failed = report.failures
    total = len(report.checks)
    title = (
        f"🩺 passbot health — all {total} checks passed"
        if not failed
        else f"🩺 passbot health — {len(failed)} of {total} checks failed"
    )
    when = report.checked_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    blocks: list[Block] = [
        header(title),
        context(f"{escape(report.mode)} mode · checked {when}"),
    ]
    if failed:
        blocks += line_sections([check_line(c) for c in failed], title="*Failed — what to do*")
    passed = [c for c in report.checks if c.ok]
    if passed:
        blocks += line_sections([check_line(c) for c in passed], title="*Passed*")
    if report.service_errors:
        errors = " · ".join(escape(e) for e in report.service_errors)
        blocks.append(context(f"⚠️ a service failed while checking: {errors}"))
    fallback = title.removeprefix("🩺 ")
    if failed:
        fallback += ": " + ", ".join(c.name for c in failed)
    return message(fallback, blocks)
