"""Models built once per document: a reconciliation sees the same Sanity documents many times.

Each page of purchases asks Sanity for every subscription and user of its buyers, so a buyer
with purchases on several pages brings the same documents back several times (at 10,000
purchases over 20 schools: 29,559 subscriptions for 10,008 distinct ones), and the audit reads
most of them once more. Building a model is most of the CPU a page costs; `ModelMemo` hands back
the model built the first time when the same document comes again unchanged — same `_id`, same
`_rev`, and equal JSON (compared in C, a small fraction of a build) — and builds it otherwise.
Models are frozen, so sharing one is invisible. The memo keeps the last `limit` documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar


class _Built(Protocol):
    @property
    def raw(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=_Built)


class ModelMemo(Generic[M]):
    """`build(doc)`, remembered by the document's `_id` (and checked against its JSON)."""

    def __init__(self, build: Callable[[Mapping[str, Any]], M], *, limit: int = 20000) -> None:
        self._build = build
        self._limit = max(1, limit)
        self._items: dict[str, M] = {}

    def __call__(self, doc: Mapping[str, Any]) -> M:
        """The model of `doc`: the one built before if the document has not changed."""
        key = doc.get("_id")
        if type(key) is not str:
            return self._build(doc)
        known = self._items.get(key)
        if known is not None:
            raw = known.raw
            if raw.get("_rev") == doc.get("_rev") and raw == doc:
                return known
            del self._items[key]
        model = self._build(doc)
        if len(self._items) >= self._limit:
            del self._items[next(iter(self._items))]  # the oldest
        self._items[key] = model
        return model

    def __len__(self) -> int:
        return len(self._items)
