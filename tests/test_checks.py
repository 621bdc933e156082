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
    parse_iso_date,
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


@given(st.dates(min_value=DATE_MIN, max_value=DATE_MAX))
def test_an_iso_date_parses_back_to_the_date(day: datetime.date) -> None:
    assert parse_iso_date("paid_on", day.isoformat()) == day
    assert parse_iso_date("paid_on", f" {day.isoformat()}\n") == day  # spaces around: trimmed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("20260402", "YYYY-MM-DD"),
        ("2026-W14-4", "YYYY-MM-DD"),  # date.fromisoformat takes week dates
        ("2026-04-0\u0662", "YYYY-MM-DD"),  # an Arabic-Indic digit: str.isdigit says yes
        ("2026/04/02", "YYYY-MM-DD"),
        ("2026-02-29", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
        ("1899-12-31", "expected a date from 1900-01-01 to 2999-12-31"),
    ],
)
def test_other_spellings_and_dates_out_of_range_are_refused_with_the_text(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_iso_date("paid_on", text)
    assert error.value.field == "paid_on" and error.value.value == text
    assert reason in error.value.reason
