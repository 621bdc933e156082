"""Calendars shared by the settlement tests: China's (with make-up working days) and a channel
that keeps China's holidays but closes the make-up weekends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stored_kit

from loancore.adapters.calendars import china_calendar
from loancore.calendar import BusinessCalendar
from loancore.ports import UnitOfWork
from store_kit import KINDS, dispose


@pytest.fixture(scope="session")
def cn() -> BusinessCalendar:
    return china_calendar(2024, 2026)


@pytest.fixture(scope="session")
def closed_makeup(cn: BusinessCalendar) -> BusinessCalendar:
    """China's holidays, no make-up working days: a channel that does not open on them."""
    return BusinessCalendar.from_lists(
        "CN-no-makeup", holidays=cn.holidays, workdays=(), first_year=2024, last_year=2026
    )


@pytest.fixture
def make_uow(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], UnitOfWork]]:
    """``make_uow(kind)``: a fresh unit of work with the default chart (stored_kit.py)."""
    made: list[UnitOfWork] = []

    def build(kind: str) -> UnitOfWork:
        url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
        made.append(stored_kit.make_uow(kind, tmp_path, url))
        return made[-1]

    yield build
    for uow in made:
        dispose(uow)


@pytest.fixture(params=KINDS)
def uow(request: pytest.FixtureRequest, make_uow: Callable[[str], UnitOfWork]) -> UnitOfWork:
    return make_uow(request.param)
