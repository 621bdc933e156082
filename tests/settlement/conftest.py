"""Calendars shared by the settlement tests: China's (with make-up working days) and a channel
that keeps China's holidays but closes the make-up weekends."""

from __future__ import annotations

import pytest

from loancore.adapters.calendars import china_calendar
from loancore.calendar import BusinessCalendar


@pytest.fixture(scope="session")
def cn() -> BusinessCalendar:
    return china_calendar(2024, 2026)


@pytest.fixture(scope="session")
def closed_makeup(cn: BusinessCalendar) -> BusinessCalendar:
    """China's holidays, no make-up working days: a channel that does not open on them."""
    return BusinessCalendar.from_lists(
        "CN-no-makeup", holidays=cn.holidays, workdays=(), first_year=2024, last_year=2026
    )
