"""QuotaResult is a plain frozen attrs value: equal and hashed by its key and events, whatever
``replayed`` says; quota commands are plain frozen attrs values with keyword-only fields."""

from __future__ import annotations

import datetime
import pickle
from decimal import Decimal

import attrs
import pytest

from loancore.money import Money
from loancore.quota import (
    AddTemporaryLimit,
    Capture,
    EventKind,
    Grant,
    Hold,
    QuotaEvent,
    QuotaResult,
)

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)
EVENT = QuotaEvent(
    "h1", 0, EventKind.HOLD_PLACED, DAY, "b1", "S", "M", "CNY", 1234, 0, "h1", None, DAY
)
CNY = Money(Decimal("12.34"), "CNY")


def test_replayed_takes_no_part_in_equality_or_the_hash() -> None:
    first = QuotaResult("h1", (EVENT,))
    again = attrs.evolve(first, replayed=True)
    assert again.replayed and not first.replayed
    assert again == first and hash(again) == hash(first)
    assert first != QuotaResult("h2", (EVENT,)) and first != QuotaResult("h1")


def test_results_are_frozen_and_survive_pickle() -> None:
    result = QuotaResult("h1", (EVENT,), replayed=True)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.key = "h2"  # type: ignore[misc]
    twin = pickle.loads(pickle.dumps(result))
    assert twin == result and twin.replayed


@pytest.mark.parametrize("kind", [Hold, Capture, Grant, AddTemporaryLimit])
def test_commands_are_plain_frozen_attrs_values(kind: type) -> None:
    assert attrs.has(kind) and all(field.kw_only for field in attrs.fields(kind))


def test_command_fields_are_keyword_only_so_dates_cannot_swap() -> None:
    with pytest.raises(TypeError):
        AddTemporaryLimit("t1", "M", CNY, DAY, LATER)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Hold("h1", "S", CNY, LATER)  # type: ignore[misc]
    hold = Hold(key="h1", line_id="S", amount=CNY, expires_on=LATER)
    assert attrs.evolve(hold, expires_on=DAY).expires_on == DAY


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "h\x00"),
        ("key", "h\ud800"),
        ("line_id", "x" * 201),
        ("line_id", ""),
        ("expires_on", datetime.date(3000, 1, 1)),
        ("expires_on", "2026-03-01"),
    ],
)
def test_ids_and_dates_pass_the_shared_checks(field: str, value: object) -> None:
    from loancore.errors import InvalidInput

    fields: dict[str, object] = {"key": "h1", "line_id": "S", "amount": CNY, "expires_on": LATER}
    fields[field] = value
    with pytest.raises(InvalidInput, match=field):
        Hold(**fields)  # type: ignore[arg-type]


def test_a_product_name_passes_the_shared_text_check() -> None:
    from loancore.errors import InvalidInput

    with pytest.raises(InvalidInput, match="product"):
        Grant(
            key="g", line_id="L", borrower_id="b", limit=CNY, starts_on=DAY, expires_on=LATER,
            product="a\x00b",
        )  # fmt: skip
