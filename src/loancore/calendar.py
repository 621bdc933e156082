"""Business-day calendars: holidays, make-up working days, T+N and the roll conventions.

A :class:`BusinessCalendar` is an immutable value: a name, the holidays, the make-up working days
that fall on a weekend (China's 调休: the State Council moves working days onto Saturdays or
Sundays to build a long holiday), the weekend days, and the years for which that data was
published. A day is a business day when it is not a holiday and either is not a weekend day or
is a make-up working day.

Rules (``docs/dates.md`` has the worked examples):

- **T+N** (:meth:`BusinessCalendar.add_business_days`): the N-th business day strictly after
  ``d`` for N > 0, the |N|-th business day strictly before ``d`` for N < 0, whether or not ``d``
  itself is a business day (so T+1 from a Saturday is the next Monday when that is a business
  day). T+0 is ``d`` rolled *following* (``d`` itself on a business day).
- **D+N** (:meth:`BusinessCalendar.add_calendar_days`): ``d`` plus N calendar days, then the
  requested roll (none by default).
- **Dates**: every date argument is a ``datetime.date`` within ``DATE_MIN .. DATE_MAX``
  (:func:`loancore.checks.require_date`, :class:`~loancore.errors.InvalidInput` otherwise), and
  a calendar covers years within those too.
- **Years**: any date a method is given, returns or walks onto outside
  ``first_year..last_year`` raises :class:`~loancore.errors.CalendarOutOfRange`. An unpublished
  year is never guessed to be weekends-only: that would move money on a public holiday.
- **Speed**: construction precomputes, for every day of the covered years, whether it is a
  business day and how many business days precede it. Every query is then O(1) (a few array
  look-ups), with no loop over days, so T+N costs the same for N=1 and N=10,000.

The core imports only the standard library and attrs; calendars of real countries come from
``loancore.adapters.calendars`` (the ``holidays`` package) or a bank's own file.
"""

from __future__ import annotations

import datetime
import enum
import itertools
from array import array
from collections.abc import Iterable
from typing import Any

import attrs

from loancore.checks import DATE_MAX, DATE_MIN, require_date
from loancore.errors import CalendarOutOfRange, InvalidInput

__all__ = [
    "CALENDAR_YEARS_MAX",
    "WEEKEND_SAT_SUN",
    "BusinessCalendar",
    "Roll",
]

WEEKEND_SAT_SUN: frozenset[int] = frozenset({5, 6})
"""Saturday and Sunday, as :meth:`datetime.date.weekday` numbers (Monday is 0)."""

CALENDAR_YEARS_MAX = 1000
"""Most years one calendar may cover (bounds the precomputed index: ~365k days)."""

# The years of loancore.checks' accepted dates (a date outside them is refused before any
# calendar look-up); they also keep the day before and after the covered years valid dates.
_YEAR_MIN = DATE_MIN.year
_YEAR_MAX = DATE_MAX.year


