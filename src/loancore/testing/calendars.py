"""Hypothesis strategies for dates, day counts and business calendars.

``day_count_conventions()``, ``roll_conventions()``, ``business_calendars()`` and
``calendar_dates(calendar)`` for an application's own property tests::

    from hypothesis import given, strategies as st
    from loancore.testing.calendars import business_calendars, calendar_dates

    @given(st.data(), business_calendars())
    def test_settlement_lands_on_business_day(data, calendar):
        day = data.draw(calendar_dates(calendar))
        ...
"""

from __future__ import annotations

import datetime
import functools

from hypothesis import strategies as st

from loancore.calendar import BusinessCalendar, Roll
from loancore.daycount import DayCount

__all__ = [
    "business_calendars",
    "calendar_dates",
    "day_count_conventions",
    "roll_conventions",
]


def day_count_conventions(*, termination_free: bool = False) -> st.SearchStrategy[DayCount]:
    """Every :class:`DayCount`; ``termination_free`` leaves out 30E/360 ISDA (needs a date)."""
    members = [m for m in DayCount if not (termination_free and m is DayCount.THIRTY_E_360_ISDA)]
    return st.sampled_from(members)


def roll_conventions() -> st.SearchStrategy[Roll]:
    """Every :class:`Roll` convention."""
    return st.sampled_from(list(Roll))


@st.composite
def business_calendars(
    draw: st.DrawFn,
    *,
    first_year: int = 2020,
    years_max: int = 3,
    holidays_max: int = 60,
    workdays_max: int = 10,
) -> BusinessCalendar:
    """Random calendars of one to ``years_max`` years from ``first_year``: a weekend of zero to
    two days, up to ``holidays_max`` holidays and up to ``workdays_max`` make-up working days
    (drawn from the weekend days, never holidays)."""
    years = draw(st.integers(min_value=1, max_value=years_max))
    last_year = first_year + years - 1
    weekend = draw(
        st.sampled_from([frozenset({5, 6}), frozenset({6}), frozenset({4, 5}), frozenset()])
    )
    days = _dates_between(first_year, last_year)
    holidays = draw(st.frozensets(days, max_size=holidays_max))
    workdays: frozenset[datetime.date] = frozenset()
    if weekend:
        weekend_days = days.map(lambda d: _on_or_after_weekend(d, weekend)).filter(
            lambda d: d.year <= last_year and d not in holidays
        )
        workdays = draw(st.frozensets(weekend_days, max_size=workdays_max))
    return BusinessCalendar.from_lists(
        "generated",
        holidays=holidays,
        workdays=workdays,
        first_year=first_year,
        last_year=last_year,
        weekend=weekend,
    )


@functools.lru_cache(maxsize=64)
def _dates_between(first_year: int, last_year: int) -> st.SearchStrategy[datetime.date]:
    return st.dates(datetime.date(first_year, 1, 1), datetime.date(last_year, 12, 31))


def _on_or_after_weekend(day: datetime.date, weekend: frozenset[int]) -> datetime.date:
    for _ in range(7):
        if day.weekday() in weekend:
            break
        day += datetime.timedelta(days=1)
    return day


def calendar_dates(calendar: BusinessCalendar) -> st.SearchStrategy[datetime.date]:
    """Dates inside the years ``calendar`` covers."""
    return _dates_between(calendar.first_year, calendar.last_year)
