"""Due-date schedules anchored to one date.

Every due date is computed from the anchor (the start date, or the first due date when one is
given) as ``anchor + k steps``, never by stepping from the previous due date: stepping drifts
(Jan 31 -> Feb 28 -> Mar 28 ...), and ``rrule`` silently skips short months. Month arithmetic is
``dateutil.relativedelta``, which clamps to the last day of a short month.

End of month is an explicit rule (:class:`EndOfMonth`):

- ``CLAMP`` keeps the anchor's day of month, clamped in short months:
  Jan 31 -> Feb 28 -> Mar 31 -> Apr 30 (each is ``anchor + k months``, so no drift);
- ``STICK`` applies when the anchor is the last day of its month: every due date is then the last
  day of its month (Feb 28 anchor -> Mar 31 -> Apr 30). For an anchor that is not a month end,
  ``STICK`` is the same as ``CLAMP``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import functools
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from loancore.checks import DATE_MAX, require_date
from loancore.errors import InvalidInput

__all__ = [
    "PERIODS_MAX",
    "EndOfMonth",
    "Frequency",
    "due_dates",
    "is_month_end",
    "periods_per_year",
    "step_back",
]

PERIODS_MAX = 1200
"""The most due dates one schedule may have (100 years monthly, 23 years weekly)."""


class Frequency(str, enum.Enum):
    """How often installments fall due. ``EVERY_N_DAYS`` needs ``every_days``."""

    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    SEMIMONTHLY = "semimonthly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    EVERY_N_DAYS = "every_n_days"

    @classmethod
    def parse(cls, value: Frequency | str, *, field: str = "frequency") -> Frequency:
        """Accept a member or its string value (``"monthly"``)."""
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(field, value, f"expected one of {[m.value for m in cls]}") from None

    @property
    def periods_per_year(self) -> int:
        """Whole periods per year (12 for monthly).

        For ``EVERY_N_DAYS`` use :func:`periods_per_year`, which takes ``every_days``.
        """
        if self is Frequency.EVERY_N_DAYS:
            raise InvalidInput(
                "frequency",
                self.value,
                "periods per year depends on every_days; "
                "call loancore.dates.periods_per_year(frequency, every_days=...)",
            )
        return _PER_YEAR[self]

    @property
    def months(self) -> int:
        """Months per period for month-based frequencies, 0 for day-based ones."""
        return _MONTHS.get(self, 0)


_PER_YEAR = {
    Frequency.WEEKLY: 52,
    Frequency.BIWEEKLY: 26,
    Frequency.SEMIMONTHLY: 24,
    Frequency.MONTHLY: 12,
    Frequency.QUARTERLY: 4,
    Frequency.SEMIANNUAL: 2,
    Frequency.ANNUAL: 1,
}
_MONTHS = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.SEMIANNUAL: 6,
    Frequency.ANNUAL: 12,
}
_DAYS = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14}
SEMIMONTH_DAYS = 15
"""The second due date of a semimonthly month falls this many days after the first."""


class EndOfMonth(str, enum.Enum):
    """What a month-end anchor means for later due dates (see the module docstring)."""

    CLAMP = "clamp"
    STICK = "stick"


def periods_per_year(frequency: Frequency | str, *, every_days: int | None = None) -> Decimal:
    """Periods per year as a Decimal: 12 for monthly; ``365 / every_days`` for every-N-days."""
    freq = Frequency.parse(frequency)
    if freq is Frequency.EVERY_N_DAYS:
        return Decimal(365) / Decimal(_check_every_days(every_days))
    return Decimal(_PER_YEAR[freq])


def is_month_end(day: dt.date) -> bool:
    """Whether ``day`` (a ``datetime.date``, see :func:`loancore.checks.require_date`) is the
    last day of its month."""
    checked = require_date("day", day)
    return checked.day == calendar.monthrange(checked.year, checked.month)[1]


def _is_month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _check_every_days(every_days: int | None) -> int:
    if type(every_days) is not int or not 1 <= every_days <= 366:
        raise InvalidInput("every_days", every_days, "expected an int from 1 to 366")
    return every_days


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= PERIODS_MAX:
        raise InvalidInput("count", count, f"expected an int from 1 to {PERIODS_MAX} (periods_max)")
    return count


def _nth(anchor: dt.date, k: int, freq: Frequency, every_days: int, stick: bool) -> dt.date:
    """The anchor moved ``k`` periods forward (or back, for negative ``k``)."""
    months = _MONTHS.get(freq)
    if months is not None:
        day: dt.date = anchor + relativedelta(months=months * k)
        return _month_end(day) if stick else day
    if freq is Frequency.SEMIMONTHLY:
        # Forward: the anchor's day each month, and 15 days later. Back: the mirror image, so
        # one semimonth back from the 16th is the 1st.
        months = k // 2 if k >= 0 else (k + 1) // 2
        day = anchor + relativedelta(months=months)
        if stick:
            day = _month_end(day)
        if k % 2 == 0:
            return day
        return day + dt.timedelta(days=SEMIMONTH_DAYS if k > 0 else -SEMIMONTH_DAYS)
    step = _DAYS.get(freq, every_days)
    return anchor + dt.timedelta(days=step * k)


def due_dates(
    start: dt.date,
    count: int,
    frequency: Frequency | str,
    *,
    first_due: dt.date | None = None,
    end_of_month: EndOfMonth | str = EndOfMonth.CLAMP,
    every_days: int | None = None,
) -> tuple[dt.date, ...]:
    """The ``count`` due dates of a schedule starting (disbursed) on ``start``.

    Without ``first_due`` the k-th due date (k = 1..count) is ``start + k periods``. With
    ``first_due`` (an odd first period), it is ``first_due + (k - 1) periods``. Semimonthly dates
    are the anchor's day each month and that day + 15 days. ``count`` is bounded by
    :data:`PERIODS_MAX`. Dates are ``datetime.date`` values within
    :data:`loancore.checks.DATE_MIN` .. ``DATE_MAX`` (:func:`loancore.checks.require_date`), and so
    is every due date: a schedule running past ``DATE_MAX`` raises ``InvalidInput`` naming
    ``start``. Results are cached (the function is pure).
    """
    require_date("start", start)
    if first_due is not None:
        require_date("first_due", first_due)
        if first_due <= start:
            raise InvalidInput("first_due", first_due, f"must be after the start date {start}")
    freq = Frequency.parse(frequency)
    rule = _parse_end_of_month(end_of_month)
    days = _check_every_days(every_days) if freq is Frequency.EVERY_N_DAYS else 0
    return _due_dates(start, _check_count(count), freq, first_due, rule, days)


def _parse_end_of_month(value: EndOfMonth | str) -> EndOfMonth:
    try:
        return EndOfMonth(value)
    except ValueError:
        raise InvalidInput(
            "end_of_month", value, f"expected one of {[m.value for m in EndOfMonth]}"
        ) from None


@functools.lru_cache(maxsize=4096)
def _due_dates(
    start: dt.date,
    count: int,
    freq: Frequency,
    first_due: dt.date | None,
    rule: EndOfMonth,
    every_days: int,
) -> tuple[dt.date, ...]:
    anchor = first_due if first_due is not None else start
    offset = 0 if first_due is not None else 1
    stick = rule is EndOfMonth.STICK and _is_month_end(anchor)
    last = DATE_MAX
    try:
        days = tuple(_nth(anchor, k + offset, freq, every_days, stick) for k in range(count))
    except (OverflowError, ValueError):  # datetime's range ends at 9999-12-31
        days = (dt.date.max,)
    if days[-1] > last:
        raise InvalidInput(
            "start", start, f"{count} {freq.value} due dates from {anchor} run past {last}"
        )
    return days


def step_back(
    day: dt.date,
    periods: int,
    frequency: Frequency | str,
    *,
    every_days: int | None = None,
) -> dt.date:
    """``day`` moved ``periods`` (an int >= 0) whole periods back (month ends clamp): for
    unit-period counting. The result may precede :data:`loancore.checks.DATE_MIN` (a counting
    step looks one period before the start), not ``datetime.date.min``."""
    require_date("day", day)
    if type(periods) is not int or periods < 0:
        raise InvalidInput("periods", periods, "expected an int >= 0 (periods to step back)")
    freq = Frequency.parse(frequency)
    days = _check_every_days(every_days) if freq is Frequency.EVERY_N_DAYS else 0
    try:
        return _nth(day, -periods, freq, days, False)
    except (OverflowError, ValueError):  # datetime's range starts at 0001-01-01
        raise InvalidInput(
            "day", day, f"{periods} {freq.value} periods back from it run before {dt.date.min}"
        ) from None
