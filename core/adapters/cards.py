"""Slack cards shared by replicas, in passbot's database (PASSBOT_DB; migration 4 in
core/adapters/db/migrations.py): the `CardStore` port.

    card_state(channel, ts, blocks NULL, holder NULL, locked_until NULL, updated_at)
               PRIMARY KEY (channel, ts)                    -- index on updated_at

The lease is one conditional upsert (`… DO UPDATE … WHERE holder IS NULL OR locked_until < now`),
atomic on both engines: of two replicas pressing one card, one takes it, the other tries again.
An unreturned lease (a replica killed mid-update) lapses after `lease` seconds. Leases are
reckoned on the replicas' wall clocks (time.time), so their hosts' clocks must agree within
much less than a lease. Cards untouched for a week are forgotten (a card then is made from the
press's blocks, as after a restart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.adapters.db import Database
from core.domain.models import JSON

#: How long a card's blocks are kept after its last update.
KEEP = timedelta(days=7)


class SqlCards:
    """The `CardStore` port over PASSBOT_DB (it does not close the database: its owner does)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def try_lock(self, channel: str, ts: str, holder: str, *, lease: float) -> bool:
        """Take the card's lease unless another holder has it unexpired."""
        now = time.time()
        row = self._db.execute(
            "INSERT INTO card_state (channel, ts, holder, locked_until, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, ts) DO UPDATE SET"
            " holder = excluded.holder, locked_until = excluded.locked_until"
            " WHERE card_state.holder IS NULL OR card_state.locked_until < ?"
            " RETURNING holder",
            (channel, ts, holder, now + lease, _now(), now),
        ).one()
        return row is not None and row[0] == holder

    def unlock(self, channel: str, ts: str, holder: str) -> None:
        """Give the lease back, if `holder` still has it."""
        self._db.execute(
            "UPDATE card_state SET holder = NULL, locked_until = NULL"
            " WHERE channel = ? AND ts = ? AND holder = ?",
            (channel, ts, holder),
        )

    def recall(self, channel: str, ts: str) -> list[JSON] | None:
        """The card's latest blocks, if kept."""
        row = self._db.execute(
            "SELECT blocks FROM card_state WHERE channel = ? AND ts = ?", (channel, ts)
        ).one()
        if row is None or row[0] is None:
            return None
        blocks = json.loads(str(row[0]))
        return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else None

    def remember(self, channel: str, ts: str, blocks: Sequence[JSON]) -> None:
        """Keep the card's latest blocks (and forget cards untouched for a week)."""
        now = datetime.now(tz=UTC)
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO card_state (channel, ts, blocks, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel, ts) DO UPDATE SET blocks = excluded.blocks,"
                " updated_at = excluded.updated_at",
                (channel, ts, json.dumps(list(blocks)), now.isoformat()),
            )
            tx.execute(
                "DELETE FROM card_state WHERE updated_at < ?"
                " AND (holder IS NULL OR locked_until < ?)",
                ((now - KEEP).isoformat(), time.time()),
            )


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()
