"""Business calendars of real countries and of a bank's own file (adapter: reads files, imports
the ``holidays`` package, ``holidays>=0.85``, the ``calendars`` extra).

- :func:`china_calendar`: the mainland China calendar (State Council notices), with make-up
  working days (调休) as published, for the years the installed ``holidays`` has notices for.
- :func:`calendar_from_holidays`: any country ``holidays`` knows, for years the caller vouches
  for (``holidays`` computes rule-based holidays for any year; only the caller knows whether a
  year's special days were published).
- :func:`calendar_from_csv`: a file with ``date,kind`` rows (``kind`` is ``holiday`` or
  ``workday``), e.g. the bank's own settlement calendar.
"""

from __future__ import annotations

import csv
import datetime
import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loancore.calendar import WEEKEND_SAT_SUN, BusinessCalendar
from loancore.errors import CalendarOutOfRange, InvalidInput

__all__ = [
    "CHINA_FIRST_YEAR",
    "calendar_from_csv",
    "calendar_from_holidays",
    "china_calendar",
    "china_published_years",
]

CHINA_FIRST_YEAR = 2001
"""First year ``holidays`` checked against a State Council notice (its China docstring)."""

_CSV_ROWS_MAX = 100_000


def _import_holidays() -> Any:
    try:
        import holidays
    except ImportError as error:  # pragma: no cover - the dev extra installs it
        raise ImportError(
            "loancore.adapters.calendars needs the `holidays` package: "
            "pip install 'loancore[calendars]'"
        ) from error
    return holidays


@functools.lru_cache(maxsize=1)
def china_published_years() -> tuple[int, int]:
    """``(first, last)``: the years whose State Council notice the installed ``holidays`` holds.

    The last year is the latest one with published substitutions (make-up working days), which
    every notice since 2001 has had; a later year would be a guess and is refused.
    """
    holidays = _import_holidays()
    published = holidays.China(years=()).special_public_holidays
    return CHINA_FIRST_YEAR, max(published)


def _checked_years(
    name: str, first_year: Any, last_year: Any, published: tuple[int, int]
) -> tuple[int, int]:
    first = published[0] if first_year is None else first_year
    last = published[1] if last_year is None else last_year
    for field, value in (("first_year", first), ("last_year", last)):
        if type(value) is not int:
            raise InvalidInput(field, value, "expected an int year")
    if last < first:
        raise InvalidInput("last_year", last, f"must be >= first_year {first}")
    for year in (first, last):
        if not published[0] <= year <= published[1]:
            raise CalendarOutOfRange(name, f"year {year}", *published)
    return first, last


def china_calendar(first_year: int | None = None, last_year: int | None = None) -> BusinessCalendar:
    """Mainland China's business calendar (name ``"CN"``), public holidays and make-up days.

    Defaults to every published year (:func:`china_published_years`); asking for a year outside
    them raises :class:`~loancore.errors.CalendarOutOfRange`. Business days are Monday-Friday
    that are not public holidays, plus the weekend days the notices make working days.
    Half-day holidays (Women's Day, Youth Day, ...) are not bank holidays and are left out.

    Limitation: a notice can put a make-up day in late December of the year before (the 2002,
    2006, 2007 and 2012 notices did); December of the last published year is only as complete
    as the next year's notice, which the installed ``holidays`` does not have yet.
    """
    first, last = _checked_years("CN", first_year, last_year, china_published_years())
    return _china_calendar(first, last)


@functools.lru_cache(maxsize=8)
def _china_calendar(first_year: int, last_year: int) -> BusinessCalendar:
    holidays = _import_holidays()
    # One year more (when published) so its notice's December make-up days in last_year count.
    years_to = min(last_year + 1, china_published_years()[1])
    data = holidays.China(years=range(first_year, years_to + 1), categories=(holidays.PUBLIC,))
    return _from_holidays_object("CN", data, first_year, last_year)


