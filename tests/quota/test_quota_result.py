"""QuotaResult is a frozen value: equal, hashed and shown by its key, code and events, whether
its events were given or are built from a journal row when first read."""

from __future__ import annotations

import copy
import datetime
import pickle

import pytest

from loancore.errors import RejectionCode
from loancore.quota import EventKind, QuotaEvent, QuotaResult, event_of_row, event_row

DAY = datetime.date(2026, 3, 1)
EVENT = QuotaEvent(
    "h1", 0, EventKind.HOLD_PLACED, DAY, "b1", "S", "M", "CNY", 1234, 0, "h1", None, DAY
)


def test_event_row_round_trips_every_field() -> None:
    row = event_row(EVENT)
    assert row[2] == EventKind.HOLD_PLACED.value and type(row[2]) is int
    assert event_of_row(row) == EVENT
    assert event_of_row(row).kind is EventKind.HOLD_PLACED


def test_result_of_a_row_equals_the_result_built_with_its_event() -> None:
    built = QuotaResult("h1", RejectionCode.OK, (EVENT,))
    lazy = QuotaResult.of_row("h1", event_row(EVENT))
    assert lazy.ok and lazy.code is RejectionCode.OK and not lazy.replayed
    assert lazy == built and built == lazy and hash(lazy) == hash(built)
    assert lazy.events == (EVENT,) and lazy.events is lazy.events  # built once
    assert (
        repr(lazy)
        == repr(built)
        == (
            f"QuotaResult(key='h1', code={RejectionCode.OK!r}, events={(EVENT,)!r}, replayed=False)"
        )
    )


def test_replayed_takes_no_part_in_equality_or_the_hash() -> None:
    first = QuotaResult("h1", RejectionCode.OK, (EVENT,))
    again = QuotaResult.of_row("h1", event_row(EVENT), replayed=True)
    assert again.replayed and again == first and hash(again) == hash(first)


def test_results_differ_by_key_code_or_events() -> None:
    result = QuotaResult("h1", RejectionCode.OK, (EVENT,))
    assert result != QuotaResult("h2", RejectionCode.OK, (EVENT,))
    assert result != QuotaResult("h1", RejectionCode.QUOTA_EXCEEDS_AVAILABLE)
    assert result != QuotaResult("h1", RejectionCode.OK)
    assert result != ("h1", RejectionCode.OK, (EVENT,), False)
    refused = QuotaResult("h1", RejectionCode.QUOTA_EXCEEDS_AVAILABLE)
    assert not refused.ok and refused.events == ()


@pytest.mark.parametrize("name", ["key", "code", "events", "replayed", "ok", "other"])
def test_result_attributes_cannot_be_set(name: str) -> None:
    result = QuotaResult.of_row("h1", event_row(EVENT))
    with pytest.raises(AttributeError):
        setattr(result, name, None)


def test_result_survives_pickle_copy_and_match() -> None:
    result = QuotaResult.of_row("h1", event_row(EVENT), replayed=True)
    for twin in (pickle.loads(pickle.dumps(result)), copy.copy(result), copy.deepcopy(result)):
        assert twin == result and twin.replayed
    match result:
        case QuotaResult("h1", RejectionCode.OK, (event,)):
            assert event == EVENT
        case _:
            pytest.fail("QuotaResult should match by key, code, events")
