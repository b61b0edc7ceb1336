"""Decoding answers (core.adapters.wire) and reusing models (core.adapters.memo)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from core.adapters import wire
from core.adapters.memo import ModelMemo
from core.domain.models import Subscription


def test_loads_decodes_json_bytes_and_text() -> None:
    assert wire.loads(b'{"a": [1, 2.5, "\\u00e5", null, true]}') == {"a": [1, 2.5, "å", None, True]}
    assert wire.loads('{"a": 1}') == {"a": 1}


def test_loads_accepts_what_the_standard_library_accepts() -> None:
    # orjson refuses these; an answer carrying them is decoded as json.loads would.
    decoded = wire.loads(b'{"a": NaN, "b": Infinity, "c": 1e400}')
    assert math.isnan(decoded["a"])
    assert decoded["b"] == math.inf
    assert decoded["c"] == math.inf


def test_loads_raises_value_error_for_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        wire.loads(b"<html>502 Bad Gateway</html>")


def _doc(**extra: Any) -> dict[str, Any]:
    return {
        "_id": "sub-1",
        "_rev": "r1",
        "_type": "subscription",
        "type": "clipcard",
        "remainingClips": 10,
        "isActive": True,
        **extra,
    }


class _Counting:
    def __init__(self) -> None:
        self.built = 0

    def __call__(self, doc: Any) -> Subscription:
        self.built += 1
        return Subscription.from_json(doc)


def _raw(model: Subscription) -> Any:
    return model.raw


@pytest.mark.parametrize("json_of", [None, _raw], ids=["by digest", "by revision"])
def test_memo_reuses_the_model_of_an_unchanged_document(json_of: Any) -> None:
    build = _Counting()
    memo = ModelMemo(build, json_of=json_of)
    first = memo(_doc())
    again = memo(_doc())  # equal, not the same dict: as decoded from another answer
    assert again is first
    assert build.built == 1


@pytest.mark.parametrize("json_of", [None, _raw], ids=["by digest", "by revision"])
def test_memo_builds_again_when_the_document_changed(json_of: Any) -> None:
    build = _Counting()
    memo = ModelMemo(build, json_of=json_of)
    memo(_doc())
    changed = memo(_doc(_rev="r2", remainingClips=9))
    assert changed.remaining_clips == 9
    assert build.built == 2


def test_memo_by_revision_builds_again_for_other_json_under_the_same_revision() -> None:
    """An answer that projects a document differently (a field left out, a value computed)
    carries its `_rev` but not its JSON: built again, not taken for the stored one."""
    build = _Counting()
    memo = ModelMemo(build, json_of=_raw)
    memo(_doc(_rev="r2", remainingClips=9))
    projected = {k: v for k, v in _doc(_rev="r2", remainingClips=9).items() if k != "isActive"}
    assert memo(projected).is_active is None
    computed = memo(_doc(_rev="r2", remainingClips=3))
    assert computed.remaining_clips == 3
    assert build.built == 3


def test_memo_by_digest_tells_json_types_apart() -> None:
    """Without a revision (a projection such as the audit's dereferenced user), the digest of
    the JSON decides: equal in Python (1 == True) is not the same JSON."""
    build = _Counting()
    memo = ModelMemo(build, json_of=_raw)
    memo(_doc(_rev=None, remainingClips=9))
    edited = memo(_doc(_rev=None, remainingClips=9, isActive=1))
    assert edited.is_active is None
    assert "no isActive" in edited.problems
    assert build.built == 2


@pytest.mark.parametrize("json_of", [None, _raw], ids=["by digest", "by revision"])
def test_memo_keeps_the_last_documents_only_and_builds_id_less_ones_every_time(
    json_of: Any,
) -> None:
    build = _Counting()
    memo = ModelMemo(build, limit=2, json_of=json_of)
    for n in range(3):
        memo(_doc(_id=f"sub-{n}"))
    assert len(memo) == 2
    memo(_doc(_id="sub-2"))  # kept: reused
    assert build.built == 3
    memo(_doc(_id="sub-0"))  # the least recently seen went first: built again
    assert build.built == 4
    memo({"type": "clipcard"})
    memo({"type": "clipcard"})
    assert build.built == 6
