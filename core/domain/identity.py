"""Who the customer is (domain.md §1.9, §7.3): reference sets, and email only as a weak hint."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.domain.models import ClerkUser, SanityUser


def normalise_email(email: str | None) -> str:
    """Emails compare trimmed and case-insensitively (FM-24)."""
    return (email or "").strip().casefold()


def reference_set(clerk_id: str, users: Iterable[SanityUser]) -> frozenset[str]:
    """{clerkId} ∪ {`_id` of every user with `clerkId == X` or `_id == X`} — the app's resolver."""
    refs = {clerk_id}
    refs.update(u.id for u in users if clerk_id in (u.clerk_id, u.id))
    return frozenset(refs)


def users_for_clerk_id(clerk_id: str, users: Iterable[SanityUser]) -> list[SanityUser]:
    """Sanity users for a Clerk id: by `clerkId` (oldest first), then legacy `_id == clerkId`."""
    by_clerk: list[SanityUser] = []
    legacy: list[SanityUser] = []
    for u in users:
        if u.clerk_id == clerk_id:
            by_clerk.append(u)
        elif u.id == clerk_id:
            legacy.append(u)
    if len(by_clerk) > 1:
        by_clerk.sort(key=lambda u: (u.created_at is None, u.created_at, u.id))
    return by_clerk + legacy


@dataclass(frozen=True, slots=True)
class Customer:
    """Everyone an email could be: Sanity users, Clerk accounts, and their reference set."""

    email: str
    users: tuple[SanityUser, ...]
    clerk_users: tuple[ClerkUser, ...]

    @property
    def clerk_ids(self) -> frozenset[str]:
        """Every Clerk id linked to the email, from Clerk itself or from Sanity users."""
        ids = {c.id for c in self.clerk_users}
        ids.update(u.clerk_id for u in self.users if u.clerk_id)
        return frozenset(ids)

    def reference_set(self, all_users: Sequence[SanityUser]) -> frozenset[str]:
        """The union of the reference sets of every identity the email leads to."""
        refs: set[str] = {u.id for u in self.users}
        for clerk_id in self.clerk_ids:
            refs |= reference_set(clerk_id, all_users)
        return frozenset(refs)


def find_customer(
    email: str, users: Iterable[SanityUser], clerk_users: Iterable[ClerkUser]
) -> Customer:
    """Every Sanity user and Clerk account carrying this email, case-insensitively (FM-22/23)."""
    wanted = normalise_email(email)
    return Customer(
        email=email.strip(),
        users=tuple(u for u in users if normalise_email(u.email) == wanted),
        clerk_users=tuple(
            c for c in clerk_users if any(normalise_email(e) == wanted for e in c.emails)
        ),
    )


def looks_like_clerk_id(value: str | None) -> bool:
    """Clerk user ids start with `user_`; `manual_<ts>` placeholders never match a login (FM-25)."""
    return bool(value) and (value or "").startswith("user_")
