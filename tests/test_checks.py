"""The shared input rules: dates, identifiers and free text (loancore.checks)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.checks import (
    DATE_MAX,
    DATE_MIN,
    ID_LENGTH_MAX,
    require_date,
    require_id,
    require_text,
)
from loancore.errors import InvalidInput, shown


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 1, 1, 12, 0),
        "2026-01-01",
        20260101,
        None,
        datetime.date.max,
        datetime.date.min,
        DATE_MAX + datetime.timedelta(days=1),
        DATE_MIN - datetime.timedelta(days=1),
    ],
)
def test_require_date_refuses_what_is_not_an_accepted_date(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        require_date("as_of", value)
    assert info.value.field == "as_of"
    assert info.value.value == value


def test_require_date_accepts_the_range_ends() -> None:
    assert require_date("d", DATE_MIN) == DATE_MIN
    assert require_date("d", DATE_MAX) == DATE_MAX


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "NUL"),
        ("a\ud800b", "surrogate"),
        (b"bytes", "string"),
        (None, "string"),
        ("", "non-empty"),
        ("x" * (ID_LENGTH_MAX + 1), "at most"),
    ],
)
def test_require_id_refuses_what_a_store_cannot_keep(value: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as info:
        require_id("entry_id", value)
    assert info.value.field == "entry_id"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
def test_require_text_accepts_every_storable_string(value: str) -> None:
    assert require_text("memo", value, length_max=10**6) == value
    value.encode("utf-8")


def test_error_messages_stay_short_whatever_the_value() -> None:
    huge = "x" * 4_000_000
    with pytest.raises(InvalidInput) as info:
        require_id("entry_id", huge)
    assert len(str(info.value)) < 400
    assert "4000000 characters" in str(info.value)
    assert len(shown(list(range(100_000)))) < 300

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

    assert "repr failed" in shown(Broken())
