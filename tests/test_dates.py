"""Due dates: anchored to one date, explicit end-of-month rule, bounded count."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loancore.dates import (
    PERIODS_MAX,
    EndOfMonth,
    Frequency,
    due_dates,
    is_month_end,
    periods_per_year,
    step_back,
)
from loancore.errors import InvalidInput

D = dt.date


def test_monthly_from_month_end_clamps_without_drift() -> None:
    got = due_dates(D(2024, 1, 31), 4, "monthly")
    assert got == (D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31))


def test_stick_keeps_month_end_from_a_short_month_anchor() -> None:
    got = due_dates(D(2025, 2, 28), 3, Frequency.MONTHLY, end_of_month=EndOfMonth.STICK)
    assert got == (D(2025, 3, 31), D(2025, 4, 30), D(2025, 5, 31))
    clamp = due_dates(D(2025, 2, 28), 3, Frequency.MONTHLY, end_of_month="clamp")
    assert clamp == (D(2025, 3, 28), D(2025, 4, 28), D(2025, 5, 28))


def test_first_due_date_anchors_the_rest() -> None:
    got = due_dates(D(2025, 1, 10), 3, "monthly", first_due=D(2025, 2, 28))
    assert got == (D(2025, 2, 28), D(2025, 3, 28), D(2025, 4, 28))


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        ("weekly", (D(2025, 1, 8), D(2025, 1, 15))),
        ("biweekly", (D(2025, 1, 15), D(2025, 1, 29))),
        ("semimonthly", (D(2025, 1, 16), D(2025, 2, 1))),
        ("quarterly", (D(2025, 4, 1), D(2025, 7, 1))),
        ("semiannual", (D(2025, 7, 1), D(2026, 1, 1))),
        ("annual", (D(2026, 1, 1), D(2027, 1, 1))),
    ],
)
def test_frequencies(frequency: str, expected: tuple[dt.date, ...]) -> None:
    assert due_dates(D(2025, 1, 1), 2, frequency) == expected


def test_every_n_days() -> None:
    got = due_dates(D(2025, 1, 1), 2, "every_n_days", every_days=10)
    assert got == (D(2025, 1, 11), D(2025, 1, 21))
    assert periods_per_year("every_n_days", every_days=73) == 5


def test_periods_per_year() -> None:
    assert Frequency.MONTHLY.periods_per_year == 12
    assert Frequency.SEMIMONTHLY.periods_per_year == 24
    with pytest.raises(InvalidInput):
        Frequency.EVERY_N_DAYS.periods_per_year  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": PERIODS_MAX + 1}, "count"),
        ({"frequency": "fortnightly"}, "frequency"),
        ({"first_due": D(2025, 1, 1)}, "first_due"),
        ({"frequency": "every_n_days"}, "every_days"),
        ({"end_of_month": "sometimes"}, "end_of_month"),
        ({"start": dt.datetime(2025, 1, 1)}, "start"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {"start": D(2025, 1, 1), "count": 3, "frequency": "monthly"} | kwargs
    start, count, frequency = args.pop("start"), args.pop("count"), args.pop("frequency")
    with pytest.raises(InvalidInput) as info:
        due_dates(start, count, frequency, **args)
    assert info.value.field == field


@given(
    st.dates(min_value=D(1990, 1, 1), max_value=D(2080, 1, 1)),
    st.integers(1, 120),
    st.sampled_from(["monthly", "quarterly", "semiannual", "annual"]),
)
def test_month_based_due_dates_never_drift(start: dt.date, count: int, frequency: str) -> None:
    dates = due_dates(start, count, frequency)
    assert list(dates) == sorted(set(dates))
    for day in dates:
        assert day.day == start.day or day.day < start.day  # clamped only in short months


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2080, 1, 1)), st.integers(1, 60))
def test_stick_rule_keeps_every_date_at_month_end(start: dt.date, count: int) -> None:
    from loancore.dates import is_month_end

    dates = due_dates(start, count, "monthly", end_of_month="stick")
    assert all(is_month_end(d) for d in dates) == is_month_end(start) or not is_month_end(start)


def test_semimonthly_steps_back_as_it_steps_forward() -> None:
    from loancore.dates import step_back

    assert step_back(D(2025, 3, 16), 1, "semimonthly") == D(2025, 3, 1)
    assert step_back(D(2025, 3, 16), 2, "semimonthly") == D(2025, 2, 16)
    assert step_back(D(2025, 3, 16), 3, "semimonthly") == D(2025, 2, 1)


@pytest.mark.parametrize(
    ("start", "count", "frequency"),
    [
        (dt.date(2999, 12, 1), 1, "monthly"),
        (dt.date(2999, 12, 30), 1, "weekly"),
        (dt.date(2999, 12, 20), 1, "semimonthly"),
        (dt.date(2990, 1, 1), 120, "quarterly"),
    ],
)
def test_due_dates_past_the_date_max_raise_invalid_input(start, count, frequency) -> None:
    # Found in review: ValueError("year 10000 is out of range") / OverflowError escaped raw.
    with pytest.raises(InvalidInput, match="run past"):
        due_dates(start, count, frequency)


def test_step_back_before_year_1_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="before"):
        step_back(dt.date(1900, 2, 1), 30_000, "monthly")


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31)),
    st.integers(1, 120),
    st.sampled_from(["monthly", "quarterly", "semiannual", "annual"]),
)
def test_month_based_due_dates_are_anchored_never_stepped(start, count, frequency) -> None:
    from dateutil.relativedelta import relativedelta

    months = Frequency(frequency).months
    clamp = due_dates(start, count, frequency, end_of_month="clamp")
    stick = due_dates(start, count, frequency, end_of_month="stick")
    for k, (c, s) in enumerate(zip(clamp, stick, strict=True), start=1):
        assert c == start + relativedelta(months=months * k)  # Jan 31 -> Feb 28/29 -> Mar 31
        if is_month_end(start):
            assert is_month_end(s) and (s.year, s.month) == (c.year, c.month)
        else:
            assert s == c


def test_jan_31_across_february_in_leap_and_common_years() -> None:
    assert due_dates(D(2024, 1, 31), 2, "monthly") == (D(2024, 2, 29), D(2024, 3, 31))
    assert due_dates(D(2025, 1, 31), 2, "monthly") == (D(2025, 2, 28), D(2025, 3, 31))
    # A Feb 29 anchor: clamp keeps the 29th, stick moves to month ends.
    assert due_dates(D(2024, 2, 29), 2, "monthly") == (D(2024, 3, 29), D(2024, 4, 29))
    assert due_dates(D(2024, 2, 29), 2, "monthly", end_of_month="stick") == (
        D(2024, 3, 31),
        D(2024, 4, 30),
    )
    assert due_dates(D(2024, 2, 29), 1, "annual") == (D(2025, 2, 28),)


# -- issue 10: dates in range, no negative steps ------------------------------------------------


@pytest.mark.parametrize("periods", [-5, -1, True, 1.0, None])
def test_step_back_refuses_negative_or_non_int_periods(periods: object) -> None:
    # Found in review: step_back(d, -5) stepped forward.
    with pytest.raises(InvalidInput) as caught:
        step_back(dt.date(2025, 3, 31), periods, "monthly")  # type: ignore[arg-type]
    assert caught.value.field == "periods"


@pytest.mark.parametrize(
    "value", [dt.datetime(2025, 1, 31, 8), "2025-01-31", dt.date(1899, 12, 31), dt.date(3000, 1, 1)]
)
def test_every_date_argument_is_a_plain_date_in_range(value: object) -> None:
    for call, field in [
        (lambda: due_dates(value, 3, "monthly"), "start"),  # type: ignore[arg-type]
        (lambda: due_dates(dt.date(1950, 1, 1), 3, "monthly", first_due=value), "first_due"),  # type: ignore[arg-type]
        (lambda: step_back(value, 1, "monthly"), "day"),  # type: ignore[arg-type]
        (lambda: is_month_end(value), "day"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field


def test_due_dates_past_the_last_accepted_date_are_refused() -> None:
    with pytest.raises(InvalidInput, match="run past"):
        due_dates(dt.date(2999, 12, 1), 1, "monthly")
