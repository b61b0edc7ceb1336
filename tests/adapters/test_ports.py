"""The adapters implement the ports (checked by mypy over this module, and at runtime here)."""

from __future__ import annotations

import httpx
import stripe

from core.adapters.clerk import ClerkUsers
from core.adapters.sanity import SanityPasses
from core.adapters.stripe import StripePayments, make_stripe_client
from core.ports import PassStore, PaymentsSource, UserDirectory
from tests.adapters.conftest import FakeStripeHTTP


async def test_adapters_satisfy_the_protocols() -> None:
    http = FakeStripeHTTP(lambda method, url, headers: (200, {}))
    client: stripe.StripeClient = make_stripe_client(
        "sk_test_x", api_base="http://127.0.0.1:9", http_client=http
    )
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as raw:
        payments: PaymentsSource = StripePayments(client, mode="test")
        passes: PassStore = SanityPasses(raw, dataset="production", api_version="2025-02-19")
        users: UserDirectory = ClerkUsers(raw)
        assert payments.mode == "test"
        assert passes.dataset == "production"
        assert users is not None
