"""The App Home tab: published when a person opens it (`app_home_opened`), and published again
for everyone who has it open in this process when something changes (a fix applied, a finding
dismissed) — `Homes.refresh`."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection
from datetime import tzinfo
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from core.errors import UpstreamError
from core.usecases.approvals import Approvals
from core.usecases.home import home_data
from core.usecases.jobs import Jobs
from handlers.blocks.home import build_home
from handlers.messages import publish_home

logger = logging.getLogger(__name__)


class Homes:
    """Who opened the Home tab lately (bounded), to refresh it when something changes."""

    def __init__(self, size: int = 200) -> None:
        self._viewers: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def opened(self, user: str) -> None:
        """Remember a viewer."""
        self._viewers[user] = None
        self._viewers.move_to_end(user)
        while len(self._viewers) > self._size:
            self._viewers.popitem(last=False)

    @property
    def viewers(self) -> list[str]:
        """Everyone remembered, oldest first."""
        return list(self._viewers)

    async def show(
        self,
        client: AsyncWebClient,
        user: str,
        *,
        jobs: Jobs,
        approvers: Collection[str],
        tz: tzinfo,
        approvals: Approvals | None = None,
        notice: str | None = None,
    ) -> None:
        """Publish the tab for one person (its fixes proposed, with `approvals`)."""
        proposer = approvals.proposer if approvals is not None else None
        data = await home_data(jobs, approvers, proposer=proposer)
        await publish_home(client, user, build_home(data, tz=tz, notice=notice))

    async def refresh(
        self,
        client: AsyncWebClient,
        *,
        jobs: Jobs | None,
        approvers: Collection[str],
        tz: tzinfo,
        approvals: Approvals | None = None,
        notice: str | None = None,
    ) -> None:
        """Publish the tab again for every viewer; a failure is logged (what changed stands)."""
        if jobs is None or not self._viewers:
            return
        proposer = approvals.proposer if approvals is not None else None
        data = await home_data(jobs, approvers, proposer=proposer)
        view = build_home(data, tz=tz, notice=notice)
        for user in self.viewers:
            try:
                await publish_home(client, user, view)
            except UpstreamError as err:
                logger.warning("could not refresh the Home tab of %s: %s", user, err)


async def handle_app_home_opened(
    event: dict[str, Any],
    client: AsyncWebClient,
    homes: Homes,
    jobs: Jobs | None,
    approvals: Approvals,
    approvers: Collection[str],
    tz: tzinfo,
) -> None:
    """Publish the Home tab for the person who opened it (its Messages tab needs nothing)."""
    if event.get("tab", "home") != "home" or jobs is None:
        return
    user = str(event.get("user", ""))
    homes.opened(user)
    await homes.show(client, user, jobs=jobs, approvers=approvers, tz=tz, approvals=approvals)
