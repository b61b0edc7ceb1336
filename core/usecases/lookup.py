"""Find the customer behind whatever support has: an email, a Stripe id, a Sanity or Clerk id,
or a name. One customer: their email, to diagnose. Several: a short list to pick from.

Costs: a Checkout Session id is one request per school's account (as `fix` does); a PaymentIntent
or Charge id one or two per account; a Sanity id one query; a Clerk id one Clerk request and one
query; a name one query (every named user, projected to five fields).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.domain.lookup import MAX_MATCHES, USAGE, Match, Query, QueryKind, classify, group_matches
from core.domain.lookup import name_matches as _name_matches
from core.domain.models import CheckoutSession
from core.errors import NotFoundError, UsageError
from core.usecases.diagnose import parse_email
from core.usecases.services import Services


@dataclass(frozen=True, slots=True)
class Found:
    """What a lookup found: the customers (one, or several to pick from) and the query."""

    query: Query
    matches: tuple[Match, ...]
    total: int  # before the list was cut to MAX_MATCHES

    @property
    def email(self) -> str | None:
        """The one customer's email; None when there is a choice to make."""
        return self.matches[0].email if len(self.matches) == 1 else None


class Lookup:
    """Resolves a lookup's text to customers through the services' ports."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def find(self, text: str) -> Found:
        """The customers `text` names.

        Raises:
            UsageError: the text is no email, id or name (the one usage line), or a bad email.
            NotFoundError: nothing has that id or name.
        """
        query = classify(text)
        if query is None:
            raise UsageError(USAGE)
        if query.kind is QueryKind.EMAIL:
            return Found(query, (Match(parse_email(query.value), (), (), (), ()),), 1)
        matches = await self._matches(query)
        if not matches:
            raise NotFoundError(f"no customer has the {_what(query)} {query.value!r}")
        return Found(query, tuple(matches[:MAX_MATCHES]), len(matches))

    async def _matches(self, query: Query) -> list[Match]:
        passes, users = self.services.passes, self.services.users
        if query.kind is QueryKind.NAME:
            named = await passes.named_users()
            return group_matches(u for u in named if _name_matches(query.value, u.name))
        if query.kind is QueryKind.SANITY_ID:
            return group_matches(await passes.users_for_id(query.value))
        if query.kind is QueryKind.CLERK_USER:
            sanity, clerk = await asyncio.gather(
                passes.users_for_id(query.value), users.users_by_id([query.value])
            )
            return group_matches(sanity, clerk)
        session = await self._session(query)
        if session is None:
            return []
        return await self._buyer(session)

    async def _session(self, query: Query) -> CheckoutSession | None:
        catalogue = await self.services.catalogue()
        accounts = [a for a, _ in self.services.reader.accounts_of(catalogue)]
        payments = self.services.payments
        if query.kind is QueryKind.SESSION:
            return await payments.find_session(query.value, accounts=accounts)
        return await payments.find_session_by_payment(query.value, accounts=accounts)

    async def _buyer(self, session: CheckoutSession) -> list[Match]:
        """The buyer of a purchase: by its Clerk id (Clerk, then Sanity), else the email typed
        at Stripe."""
        clerk_id = session.user_id
        if not clerk_id:
            return group_matches((), email=session.email)
        sanity, clerk = await asyncio.gather(
            self.services.passes.users_for_id(clerk_id),
            self.services.users.users_by_id([clerk_id]),
        )
        return group_matches(sanity, clerk, email=session.email)


def _what(query: Query) -> str:
    return {
        QueryKind.SESSION: "Checkout Session",
        QueryKind.PAYMENT: "payment",
        QueryKind.CLERK_USER: "Clerk user id",
        QueryKind.SANITY_ID: "Sanity id",
        QueryKind.NAME: "name",
    }.get(query.kind, "id")
