"""command_fingerprint: the canonical text a store keeps to judge a replayed key."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from loancore.money import Money
from loancore.quota import (
    Capture,
    Grant,
    Hold,
    RefundReason,
    RepaymentParts,
    RestoreRefunded,
    RestoreRepaid,
    command_fingerprint,
)

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def test_the_format_is_pinned() -> None:
    """Stores keep these texts for as long as they keep the keys: any change to the format must
    come with a new FINGERPRINT_VERSION, and this test says so by failing."""
    assert command_fingerprint(
        Hold(key="h1", line_id="S", amount=cny("12.34"), expires_on=LATER)
    ) == (
        '{"command":"Hold","fields":{"amount":[1234,"CNY"],"expires_on":"2027-03-01",'
        '"key":"h1","line_id":"S"},"v":1}'
    )
    refund = RestoreRefunded(
        key="r1", line_id="S", principal=cny("1.00"), reason=RefundReason.CANCELLATION
    )
    assert command_fingerprint(refund) == (
        '{"command":"RestoreRefunded","fields":{"key":"r1","line_id":"S",'
        '"principal":[100,"CNY"],"reason":2},"v":1}'
    )


def test_fields_at_their_default_are_left_out() -> None:
    """So a field added later with a default leaves earlier fingerprints as they were."""
    whole = json.loads(command_fingerprint(Capture(key="c1", hold_id="h1")))
    assert whole["fields"] == {"key": "c1", "hold_id": "h1"}
    part = json.loads(command_fingerprint(Capture(key="c1", hold_id="h1", amount=cny("1.00"))))
    assert part["fields"]["amount"] == [100, "CNY"]
    master = json.loads(
        command_fingerprint(
            Grant(
                key="g",
                line_id="M",
                borrower_id="b1",
                limit=cny("9.00"),
                starts_on=DAY,
                expires_on=LATER,
            )
        )
    )
    assert "product" not in master["fields"] and "master_id" not in master["fields"]


def test_nested_values_and_enums_are_canonical() -> None:
    repaid = RestoreRepaid(
        key="r", line_id="S", repaid=RepaymentParts(cny("10.00"), interest=cny("0.50"))
    )
    fields = json.loads(command_fingerprint(repaid))["fields"]
    assert fields["repaid"] == {
        "principal": [1000, "CNY"],
        "interest": [50, "CNY"],
        "fees": [0, "CNY"],
        "penalties": [0, "CNY"],
    }
    by_number = RestoreRefunded(
        key="r", line_id="S", principal=cny("1.00"), reason=1
    )  # the converter makes it the enum
    assert command_fingerprint(by_number) == command_fingerprint(
        RestoreRefunded(key="r", line_id="S", principal=cny("1.00"), reason=RefundReason.REFUND)
    )


_KEYS = st.sampled_from(["k1", "k2"])
_LINES = st.sampled_from(["S", "T"])
_AMOUNTS = st.integers(1, 10**6).map(lambda minor: Money.from_minor(minor, "CNY"))
_DAYS = st.dates(min_value=DAY, max_value=LATER)
_HOLDS = st.builds(Hold, key=_KEYS, line_id=_LINES, amount=_AMOUNTS, expires_on=_DAYS)
_CAPTURES = st.builds(Capture, key=_KEYS, hold_id=_KEYS, amount=st.none() | _AMOUNTS)
_REPAID = st.builds(
    RestoreRepaid,
    key=_KEYS,
    line_id=_LINES,
    repaid=st.builds(RepaymentParts, _AMOUNTS, st.none() | _AMOUNTS, st.none() | _AMOUNTS),
)
_COMMANDS = st.one_of(_HOLDS, _CAPTURES, _REPAID)


@given(first=_COMMANDS, second=_COMMANDS)
def test_fingerprints_are_equal_exactly_when_commands_are(first, second) -> None:
    assert (command_fingerprint(first) == command_fingerprint(second)) == (first == second)


@given(hold=_HOLDS, data=st.data())
def test_changing_any_one_field_changes_the_fingerprint(hold: Hold, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from([f.name for f in attrs.fields(Hold)]))
    other = {"key": _KEYS, "line_id": _LINES, "amount": _AMOUNTS, "expires_on": _DAYS}[field]
    value = data.draw(other.filter(lambda v: v != getattr(hold, field)))
    changed = attrs.evolve(hold, **{field: value})
    assert command_fingerprint(changed) != command_fingerprint(hold)
