"""Models built once per document: a reconciliation sees the same Sanity documents many times.

A page's answer can hold documents an earlier answer held (the audit reads every active pass
once more, and a subscription can be linked to a page's sessions after its owner was named), so
`ModelMemo` hands back the model built the first time when a document with the same `_id` comes
again unchanged, and builds it otherwise. Models are frozen, so sharing one is invisible. The
memo keeps the last `limit` documents seen (their models hold their JSON: ~50 MiB at 10,000
purchases).

"Unchanged" is decided the cheap way when it can be. Sanity gives a document a new `_rev` with
every change, so a document that comes back with the `_rev` it had, and equal to the JSON the
model was built from (which also catches an answer that projects other fields under one
revision), is the same document: no work on first sight, one dict comparison on a repeat. A
document without `_rev` (a projection such as ACTIVE_QUERY's dereferenced user) is compared by
a 128-bit BLAKE2 digest of orjson's encoding, so `1`, `1.0` and `true` differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import orjson

M = TypeVar("M")


class ModelMemo(Generic[M]):
    """`build(doc)`, remembered by the document's `_id`, checked by `_rev` and the JSON.

    `json_of(model)` gives back the JSON a model was built from (its `raw`); without it, every
    document is compared by digest.
    """

    def __init__(
        self,
        build: Callable[[Mapping[str, Any]], M],
        *,
        limit: int = 20000,
        json_of: Callable[[M], Mapping[str, Any]] | None = None,
    ) -> None:
        self._build = build
        self._json_of = json_of
        self._limit = max(1, limit)
        # _id -> (the `_rev` string, or the digest bytes of a document without one; the model)
        self._items: dict[str, tuple[str | bytes, M]] = {}

    def __call__(self, doc: Mapping[str, Any]) -> M:
        """The model of `doc`: the one built before if the document has not changed."""
        key = doc.get("_id")
        if type(key) is not str or type(doc) is not dict:
            return self._build(doc)
        rev = doc.get("_rev")
        mark: str | bytes
        if type(rev) is str and self._json_of is not None:
            mark = rev
        else:
            try:
                mark = hashlib.blake2b(orjson.dumps(doc), digest_size=16).digest()
            except TypeError:  # not plain JSON (a number beyond 64 bits, a non-string key)
                return self._build(doc)
        known = self._items.pop(key, None)
        if known is not None and known[0] == mark:
            model = known[1]
            if type(mark) is bytes or self._same_json(model, doc):
                self._items[key] = known  # the most recent again
                return model
        model = self._build(doc)
        if len(self._items) >= self._limit:
            del self._items[next(iter(self._items))]  # the least recently seen
        self._items[key] = (mark, model)
        return model

    def known(self, key: str, rev: str) -> M | None:
        """The model of document `key` if it was built from revision `rev`, else None.

        Trusts the revision alone, without the JSON: only for a memo that whole documents feed
        (no query projects some of their fields), where one `_rev` is one content.
        """
        entry = self._items.get(key)
        if entry is None or entry[0] != rev:  # a digest (bytes) never equals a `_rev`
            return None
        self._items[key] = self._items.pop(key)  # the most recent again
        return entry[1]

    def _same_json(self, model: M, doc: Mapping[str, Any]) -> bool:
        assert self._json_of is not None
        return self._json_of(model) == doc

    def __len__(self) -> int:
        return len(self._items)