class Roll(str, enum.Enum):
    """How a date that is not a business day is moved onto one (ISDA 2006 4.12)."""

    FOLLOWING = "following"  # the next business day
    MODIFIED_FOLLOWING = "modified_following"  # following, unless that leaves the month: preceding
    PRECEDING = "preceding"  # the previous business day
    MODIFIED_PRECEDING = "modified_preceding"  # preceding, unless that leaves the month: following
    NONE = "none"  # unadjusted

    @classmethod
    def parse(cls, value: Any, field: str = "roll") -> Roll:
        """Return the member named by ``value`` (a member or its value, case-insensitive)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        known = ", ".join(m.value for m in cls)
        raise InvalidInput(field, value, f"unknown roll convention; expected one of {known}")


def _date_set(field: str, values: Any) -> frozenset[datetime.date]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidInput(field, values, "expected an iterable of datetime.date")
    days = frozenset(values)
    for day in days:
        require_date(field, day)
    return days


def _holidays(values: Any) -> frozenset[datetime.date]:
    return _date_set("holidays", values)


def _workdays(values: Any) -> frozenset[datetime.date]:
    return _date_set("extra_workdays", values)


def _weekend(values: Any) -> frozenset[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidInput("weekend", values, "expected an iterable of weekday numbers 0..6")
    days = frozenset(values)
    if any(type(d) is not int or not 0 <= d <= 6 for d in days) or len(days) == 7:
        raise InvalidInput("weekend", values, "expected weekday numbers 0..6 (Monday 0), not all 7")
    return days


def _check_name(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("name", value, "expected a non-empty string")


def _check_year(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not _YEAR_MIN <= value <= _YEAR_MAX:
        raise InvalidInput(attribute.name, value, f"expected an int year {_YEAR_MIN}..{_YEAR_MAX}")


def _count(label: str, days: frozenset[Any]) -> str:
    return f"<{len(days)} {label}>"


@attrs.frozen
class _Index:
    """Precomputed look-ups over ``[base, base + len(business))`` (proleptic ordinals).

    ``business[i]`` is 1 when ordinal ``base + i`` is a business day. ``before[i]`` is the number
    of business days in ``[base, base + i)`` (``len(business) + 1`` entries). ``ordinals[k]`` is
    the ordinal of the k-th business day (0-based).
    """

    base: int
    business: bytes
    before: array[int]
    ordinals: array[int]


def _build_index(
    first_year: int,
    last_year: int,
    weekend: frozenset[int],
    holidays: frozenset[datetime.date],
    workdays: frozenset[datetime.date],
) -> _Index:
    base = datetime.date(first_year, 1, 1).toordinal()
    stop = datetime.date(last_year, 12, 31).toordinal() + 1
    # date.fromordinal(o).weekday() == (o - 1) % 7: ordinal 1 (0001-01-01) was a Monday.
    flags = bytearray(0 if (o - 1) % 7 in weekend else 1 for o in range(base, stop))
    for day in workdays:
        if base <= day.toordinal() < stop:
            flags[day.toordinal() - base] = 1
    for day in holidays:
        if base <= day.toordinal() < stop:
            flags[day.toordinal() - base] = 0
    before = array("l", itertools.accumulate(flags, initial=0))
    ordinals = array("l", itertools.compress(range(base, stop), flags))
    return _Index(base=base, business=bytes(flags), before=before, ordinals=ordinals)


@attrs.frozen(kw_only=True)
class BusinessCalendar:
    """Which days are business days, for the years ``first_year..last_year`` inclusive.

    Build one with :meth:`from_lists` (a bank's own list), :meth:`weekends_only`, or the adapters
    in ``loancore.adapters.calendars`` (China from the ``holidays`` package, a CSV file).
    ``holidays`` may include weekend days (harmless); ``extra_workdays`` must fall on weekend days
    and never be holidays. Dates in either set outside the covered years are kept but never
    consulted. Equality and hashing use the data fields, not the precomputed index.
    """

    name: str = attrs.field(validator=_check_name)
    holidays: frozenset[datetime.date] = attrs.field(
        converter=_holidays, repr=lambda days: _count("dates", days)
    )
    extra_workdays: frozenset[datetime.date] = attrs.field(
        converter=_workdays, factory=frozenset, repr=lambda days: _count("dates", days)
    )
    weekend: frozenset[int] = attrs.field(converter=_weekend, default=WEEKEND_SAT_SUN)
    first_year: int = attrs.field(validator=_check_year)
    last_year: int = attrs.field(validator=_check_year)
    _index: _Index = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.last_year < self.first_year:
            raise InvalidInput(
                "last_year", self.last_year, f"must be >= first_year {self.first_year}"
            )
        if self.last_year - self.first_year + 1 > CALENDAR_YEARS_MAX:
            raise InvalidInput(
                "last_year", self.last_year, f"a calendar covers at most {CALENDAR_YEARS_MAX} years"
            )
        both = self.holidays & self.extra_workdays
        if both:
            raise InvalidInput("extra_workdays", sorted(both), "dates are also listed as holidays")
        weekdays = sorted(d for d in self.extra_workdays if d.weekday() not in self.weekend)
        if weekdays:
            raise InvalidInput(
                "extra_workdays", weekdays, "a make-up working day must fall on a weekend day"
            )
        index = _build_index(
            self.first_year, self.last_year, self.weekend, self.holidays, self.extra_workdays
        )
        object.__setattr__(self, "_index", index)

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_lists(
        cls,
        name: str,
        *,
        holidays: Iterable[datetime.date],
        workdays: Iterable[datetime.date] = (),
        first_year: int,
        last_year: int,
        weekend: Iterable[int] = WEEKEND_SAT_SUN,
    ) -> BusinessCalendar:
        """A calendar from explicit lists: ``holidays`` off, ``workdays`` (weekend days) on."""
        return cls(
            name=name,
            holidays=holidays,
            extra_workdays=workdays,
            weekend=weekend,
            first_year=first_year,
            last_year=last_year,
        )

    @classmethod
    def weekends_only(
        cls, name: str = "weekends", *, first_year: int = 1900, last_year: int = 2199
    ) -> BusinessCalendar:
        """Monday to Friday are business days; no holidays."""
        return cls(name=name, holidays=(), first_year=first_year, last_year=last_year)

    @classmethod
    def joint(cls, calendars: Iterable[BusinessCalendar], *, name: str) -> BusinessCalendar:
        """A day is a business day only when it is one in every calendar (e.g. the lender's and a
        partner bank's, for joint-lending settlement). Covers the years all of them cover.

        The weekend is the union of the weekends; a day on it that every calendar works becomes
        a make-up working day, and any other day some calendar does not work becomes a holiday.
        """
        members = tuple(calendars)
        if not members or not all(isinstance(c, BusinessCalendar) for c in members):
            raise InvalidInput("calendars", members, "expected one or more BusinessCalendar")
        first_year = max(c.first_year for c in members)
        last_year = min(c.last_year for c in members)
        if last_year < first_year:
            raise InvalidInput("calendars", [c.name for c in members], "no year in common")
        weekend = frozenset().union(*(c.weekend for c in members))
        start = datetime.date(first_year, 1, 1).toordinal()
        stop = datetime.date(last_year, 12, 31).toordinal() + 1
        slices = [c._index.business[start - c._index.base : stop - c._index.base] for c in members]
        holidays, workdays = [], []
        for ordinal, flags in zip(range(start, stop), zip(*slices)):  # one pass, bounded
            business = all(flags)
            on_weekend = (ordinal - 1) % 7 in weekend
            if on_weekend and business:
                workdays.append(datetime.date.fromordinal(ordinal))
            elif not on_weekend and not business:
                holidays.append(datetime.date.fromordinal(ordinal))
        return cls.from_lists(
            name, holidays=holidays, workdays=workdays, first_year=first_year,
            last_year=last_year, weekend=weekend,
        )  # fmt: skip

    # -- queries ------------------------------------------------------------------------------

    def covers(self, d: datetime.date) -> bool:
        """Whether ``d`` lies in ``first_year..last_year`` (never raises for an accepted date,
        one within ``loancore.checks.DATE_MIN .. DATE_MAX``)."""
        day = require_date("d", d)
        return self.first_year <= day.year <= self.last_year

    def is_business_day(self, d: datetime.date) -> bool:
        """Whether ``d`` is a business day. Raises CalendarOutOfRange outside the years."""
        return self._index.business[self._position("d", d)] == 1

    def add_business_days(self, d: datetime.date, n: int) -> datetime.date:
        """T+N: the N-th business day after ``d`` (before it when N < 0); T+0 rolls following.

        ``d`` need not be a business day: T+1 from a holiday is the first business day after it.
        Raises CalendarOutOfRange when ``d`` or the result lies outside the covered years.
        """
        position = self._position("d", d)
        steps = _require_int("n", n)
        if steps == 0:
            return self._following(position)
        index = self._index
        if steps > 0:
            target = index.before[position + 1] + steps - 1
        else:
            target = index.before[position] + steps
        return self._business_day_at(target)

    def add_calendar_days(
        self, d: datetime.date, n: int, *, roll: Roll | str = Roll.NONE
    ) -> datetime.date:
        """D+N: ``d`` plus N calendar days, then rolled by ``roll`` (unadjusted by default)."""
        self._position("d", d)
        steps = _require_int("n", n)
        convention = Roll.parse(roll)
        ordinal = d.toordinal() + steps
        if not self._index.base <= ordinal < self._index.base + len(self._index.business):
            raise CalendarOutOfRange(
                self.name, _describe_ordinal(ordinal, d, steps), self.first_year, self.last_year
            )
        return self.roll(datetime.date.fromordinal(ordinal), convention)

    def roll(self, d: datetime.date, convention: Roll | str) -> datetime.date:
        """``d`` moved onto a business day by ``convention`` (``d`` itself if it is one)."""
        position = self._position("d", d)
        rule = Roll.parse(convention, "convention")
        if rule is Roll.NONE or self._index.business[position]:
            return d
        if rule is Roll.FOLLOWING:
            return self._following(position)
        if rule is Roll.PRECEDING:
            return self._preceding(position)
        if rule is Roll.MODIFIED_FOLLOWING:
            moved = self._in_month(self._on_or_after(position), d.month)
            return moved if moved is not None else self._preceding(position)
        moved = self._in_month(self._on_or_before(position), d.month)
        return moved if moved is not None else self._following(position)

    def next_business_day(self, d: datetime.date) -> datetime.date:
        """The first business day strictly after ``d`` (same as T+1)."""
        return self.add_business_days(d, 1)

    def previous_business_day(self, d: datetime.date) -> datetime.date:
        """The last business day strictly before ``d`` (same as T-1)."""
        return self.add_business_days(d, -1)

    def business_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Signed count of business-day steps from ``start`` to ``end``.

        Counts the business days in ``(start, end]`` when ``start <= end``, and minus those in
        ``[end, start)`` when ``start > end``: the start is never counted, the end always is.
        So it inverts T+N: ``business_days_between(d, add_business_days(d, n)) == n`` for every
        ``d`` and every ``n != 0``.
        """
        first = self._position("start", start)
        last = self._position("end", end)
        before = self._index.before
        if first <= last:
            return before[last + 1] - before[first + 1]
        return -(before[first] - before[last])

    # -- internals ----------------------------------------------------------------------------

    def _position(self, field: str, d: Any) -> int:
        day = require_date(field, d)
        if not self.first_year <= day.year <= self.last_year:
            raise CalendarOutOfRange(self.name, day, self.first_year, self.last_year)
        return day.toordinal() - self._index.base

    def _business_day_at(self, k: int) -> datetime.date:
        ordinals = self._index.ordinals
        if k < 0:
            raise CalendarOutOfRange(
                self.name, f"a business day before {self.first_year}-01-01", self.first_year,
                self.last_year,
            )  # fmt: skip
        if k >= len(ordinals):
            raise CalendarOutOfRange(
                self.name, f"a business day after {self.last_year}-12-31", self.first_year,
                self.last_year,
            )  # fmt: skip
        return datetime.date.fromordinal(ordinals[k])

    def _on_or_after(self, position: int) -> int:
        """Rank (0-based; may be past the end) of the first business day on or after it."""
        return self._index.before[position + 1] - self._index.business[position]

    def _on_or_before(self, position: int) -> int:
        """Rank (may be -1) of the last business day on or before it."""
        return self._index.before[position + 1] - 1

    def _following(self, position: int) -> datetime.date:
        return self._business_day_at(self._on_or_after(position))

    def _preceding(self, position: int) -> datetime.date:
        return self._business_day_at(self._on_or_before(position))

    def _in_month(self, rank: int, month: int) -> datetime.date | None:
        """The business day of ``rank`` if it exists and falls in ``month``, else None.

        A rank past either end of the covered years is in another month (the years are whole),
        so a modified roll turns back instead of raising.
        """
        if not 0 <= rank < len(self._index.ordinals):
            return None
        found = datetime.date.fromordinal(self._index.ordinals[rank])
        return found if found.month == month else None


def _require_int(field: str, value: Any) -> int:
    if type(value) is not int:
        raise InvalidInput(field, value, "expected an int number of days")
    return value


def _describe_ordinal(ordinal: int, d: datetime.date, steps: int) -> Any:
    if 1 <= ordinal <= datetime.date.max.toordinal():
        return datetime.date.fromordinal(ordinal)
    return f"{d.isoformat()} {steps:+d} days"
