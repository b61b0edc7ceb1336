"""The GROQ passbot sends to Sanity, in a module of its own: the adapter (core/adapters/sanity.py)
sends them, and bench/floor.py sends exactly the same ones without importing the adapter.
"""

from __future__ import annotations

# Values reach every query only as $params. Arrays handed to `in` never hold null: in GROQ
# `null in [null]` is true, so a null would match every document lacking the field (FM-47).

CATALOGUE_QUERY = """{
  "tenants": *[_type == "tenant"],
  "passes": *[_type == "pass"]
}"""

# The buyers' reference sets (domain.md §1.9): their Clerk ids, plus the _id of every user whose
# clerkId or _id is one of them. The sub-query is uncorrelated (no `^`), so an engine can answer
# it once — Sanity's does, and so does the sandbox's planner, which then uses its indexes. The
# subscriptions are those the buyers own, then those linked to the page's sessions or payments,
# less the ones referencing `$knownRefs` (user references whose subscriptions the caller holds
# already: an earlier page of the same run asked for them); each half is a plain filter an index
# answers, and the second is narrowed afterwards. A subscription in both halves comes twice (the
# adapter keeps one); with no known references nothing is left out.
RELATED_QUERY = """{
  "users": *[_type == "user" && (clerkId in $clerkIds || _id in $clerkIds)],
  "subscriptions": *[_type == "subscription" && (
    user._ref in $clerkIds
    || user._ref in *[_type == "user" && (clerkId in $clerkIds || _id in $clerkIds)]._id
  )] + *[_type == "subscription" && (
    stripeSessionId in $sessionIds
    || stripePaymentId in $paymentIds
    || stripePaymentIntentId in $paymentIds
    || paymentId in $paymentIds
  )][!(user._ref in $knownRefs)]
}"""

# `endDate > $now` compares ISO strings, as the platform's visibility code does (§1.10). Each
# subscription carries the user it references, dereferenced by id (`user->`): the audit needs
# to know whether that user exists and its email, and a by-id lookup stays cheap however many
# users there are (a second filter over all users, matched against every reference, does not).
# Legacy references that hold a Clerk id resolve to nothing here, and the audit knows them by
# their `user_` prefix.
ACTIVE_QUERY = """*[_type == "subscription" && isActive == true && endDate > $now]{
  ...,
  "passbotReferencedUser": user->{_id, _type, clerkId, email, name, tenant}
}"""

# The same, a page at a time in `_id` order (keyset pagination: each page starts after the last
# id of the one before), so that an audit of 100k passes never holds them all at once — and
# without the passes' contents: each active pass's `_id` and `_rev`, with its user as
# ACTIVE_QUERY projects it. A pass the run has read at that revision already (a
# buyer's, a page's) is taken from what was read; the others are asked for whole, by id
# (ACTIVE_BY_ID_QUERY, the same filter). At 10k purchases, 9,285 of 9,286 active passes were
# read earlier in the run: the audit's answer shrinks from 9.1 MB to 2.7 MB.
ACTIVE_REVISIONS_QUERY = """*[_type == "subscription" && isActive == true && endDate > $now
    && _id > $after] | order(_id asc) [0...$size]{
  _id,
  _rev,
  "passbotReferencedUser": user->{_id, _type, clerkId, email, name, tenant}
}"""

# At most this many ids a query: 10,000 subscription ids are ~750 kB of JSON, near the request
# size some proxies refuse; 2,000 keep a cold audit page (nothing read before) to 5 requests.
ACTIVE_BY_ID_CHUNK = 2000

ACTIVE_BY_ID_QUERY = """*[_type == "subscription" && isActive == true && endDate > $now
    && _id in $ids]{
  ...,
  "passbotReferencedUser": user->{_id, _type, clerkId, email, name, tenant}
}"""

# Users with the email (any case) or the Clerk ids, then everyone sharing their Clerk ids, then
# every subscription referencing any of them. `$email != ""` keeps a blank email from matching
# the stub users the sync route creates with `email: ''`.
CUSTOMER_QUERY = """{
  "byEmail": *[_type == "user" && $email != "" && lower(email) == lower($email)]
}{
  byEmail,
  "clerkIds": $clerkIds + byEmail[defined(clerkId)].clerkId
}{
  "users": *[_type == "user" && (
    _id in ^.byEmail[]._id || clerkId in ^.clerkIds || _id in ^.clerkIds
  )]
}{
  users,
  "refs": array::unique(users[]._id + users[defined(clerkId)].clerkId + $clerkIds)
}{
  users,
  "subscriptions": *[_type == "subscription" && user._ref in ^.refs]
}"""

BOOKINGS_QUERY = """*[_type == "classInstance" && count(bookings[student._ref in $refs]) > 0]{
  _id,
  date,
  tenant,
  "bookings": bookings[student._ref in $refs]
}"""

WEBHOOK_LOGS_QUERY = """*[_type == "webhookLog" && timestamp >= $since] | order(timestamp asc)"""

DOCUMENTS_QUERY = """*[_id in $ids]"""

#: The user a document id leads to: a user's `_id` or `clerkId`, or a subscription's user.
USERS_FOR_ID_QUERY = """*[_type == "user" && (
  _id == $id || clerkId == $id
  || _id in *[_type == "subscription" && _id == $id].user._ref
  || clerkId in *[_type == "subscription" && _id == $id].user._ref
)]"""

#: Every named user, only what a name lookup shows.
NAMED_USERS_QUERY = """*[_type == "user" && (defined(name) || defined(firstName))]{
  _id, _type, _createdAt, name, firstName, lastName, email, clerkId, tenant, role, isActive
}"""
