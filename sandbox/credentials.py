"""The credentials a sandbox accepts: exactly these, as the real services accept only the keys
they issued. Any other token or key gets the service's own refusal (Stripe's 401, Slack's
`invalid_auth`, Clerk's 401, Sanity's 401), so a bot's "key refused" paths are reachable
without injecting faults. All are fakes, meaningful only here."""

from __future__ import annotations

SLACK_BOT_TOKEN = "xoxb-0000000000-sandbox-bot-token"  # noqa: S105 - a fake, sandbox-only token
SLACK_APP_TOKEN = "xapp-1-A0PASSBOT-sandbox-app-token"  # noqa: S105
SLACK_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105
SANITY_API_TOKEN = "sk-sandbox-sanity-token"  # noqa: S105
CLERK_SECRET_KEY = "sk_test_sandboxclerkkey"  # noqa: S105
STRIPE_KEY_SUFFIX = "passbotsandboxkey"


def stripe_keys(mode: str) -> frozenset[str]:
    """The world's Stripe keys for its mode: the secret and the restricted key."""
    return frozenset({f"sk_{mode}_{STRIPE_KEY_SUFFIX}", f"rk_{mode}_{STRIPE_KEY_SUFFIX}"})
