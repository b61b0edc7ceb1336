"""Models built once per document: a reconciliation sees the same Sanity documents many times.

Each page of purchases asks Sanity for every subscription and user of its buyers, so a buyer
with purchases on several pages brings the same documents back several times (at 10,000
purchases over 20 schools: 29,559 subscriptions for 10,008 distinct ones), and the audit reads
most of them once more. Building a model is most of the CPU a page costs; `ModelMemo` hands back
the model built the first time when a document with the same `_id` comes again with exactly the
same JSON (compared by a 128-bit BLAKE2 digest of orjson's encoding, so `1`, `1.0` and `true`
differ), and builds it otherwise. Models are frozen, so sharing one is invisible. The memo keeps
the last `limit` documents seen (their models hold their JSON: ~50 MiB at 10,000 purchases).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import orjson

M = TypeVar("M")


class ModelMemo(Generic[M]):
    """`build(doc)`, remembered by the document's `_id` and checked against its JSON."""

    def __init__(self, build: Callable[[Mapping[str, Any]], M], *, limit: int = 20000) -> None:
        self._build = build
        self._limit = max(1, limit)
        self._items: dict[str, tuple[bytes, M]] = {}

    def __call__(self, doc: Mapping[str, Any]) -> M:
        """The model of `doc`: the one built before if the document has not changed."""
        key = doc.get("_id")
        if type(key) is not str or type(doc) is not dict:
            return self._build(doc)
        try:
            digest = hashlib.blake2b(orjson.dumps(doc), digest_size=16).digest()
        except TypeError:  # not plain JSON (a number beyond 64 bits, a non-string key)
            return self._build(doc)
        known = self._items.pop(key, None)
        if known is not None and known[0] == digest:
            self._items[key] = known  # the most recent again
            return known[1]
        model = self._build(doc)
        if len(self._items) >= self._limit:
            del self._items[next(iter(self._items))]  # the least recently seen
        self._items[key] = (digest, model)
        return model

    def __len__(self) -> int:
        return len(self._items)
