"""Benchmark: decoding one page of Checkout Sessions, msgspec's way and the tolerant way.

    .venv/bin/python -m bench.stripe_pages --purchases 2000 --schools 2 --repeat 30

It generates a world (bench.reconcile's kind: paid pass purchases spread over the schools),
serves it from the sandbox in this process, and lists every account's sessions through
`StripePayments.session_pages` (stripe-python's HTTP client keeping each page's body: ~500 kB
for 100 sessions expanded to the charge and the line items). Then, for every full page, it
times (best of `--repeat`, CPU of this process):

* old: `wire.loads` (orjson) and `CheckoutSession.from_json` for each item — the tolerant path;
* new: `stripe_pages.read_page` — msgspec into the fields read, then the sessions;
* of which msgspec's decoding alone, and building the 100 `CheckoutSession`s (with `raw`).

It prints the median over pages, the same ×117 (the pages of a 10k reconciliation), how many
pages msgspec refused (the tolerant path read them), and the command that reproduces it.
Figures, not assertions: this is not a test (tests/adapters/test_stripe_pages.py is).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from core.adapters import stripe_pages, wire
from core.adapters.stripe import StripePayments, make_stripe_client, stripe_mode
from sandbox import start_sandbox
from sandbox.worlds import generate_world

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)
PAGES_AT_10K = 117


class _Recording(stripe.HTTPXClient):
    """stripe-python's own HTTP client, keeping the body of every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    async def request_with_retries_async(self, *args: Any, **kwargs: Any) -> tuple[Any, int, Any]:
        rbody, rcode, rheaders = await super().request_with_retries_async(*args, **kwargs)
        self.bodies.append(rbody)
        return rbody, rcode, rheaders


async def _pages(schools: int, purchases: int) -> list[tuple[bytes, str | None]]:
    """Every full page (100 sessions) of the world's accounts, with the account it is from."""
    world = generate_world(seed=schools, schools=schools, purchases=purchases, now=NOW)
    box = await start_sandbox(world)
    out: list[tuple[bytes, str | None]] = []
    try:
        env = box.settings()
        for account in [None, *(a["id"] for a in world["stripe"]["accounts"])]:
            http = _Recording()
            client = make_stripe_client(
                env["STRIPE_API_KEY"], api_base=env["STRIPE_API_BASE"], http_client=http
            )
            payments = StripePayments(client, mode=stripe_mode(env["STRIPE_API_KEY"]))
            async for _ in payments.session_pages(
                account, since=NOW - timedelta(days=40), until=NOW
            ):
                pass
            await http.close_async()  # type: ignore[no-untyped-call]
            out += [(b, account) for b in http.bodies if len(wire.loads(b)["data"]) == 100]
    finally:
        await box.close()
    return out


def _best(call: Callable[[], object], repeat: int) -> float:
    """The least CPU seconds of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def _time_page(body: bytes, account: str | None, repeat: int) -> dict[str, float]:
    """CPU seconds of each way of reading one page (best of `repeat`)."""
    data = stripe_pages._decode(body).data or []
    return {
        "old": _best(lambda: stripe_pages.tolerant_page(wire.loads(body), account), repeat),
        "new": _best(lambda: stripe_pages.read_page(body, account), repeat),
        "msgspec": _best(lambda: stripe_pages._decode(body), repeat),
        "build": _best(lambda: [stripe_pages._session(s, account) for s in data], repeat),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--purchases", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)

    pages = asyncio.run(_pages(args.schools, args.purchases))
    if not pages:
        print("no full page: raise --purchases", file=sys.stderr)
        return 2
    timings = [_time_page(body, account, args.repeat) for body, account in pages]
    rows = {key: [t[key] for t in timings] for key in ("old", "new", "msgspec", "build")}
    refused = sum(stripe_pages.decode_page(body, account) is None for body, account in pages)
    size = statistics.median(len(body) for body, _ in pages) / 1000
    print(f"{len(pages)} pages of 100 sessions, median {size:.0f} kB; msgspec refused {refused}")
    print(f"{'':28} {'ms a page':>10} {f'× {PAGES_AT_10K} pages':>14}")
    labels = {
        "old": "old: orjson + from_json",
        "new": "new: read_page",
        "msgspec": "  of which msgspec decoding",
        "build": "  of which the sessions",
    }
    for key, label in labels.items():
        ms = statistics.median(rows[key]) * 1000
        print(f"{label:28} {ms:10.2f} {ms * PAGES_AT_10K / 1000:13.2f}s")
    command = " ".join(
        [
            ".venv/bin/python -m bench.stripe_pages",
            f"--purchases {args.purchases} --schools {args.schools} --repeat {args.repeat}",
        ]
    )
    print(f"\n{command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
