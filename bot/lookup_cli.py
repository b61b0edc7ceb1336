"""`passbot diagnose QUERY`: find the customer (bot/cli.py wires it), then diagnose them, with
every id linked and every time in PASSBOT_TIMEZONE; several customers found are listed."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from bot import render
from bot.container import build_links
from bot.settings import Settings
from core.domain.diagnose import diagnosis_json
from core.domain.links import add_links
from core.domain.lookup import Match
from core.usecases.lookup import Found, Lookup
from core.usecases.services import Services

Emit = Callable[[argparse.Namespace, Any, str], None]


def matches_json(found: Found) -> dict[str, Any]:
    """The pick-list as JSON: the query, and each customer found."""
    return {
        "query": {"kind": found.query.kind.value, "value": found.query.value},
        "matches": [match_json(m) for m in found.matches],
        "total": found.total,
    }


def match_json(match: Match) -> dict[str, Any]:
    """One customer of a pick-list."""
    return {
        "email": match.email,
        "names": list(match.names),
        "users": list(match.users),
        "clerk_ids": list(match.clerk_ids),
        "tenants": list(match.tenants),
    }


def render_matches(found: Found) -> str:
    """The pick-list as text: one line per customer, and how to pick."""
    more = f" (the first {len(found.matches)})" if found.total > len(found.matches) else ""
    lines = [f"{found.total} customers match {found.query.value!r}{more}; pick one:"]
    for i, match in enumerate(found.matches, 1):
        name = ", ".join(match.names) or "no name"
        schools = f"  [{', '.join(match.tenants)}]" if match.tenants else ""
        lines.append(f"  {i}. {name}  <{match.email}>{schools}")
        lines.append(f"     passbot diagnose {match.email}")
    return "\n".join(lines)


async def diagnose_command(
    args: argparse.Namespace, services: Services, settings: Settings, *, actor: str, emit: Emit
) -> int:
    """Exit 0, or 1 when a finding is critical or a choice between customers is needed."""
    text = " ".join(args.email) if isinstance(args.email, list) else str(args.email)
    found = await Lookup(services).find(text)
    if found.email is None:
        emit(args, matches_json(found), render_matches(found))
        return 1
    diagnosis = await services.diagnose(found.email, days=args.days, actor=actor)
    links = build_links(settings)
    sessions = {p.session.id: p.session for p in diagnosis.purchases}
    doc = add_links(diagnosis_json(diagnosis), links, sessions)
    doc["query"] = {"kind": found.query.kind.value, "value": found.query.value}
    tz = ZoneInfo(settings.passbot_timezone)
    emit(args, doc, render.render_diagnosis(diagnosis, tz=tz, links=links))
    return 1 if any(f.severity.value == "critical" for f in diagnosis.findings) else 0
