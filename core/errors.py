"""passbot's error tree. Messages are safe to show a user: no tokens, no raw vendor payloads.

CoreError
  UsageError          bad command input the user can fix (CLI exit 2)
  NotFoundError       no purchase / customer matches the query (CLI exit 2)
  RefusedError        a fix exists in principle but is unsafe here (CLI exit 1)
  StaleFixError       the state changed since the fix was proposed
  ForbiddenError      the acting person may not do this
  UpstreamError       Stripe, Sanity, Clerk or Slack failed; names the service (CLI exit 3)
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error passbot raises on purpose."""


class UsageError(CoreError):
    """Bad input from the person at the keyboard; nothing was done."""


class NotFoundError(CoreError):
    """Nothing matches the query (an unknown session, a customer with no records)."""


class RefusedError(CoreError):
    """A fix was asked for that passbot will not apply (unsafe, or no safe fix exists)."""


class StaleFixError(CoreError):
    """The data changed between the proposal and the approval; nothing was written."""


class ForbiddenError(CoreError):
    """The acting person is not allowed to do this."""


class UpstreamError(CoreError):
    """A service failed. `service` is one of stripe, sanity, clerk, slack."""

    def __init__(
        self, service: str, message: str, *, retryable: bool = False, denied: bool = False
    ) -> None:
        super().__init__(f"{service.capitalize()}: {message}")
        self.service = service
        self.retryable = retryable
        #: The service refused the credentials (401/403), rather than failing (5xx, timeout).
        self.denied = denied
