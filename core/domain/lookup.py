"""What support typed, and who it names: pure rules of the customer lookup.

`classify` tells an email from a Stripe id (Checkout Session, PaymentIntent, Charge), a Clerk
user id, a Sanity document id or a name; `fold` compares names ignoring case and diacritics
("KARI NØRDMANN" is "kari nordmann"); `group_matches` turns the users found into distinct
customers, one per email, for a pick-list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.domain.identity import normalise_email
from core.domain.models import ClerkUser, SanityUser

#: The one usage line for input that names nothing passbot can look up.
USAGE = (
    "give an email, a Checkout Session (cs_…), PaymentIntent (pi_…) or Charge (ch_…) id, "
    "a Sanity subscription or user id, a Clerk user id (user_…), or a name"
)

#: At most this many customers are offered to pick from.
MAX_MATCHES = 10


class QueryKind(StrEnum):
    """What a lookup's text is."""

    EMAIL = "email"
    SESSION = "session"
    PAYMENT = "payment"  # a PaymentIntent or a Charge
    CLERK_USER = "clerk_user"
    SANITY_ID = "sanity_id"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class Query:
    """A lookup's text, classified."""

    kind: QueryKind
    value: str


_SANITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,127}")
_NAME = re.compile(r"[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*[.]?")
_MAILTO = re.compile(r"<mailto:([^|<>]+)(?:\|[^<>]*)?>")


def classify(text: str) -> Query | None:
    """What the text is; None when it is nothing passbot can look up."""
    value = " ".join((text or "").split())
    if not value or len(value) > 254 or not value.isprintable():
        return None
    if "@" in value or _MAILTO.fullmatch(value) or value.lower().startswith("mailto:"):
        return Query(QueryKind.EMAIL, value)
    if " " not in value and value.isascii():
        for prefix, kind in (
            ("cs_", QueryKind.SESSION),
            ("pi_", QueryKind.PAYMENT),
            ("ch_", QueryKind.PAYMENT),
            ("py_", QueryKind.PAYMENT),
            ("user_", QueryKind.CLERK_USER),
        ):
            if value.startswith(prefix) and _SANITY_ID.fullmatch(value):
                return Query(kind, value)
        if _SANITY_ID.fullmatch(value) and _looks_generated(value):
            return Query(QueryKind.SANITY_ID, value)
    if _NAME.fullmatch(value) and sum(ch.isalpha() for ch in value) >= 2:
        return Query(QueryKind.NAME, value)
    return None


def _looks_generated(value: str) -> bool:
    """A document id rather than a word: a digit, `_`, `.`, a `-` joining parts, or a long
    run of letters with capitals inside (Sanity's generated ids, `JzzzzgEOzdmenCkhvMdgaK`)."""
    if any(ch.isdigit() or ch in "_." for ch in value):
        return True
    if "-" in value and len(value) >= 12:
        return True
    return len(value) >= 16 and any(ch.isupper() for ch in value[1:])


#: Letters that Unicode does not decompose into a base letter and a mark.
_BASE = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l", "þ": "th"})


def fold(text: str | None) -> str:
    """A name for comparing: case and diacritics dropped, punctuation as spaces, one space."""
    lowered = (text or "").casefold().translate(_BASE)
    bare = "".join(
        ch for ch in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(ch)
    )
    return " ".join(re.sub(r"[^\w]+", " ", bare).split())


def name_matches(query: str, name: str | None) -> bool:
    """Every word of the query is a word of the name (any order, case and diacritics ignored):
    "kari" and "Nordmann Kari" both match "Kari Nordmann"."""
    wanted = fold(query).split()
    words = set(fold(name).split())
    return bool(wanted) and all(w in words for w in wanted)


@dataclass(frozen=True, slots=True)
class Match:
    """One customer a lookup found: who to diagnose (by email) and how to tell them apart."""

    email: str
    names: tuple[str, ...]
    users: tuple[str, ...]  # Sanity user ids
    clerk_ids: tuple[str, ...]
    tenants: tuple[str, ...]


def group_matches(
    users: Iterable[SanityUser], clerk_users: Iterable[ClerkUser] = (), *, email: str | None = None
) -> list[Match]:
    """Distinct customers, one per email (any case), from the users a lookup found; `email`
    (the address a purchase was made with) stands in when none of them has one. Users with no
    email at all cannot be diagnosed and are left out. Sorted by name, then email."""
    groups: dict[str, dict[str, list[str]]] = {}

    def add(address: str | None, **parts: str | None) -> None:
        if not address or not normalise_email(address):
            return
        group = groups.setdefault(
            normalise_email(address),
            {"email": [address.strip()], "names": [], "users": [], "clerk": [], "tenants": []},
        )
        for key, value in parts.items():
            if value and value not in group[key]:
                group[key].append(value)

    users, clerk_users = list(users), list(clerk_users)
    for user in users:
        add(user.email or email, names=user.name, users=user.id, clerk=user.clerk_id,
            tenants=user.tenant_id)  # fmt: skip
    for clerk in clerk_users:
        name = " ".join(p for p in (clerk.first_name, clerk.last_name) if p) or None
        add(clerk.primary_email or email, names=name, clerk=clerk.id)
    if not groups and email:
        add(email)
    matches = [
        Match(
            email=g["email"][0],
            names=tuple(g["names"]),
            users=tuple(g["users"]),
            clerk_ids=tuple(g["clerk"]),
            tenants=tuple(g["tenants"]),
        )
        for g in groups.values()
    ]
    return sorted(matches, key=lambda m: (fold(m.names[0] if m.names else ""), m.email.lower()))
