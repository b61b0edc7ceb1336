"""Findings about Sanity users rather than purchases (pure): several users for one Clerk id
(FM-23) and placeholder Clerk ids that no login can match (FM-25). Both are `info`: worth
knowing and counted in the summaries, never fixed automatically (deduplication is human)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from core.domain.findings import Finding, Kind, Severity
from core.domain.identity import looks_like_clerk_id, users_for_clerk_id
from core.domain.models import SanityUser


def user_findings(users: Iterable[SanityUser]) -> list[Finding]:
    """Duplicate users per Clerk id (naming the one passbot references: the oldest by
    `_createdAt`, then `_id`), and users whose `clerkId` is a placeholder."""
    unique = list({u.id: u for u in users}.values())
    by_clerk: dict[str, list[SanityUser]] = defaultdict(list)
    findings: list[Finding] = []
    for user in unique:
        if user.clerk_id:
            by_clerk[user.clerk_id].append(user)
            if not looks_like_clerk_id(user.clerk_id):
                findings.append(
                    Finding(
                        kind=Kind.PLACEHOLDER_CLERK_ID,
                        severity=Severity.INFO,
                        summary=f"user {user.id} has clerkId {user.clerk_id[:40]!r}, which is "
                        "not a Clerk id (user_…): no login can match it",
                        tenant=user.tenant_id,
                        user=user.id,
                        email=user.email,
                        why_no_fix="which Clerk account it belongs to is a person's decision",
                    )
                )
    for clerk_id, group in sorted(by_clerk.items()):
        if len(group) < 2:
            continue
        ordered = users_for_clerk_id(clerk_id, group)
        oldest, others = ordered[0], ordered[1:]
        findings.append(
            Finding(
                kind=Kind.DUPLICATE_USER,
                severity=Severity.INFO,
                summary=f"{len(group)} Sanity users have clerkId {clerk_id}: passbot references "
                f"the oldest, {oldest.id}; the others are " + ", ".join(u.id for u in others),
                tenant=oldest.tenant_id,
                user=oldest.id,
                email=oldest.email,
                why_no_fix="which user keeps the passes is a person's decision",
                details=tuple(u.id for u in ordered),
            )
        )
    return findings
