"""HttpWebhookProbe: the `WebhookProbe` port over httpx — an unsigned POST to the platform's
webhook URL with redirects disabled (FM-02, FM-07).

The probe carries no `Stripe-Signature` header, so a healthy handler rejects it with 400 before
doing anything; it is never retried (one request is the measurement).
"""

from __future__ import annotations

import httpx

from core.domain.health import ProbeAnswer

#: The body: an empty JSON object. The handler must refuse it for want of a signature.
PROBE_BODY = b"{}"
BODY_LIMIT = 300


def make_probe_client(*, timeout: float = 10.0) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` that never follows redirects."""
    return httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, headers={"User-Agent": "passbot-health"}
    )


class HttpWebhookProbe:
    """Probes a webhook URL the way Stripe would reach it, without a signature."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        """Args:
        client: an httpx client; redirects are not followed whatever its setting.
        """
        self._client = client

    async def probe(self, url: str) -> ProbeAnswer:
        """POST `{}` to `url`; the answer's status, `Location` and the start of its body."""
        try:
            response = await self._client.post(
                url,
                content=PROBE_BODY,
                headers={"Content-Type": "application/json"},
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            return ProbeAnswer(url=url, status=None, error="no answer in time")
        except httpx.TransportError as exc:
            return ProbeAnswer(url=url, status=None, error=_reason(exc))
        except httpx.InvalidURL as exc:
            return ProbeAnswer(url=url, status=None, error=f"not a usable URL: {exc}")
        return ProbeAnswer(
            url=url,
            status=response.status_code,
            location=response.headers.get("location"),
            body=response.text[:BODY_LIMIT],
        )


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "not an http(s) URL"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {str(exc) or type(exc).__name__}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer"
    return str(exc) or type(exc).__name__
