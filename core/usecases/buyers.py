"""What Sanity has already said about the buyers of one run, so each buyer is asked for once.

Each page of purchases needs every subscription and user of its buyers (duplicates, upgrades,
manual matches). A buyer with purchases on many pages used to bring the same documents back on
every one of them: at 10,000 purchases over 20 schools, 56,100 subscription documents came back
for about 10,000 distinct ones — most of the bytes Sanity sent and most of the CPU spent decoding
them. A `BuyerMemory` lives for one run (one `check`, one scheduled scan): a page's query names
only the buyers no earlier page has named, and the documents of the others are taken from the
earlier answers. Nothing is kept between runs, so no answer is older than the run that uses it.

Completeness: the answer that named a buyer holds every user whose `clerkId` or `_id` is that
buyer's id and every subscription referencing the id or one of those users (RELATED_QUERY), so
what the memory hands back for an earlier buyer is what a query of its own would have returned.
A page's query also leaves out, among the subscriptions linked to its sessions and payments,
those referencing its earlier buyers (their Clerk ids and their users' `_id`s, `known_refs`):
they are in memory already, and a purchase's pass is usually its buyer's, so each subscription
comes back about once per run instead of twice. (An earlier buyer whose answer is still in
flight is known by its Clerk id alone: what its users own may come twice, and is kept once.)
Pages are read concurrently: a page whose buyer is being asked by another page's query, still in
flight, waits for that answer (and asks itself if that query failed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence

from core.domain.models import SanityUser, Subscription
from core.ports import Related

#: Asks Sanity about a page: (session ids, payment ids, buyers' Clerk ids to name, user
#: references whose subscriptions are held already) -> its answer (`PassStore.related`).
Ask = Callable[[Sequence[str], Sequence[str], Sequence[str], Sequence[str]], Awaitable[Related]]


class BuyerMemory:
    """The users and subscriptions of the buyers already asked about in one run."""

    def __init__(self) -> None:
        #: Buyer id -> resolved True once an answer naming it is learned (False if it failed).
        self._asked: dict[str, asyncio.Future[bool]] = {}
        #: A Clerk id or a user `_id` -> the users it names, by `_id`.
        self._users: dict[str, dict[str, SanityUser]] = {}
        #: A user reference (`user._ref`) -> its subscriptions, by `_id`.
        self._subscriptions: dict[str, dict[str, Subscription]] = {}
        #: Buyers named in queries, and buyers served from memory (for tests and benchmarks).
        self.asked = 0
        self.remembered = 0

    async def related(
        self,
        ask: Ask,
        *,
        session_ids: Sequence[str],
        payment_ids: Sequence[str],
        clerk_ids: Sequence[str],
    ) -> Related:
        """What Sanity holds about a page: one query naming the page's sessions, payments and
        new buyers, leaving out what the earlier buyers own; their documents from memory."""
        new = [c for c in clerk_ids if c not in self._asked]
        earlier = {c: self._asked[c] for c in clerk_ids if c in self._asked}
        mine: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        for c in new:
            self._asked[c] = mine
        self.asked += len(new)
        learned = False
        try:
            fresh = await ask(session_ids, payment_ids, new, self._references(earlier))
            self.learn(fresh)
            learned = True
        finally:
            if not learned:  # failed or cancelled: a later page asks about them itself
                for c in new:
                    if self._asked.get(c) is mine:
                        del self._asked[c]
            mine.set_result(learned)
        again = [c for c, answer in earlier.items() if not await answer]
        if again:  # the query that named them failed: ask now, and remember the answer
            self.learn(await ask((), (), again, ()))
        self.remembered += len(earlier) - len(again)
        return self._merged(fresh, list(earlier))

    def _references(self, buyers: Iterable[str]) -> list[str]:
        """The user references of `buyers` known so far: their ids and their users' `_id`s."""
        refs: dict[str, None] = {}
        for clerk_id in buyers:
            refs[clerk_id] = None
            refs.update(dict.fromkeys(self._users.get(clerk_id, {})))
        return list(refs)

    def learn(self, related: Related) -> None:
        """Remember an answer's users and subscriptions (a later copy replaces an earlier)."""
        for user in related.users:
            for key in {user.id, user.clerk_id}:
                if key:
                    self._users.setdefault(key, {})[user.id] = user
        for sub in related.subscriptions:
            if sub.user_ref:
                self._subscriptions.setdefault(sub.user_ref, {})[sub.id] = sub

    def _merged(self, fresh: Related, buyers: Sequence[str]) -> Related:
        """`fresh` with the remembered users and subscriptions of `buyers` added."""
        if not buyers:
            return fresh
        users = {u.id: u for u in fresh.users}
        subscriptions = {s.id: s for s in fresh.subscriptions}
        for clerk_id in buyers:
            named = self._users.get(clerk_id, {})
            for user_id, user in named.items():
                users.setdefault(user_id, user)
            for ref in (clerk_id, *named):
                for sub_id, sub in self._subscriptions.get(ref, {}).items():
                    subscriptions.setdefault(sub_id, sub)
        return Related(
            subscriptions=tuple(subscriptions.values()),
            users=tuple(users.values()),
            clerk_users=fresh.clerk_users,
        )
