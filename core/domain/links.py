"""Links from what passbot shows to where support acts on it: the Stripe Dashboard page of a
payment (on the school's connected account, test or live), the Sanity Studio document, the
Clerk dashboard user. Pure: ids and base addresses in, addresses out.

Address shapes (the vendors' own):
* Stripe: `https://dashboard.stripe.com/<acct_…>/test/payments/<pi_…>` — a connected account's
  page seen from the platform; no `<acct_…>/` for the platform's own purchases, no `test/` in
  live mode. A session with no PaymentIntent links to the Dashboard's search for its id.
* Sanity Studio: `<studio>/intent/edit/id=<id>;type=<type>/` — Studio's intent route, which opens
  the document whatever the desk structure.
* Clerk: `<dashboard>/users/<user_…>`, where the setting is the instance's dashboard address
  (`https://dashboard.clerk.com/apps/<app>/instances/<instance>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from core.domain.models import JSON, CheckoutSession

STRIPE_DASHBOARD = "https://dashboard.stripe.com"


def _seg(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Links:
    """Where each system shows a thing; a base left unset gives no link (None)."""

    studio_url: str | None = None
    clerk_dashboard_url: str | None = None
    stripe_dashboard_url: str = STRIPE_DASHBOARD

    def stripe_payment(self, session: CheckoutSession) -> str:
        """The payment's Dashboard page on the account that holds it, test or live."""
        base = self.stripe_dashboard_url.rstrip("/")
        if session.account:
            base += "/" + _seg(session.account)
        if not session.livemode:
            base += "/test"
        if session.payment_intent:
            return f"{base}/payments/{_seg(session.payment_intent)}"
        return f"{base}/search?query={_seg(session.id)}"

    def studio(self, doc_id: str | None, doc_type: str) -> str | None:
        """The Studio document (None without PASSBOT_STUDIO_URL or an id)."""
        if not self.studio_url or not doc_id:
            return None
        return f"{self.studio_url.rstrip('/')}/intent/edit/id={_seg(doc_id)};type={doc_type}/"

    def clerk_user(self, user_id: str | None) -> str | None:
        """The Clerk dashboard user (None without PASSBOT_CLERK_DASHBOARD_URL, or for a
        placeholder id that is not a Clerk user)."""
        if not self.clerk_dashboard_url or not user_id or not user_id.startswith("user_"):
            return None
        return f"{self.clerk_dashboard_url.rstrip('/')}/users/{_seg(user_id)}"

    def subscription(self, doc_id: str | None) -> str | None:
        """A pass (`subscription` document) in Studio."""
        return self.studio(doc_id, "subscription")

    def user(self, doc_id: str | None) -> str | None:
        """A Sanity `user` document in Studio."""
        return self.studio(doc_id, "user")


def _only(**links: str | None) -> dict[str, str]:
    return {k: v for k, v in links.items() if v}


def add_links(doc: JSON, links: Links, sessions: dict[str, CheckoutSession]) -> JSON:
    """`diagnose --json` with a `links` object on each user, Clerk account, purchase, pass and
    finding (keys only added, none renamed). `sessions`: the purchases' sessions by id."""
    for user in doc.get("users") or []:
        user["links"] = _only(
            studio=links.user(user.get("_id")), clerk=links.clerk_user(user.get("clerkId"))
        )
    for clerk in doc.get("clerk_users") or []:
        clerk["links"] = _only(clerk=links.clerk_user(clerk.get("id")))
    for purchase in doc.get("purchases") or []:
        session = sessions.get(str(purchase.get("session")))
        purchase["links"] = _only(
            stripe=links.stripe_payment(session) if session else None,
            studio=links.subscription(next(iter(purchase.get("subscriptions") or []), None)),
            clerk=links.clerk_user(session.user_id if session else None),
        )
    for view in doc.get("passes") or []:
        view["links"] = _only(studio=links.subscription(view.get("_id")))
    for finding in doc.get("findings") or []:
        session = sessions.get(str(finding.get("session")))
        subs = finding.get("subscriptions") or []
        finding["links"] = _only(
            stripe=links.stripe_payment(session) if session else None,
            studio=links.subscription(subs[0] if subs else None),
            clerk=links.clerk_user(session.user_id if session else None),
        )
    return doc


#: No Studio or Clerk address configured: Stripe links only.
NO_LINKS = Links()