def _from_holidays_object(
    name: str, data: Any, first_year: int, last_year: int
) -> BusinessCalendar:
    def covered(day: datetime.date) -> bool:
        return first_year <= day.year <= last_year

    weekend = frozenset(data.weekend)
    return BusinessCalendar.from_lists(
        name,
        holidays=(day for day in data if covered(day)),
        workdays=(day for day in data.weekend_workdays if covered(day) and day not in data),
        first_year=first_year,
        last_year=last_year,
        weekend=weekend,
    )


def calendar_from_holidays(
    country_code: str,
    years: Iterable[int],
    *,
    name: str | None = None,
    subdiv: str | None = None,
    categories: Iterable[str] | None = None,
) -> BusinessCalendar:
    """A calendar for ``country_code`` (ISO 3166) from the ``holidays`` package.

    ``years`` must be consecutive; the calendar covers exactly those years. The caller vouches
    that ``holidays`` has the published data for them (it extrapolates rule-based holidays to
    any year; see :func:`china_calendar` for a calendar that checks). Make-up working days are
    included where ``holidays`` models them. ``name`` defaults to ``country_code``.
    """
    holidays = _import_holidays()
    wanted = sorted(set(years))
    if not wanted or any(type(y) is not int for y in wanted):
        raise InvalidInput("years", years, "expected one or more int years")
    if wanted != list(range(wanted[0], wanted[-1] + 1)):
        raise InvalidInput("years", wanted, "expected consecutive years")
    try:
        data = holidays.country_holidays(
            country_code, subdiv=subdiv, years=wanted,
            categories=tuple(categories) if categories is not None else None,
        )  # fmt: skip
    except NotImplementedError as error:
        raise InvalidInput("country_code", country_code, str(error)) from error
    return _from_holidays_object(name or country_code, data, wanted[0], wanted[-1])


def _parse_row(row: dict[str, str], where: str) -> tuple[datetime.date, str]:
    raw_date = (row.get("date") or "").strip()
    kind = (row.get("kind") or "").strip().lower()
    try:
        day = datetime.date.fromisoformat(raw_date)
    except ValueError:
        raise InvalidInput(f"{where}.date", raw_date, "expected an ISO date YYYY-MM-DD") from None
    if kind not in ("holiday", "workday"):
        raise InvalidInput(f"{where}.kind", kind, "expected 'holiday' or 'workday'")
    return day, kind


def _read_rows(path: Path) -> list[tuple[datetime.date, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or not {"date", "kind"} <= set(reader.fieldnames):
            raise InvalidInput("path", str(path), "expected a CSV header with columns date,kind")
        rows = []
        for number, row in enumerate(reader, start=1):
            if number > _CSV_ROWS_MAX:
                raise InvalidInput("path", str(path), f"more than {_CSV_ROWS_MAX} rows")
            rows.append(_parse_row(row, f"{path.name}:row {number}"))
    return rows


def calendar_from_csv(
    path: str | Path,
    *,
    name: str,
    first_year: int | None = None,
    last_year: int | None = None,
    weekend: Iterable[int] = WEEKEND_SAT_SUN,
) -> BusinessCalendar:
    """A calendar from a bank's file: a header ``date,kind`` then one row per special day.

    ``kind`` is ``holiday`` (a day off) or ``workday`` (a weekend day that is worked). Other
    columns (a name, a note) are ignored; blank lines and lines starting with ``#`` are skipped.
    The covered years default to the first and last year appearing in the file; pass them when
    the file covers years without any special day. A malformed row raises InvalidInput naming
    its row number; a date listed as both kinds, or a workday on a weekday, too.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidInput("path", path, "expected a file path (str or os.PathLike)")
    file = Path(path)
    try:
        rows = _read_rows(file)
    except UnicodeDecodeError as error:
        raise InvalidInput(
            "path", str(file), f"not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    if not rows and (first_year is None or last_year is None):
        raise InvalidInput("path", str(file), "no rows: pass first_year and last_year explicitly")
    years = [day.year for day, _ in rows]
    return BusinessCalendar.from_lists(
        name,
        holidays=[day for day, kind in rows if kind == "holiday"],
        workdays=[day for day, kind in rows if kind == "workday"],
        first_year=min(years) if first_year is None else first_year,
        last_year=max(years) if last_year is None else last_year,
        weekend=weekend,
    )
