"""Day-count conventions: how many days, and what fraction of a year, lie between two dates.

Interest for a period is ``principal * rate_annual * year_fraction(start, end, convention)``.
The convention is a term of the contract; this module implements the ISDA 2006 definitions
(section 4.16) and the market conventions a lender meets in practice. ``docs/dates.md`` has the
table and worked examples.

Rules this module keeps:

- A period is ``[start, end)``: the start date accrues, the end date does not, so consecutive
  periods add up (``year_fraction(a, b) + year_fraction(b, c) == year_fraction(a, c)`` for the
  actual-day conventions).
- ``start > end`` is allowed and antisymmetric: ``year_fraction(s, e) == -year_fraction(e, s)``
  and ``day_count(s, e) == -day_count(e, s)`` (the rules are applied to the ordered pair, then the
  sign is flipped), so a reversal accrues exactly minus the original.
- :func:`year_fraction_ratio` is exact (a :class:`fractions.Fraction`). :func:`year_fraction`
  converts that ratio once to a ``Decimal`` correctly rounded to
  :data:`YEAR_FRACTION_DIGITS` significant digits (ROUND_HALF_EVEN), in a private decimal
  context, so a caller's context never changes the result. 1/360 has no finite decimal
  expansion; callers that need the exact interest multiply by the ratio and round once.
- Inputs are checked: dates must be :class:`datetime.date` within ``DATE_MIN .. DATE_MAX`` (a
  ``datetime`` is refused, because its time of day would be silently dropped;
  :func:`loancore.checks.require_date`), conventions must be a :class:`DayCount` or one of its
  names or aliases; anything else raises :class:`~loancore.errors.InvalidInput`.
- ``termination`` (the schedule's maturity) may be any date, before or after the period: ISDA
  4.16(h) only asks whether a period's end *is* the termination date, and QuantLib and OpenGamma
  Strata accept any termination date likewise.
"""

from __future__ import annotations

import datetime
import decimal
import enum
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from loancore.checks import require_date
from loancore.errors import InvalidInput

__all__ = [
    "DAY_COUNT_ALIASES",
    "YEAR_FRACTION_DIGITS",
    "DayCount",
    "day_count",
    "year_fraction",
    "year_fraction_ratio",
]

YEAR_FRACTION_DIGITS = 28
"""Significant digits of :func:`year_fraction` (Python's default decimal precision)."""

_CONTEXT = decimal.Context(prec=YEAR_FRACTION_DIGITS, rounding=decimal.ROUND_HALF_EVEN)


class DayCount(str, enum.Enum):
    """A day-count convention. The value is the name used in contracts and in storage.

    Accepted spellings besides the value are listed in :data:`DAY_COUNT_ALIASES`;
    :meth:`parse` (and ``DayCount("...")``) accept any of them, case- and space-insensitive.
    """

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"
    ACT_365_25 = "ACT/365.25"
    ACT_366 = "ACT/366"
    ACT_ACT_ISDA = "ACT/ACT ISDA"
    ACT_ACT_AFB = "ACT/ACT AFB"
    THIRTY_360_US = "30/360 US"
    THIRTY_360_BOND = "30/360 BOND"
    THIRTY_E_360 = "30E/360"
    THIRTY_E_360_ISDA = "30E/360 ISDA"
    THIRTY_365 = "30/365"

    @classmethod
    def parse(cls, value: Any, field: str = "convention") -> DayCount:
        """Return the convention named by ``value`` (a member, its value or an alias).

        Raises :class:`~loancore.errors.InvalidInput` naming ``field`` for anything else.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            member = _ALIAS_LOOKUP.get(_normalize(value))
            if member is not None:
                return member
        known = ", ".join(m.value for m in cls)
        raise InvalidInput(field, value, f"unknown day-count convention; expected one of {known}")

    @classmethod
    def _missing_(cls, value: object) -> DayCount | None:
        if isinstance(value, str):
            return _ALIAS_LOOKUP.get(_normalize(value))
        return None


# Other names found in contracts and systems (ISDA 2006 4.16, FpML, QuantLib). "30/360" alone
# means ISDA 4.16(f) ("30/360", "360/360", "Bond Basis"), not the US variant. "ACT/365" means
# ACT/365F, as Chinese contracts use it (in the ISDA 2000 definitions it meant ACT/ACT). Names
# that libraries use for different rules ("30/360 ISDA", "30/360 ISMA") are left out on purpose.
DAY_COUNT_ALIASES: dict[str, DayCount] = {
    "A/360": DayCount.ACT_360,
    "ACT/360": DayCount.ACT_360,
    "FRENCH": DayCount.ACT_360,
    "ACT/365": DayCount.ACT_365F,
    "ACT/365 FIXED": DayCount.ACT_365F,
    "ACT/365F": DayCount.ACT_365F,
    "A/365F": DayCount.ACT_365F,
    "ENGLISH": DayCount.ACT_365F,
    "ACT/365.25": DayCount.ACT_365_25,
    "ACT/366": DayCount.ACT_366,
    "ACT/ACT": DayCount.ACT_ACT_ISDA,
    "ACT/ACT ISDA": DayCount.ACT_ACT_ISDA,
    "ACT/ACT AFB": DayCount.ACT_ACT_AFB,
    "ACT/ACT EURO": DayCount.ACT_ACT_AFB,
    "30/360 US": DayCount.THIRTY_360_US,
    "30U/360": DayCount.THIRTY_360_US,
    "30/360 SIA": DayCount.THIRTY_360_US,
    "30/360": DayCount.THIRTY_360_BOND,
    "30/360 BOND": DayCount.THIRTY_360_BOND,
    "30/360 BOND BASIS": DayCount.THIRTY_360_BOND,
    "BOND BASIS": DayCount.THIRTY_360_BOND,
    "360/360": DayCount.THIRTY_360_BOND,
    "30E/360": DayCount.THIRTY_E_360,
    "EUROBOND BASIS": DayCount.THIRTY_E_360,
    "30E/360 ISDA": DayCount.THIRTY_E_360_ISDA,
    "30/360 GERMAN": DayCount.THIRTY_E_360_ISDA,
    "30/365": DayCount.THIRTY_365,
}


def _normalize(name: str) -> str:
    """Upper-case, ``ACTUAL`` -> ``ACT``, parentheses and extra spaces dropped."""
    text = name.upper().replace("(", " ").replace(")", " ").replace("ACTUAL", "ACT")
    text = " ".join(text.split())
    return text.replace(" / ", "/").replace("/ ", "/").replace(" /", "/")


_ALIAS_LOOKUP: dict[str, DayCount] = {_normalize(k): v for k, v in DAY_COUNT_ALIASES.items()}


def _require_termination(convention: DayCount, termination: Any) -> datetime.date | None:
    if termination is None:
        if convention is DayCount.THIRTY_E_360_ISDA:
            raise InvalidInput(
                "termination",
                None,
                "30E/360 ISDA needs the termination (maturity) date: "
                "ISDA 4.16(h) leaves a February month-end unchanged only on that date",
            )
        return None
    return require_date("termination", termination)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _is_last_of_february(day: datetime.date) -> bool:
    return day.month == 2 and day.day == (29 if _is_leap(day.year) else 28)


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_last_of_month(day: datetime.date) -> bool:
    if day.month == 2:
        return _is_last_of_february(day)
    return day.day == _MONTH_DAYS[day.month]


def _thirty(d1: datetime.date, day1: int, d2: datetime.date, day2: int) -> int:
    return 360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + (day2 - day1)


def _thirty_360_us(d1: datetime.date, d2: datetime.date, _: datetime.date | None) -> int:
    """30/360 US (SIA), end-of-month rules always applied; the order of the checks matters."""
    day1, day2 = d1.day, d2.day
    if _is_last_of_february(d1):
        if _is_last_of_february(d2):
            day2 = 30
        day1 = 30
    if day2 == 31 and day1 >= 30:
        day2 = 30
    if day1 == 31:
        day1 = 30
    return _thirty(d1, day1, d2, day2)


def _thirty_360_bond(d1: datetime.date, d2: datetime.date, _: datetime.date | None) -> int:
    """ISDA 2006 4.16(f): D1 31 -> 30; D2 31 -> 30 only if D1 (adjusted) is 30 or 31."""
    day1 = 30 if d1.day == 31 else d1.day
    day2 = 30 if d2.day == 31 and day1 == 30 else d2.day
    return _thirty(d1, day1, d2, day2)


def _thirty_e_360(d1: datetime.date, d2: datetime.date, _: datetime.date | None) -> int:
    """ISDA 2006 4.16(g): any 31st becomes the 30th."""
    return _thirty(d1, min(d1.day, 30), d2, min(d2.day, 30))


def _thirty_e_360_isda(
    d1: datetime.date, d2: datetime.date, termination: datetime.date | None
) -> int:
    """ISDA 2006 4.16(h): month-ends become the 30th, except D2 in February on the termination."""
    day1 = 30 if _is_last_of_month(d1) else d1.day
    keep = d2 == termination and d2.month == 2
    day2 = 30 if _is_last_of_month(d2) and not keep else d2.day
    return _thirty(d1, day1, d2, day2)


_ThirtyRule = Callable[[datetime.date, datetime.date, "datetime.date | None"], int]
_THIRTY_RULES: dict[DayCount, _ThirtyRule] = {
    DayCount.THIRTY_360_US: _thirty_360_us,
    DayCount.THIRTY_360_BOND: _thirty_360_bond,
    DayCount.THIRTY_365: _thirty_360_bond,
    DayCount.THIRTY_E_360: _thirty_e_360,
    DayCount.THIRTY_E_360_ISDA: _thirty_e_360_isda,
}


def _ordered_day_count(
    convention: DayCount, d1: datetime.date, d2: datetime.date, termination: datetime.date | None
) -> int:
    if d1 == d2:
        # An empty period is 0 days under every convention (literally, 30E/360 ISDA would give
        # -2 for a February month-end that is also the termination date).
        return 0
    rule = _THIRTY_RULES.get(convention)
    return (d2 - d1).days if rule is None else rule(d1, d2, termination)


def _year_length(year: int) -> int:
    return 366 if _is_leap(year) else 365


def _act_act_isda(d1: datetime.date, d2: datetime.date) -> tuple[int, int]:
    """Days in each calendar year over that year's length (365 or 366), summed.

    Returned as an unreduced ``(numerator, denominator)`` pair of ints: one exact division later.
    """
    if d1.year == d2.year:
        return (d2 - d1).days, _year_length(d1.year)
    first_days = (datetime.date(d1.year + 1, 1, 1) - d1).days
    last_days = (d2 - datetime.date(d2.year, 1, 1)).days
    first_length, last_length = _year_length(d1.year), _year_length(d2.year)
    denominator = first_length * last_length
    whole_years = d2.year - d1.year - 1
    numerator = first_days * last_length + last_days * first_length + whole_years * denominator
    return numerator, denominator


def _afb_year_back(end: datetime.date, years: int) -> datetime.date:
    """``end`` moved back whole years; a February 28th/29th end lands on the 29th in leap years.

    That is the ISDA (1998 EMU memo) clarification of the FBF rule: counting back from the last
    day of February uses the 29th where it exists.
    """
    if years == 0:
        return end
    year = end.year - years
    if end.month == 2 and end.day >= 28:
        return datetime.date(year, 2, 29 if _is_leap(year) else 28)
    return datetime.date(year, end.month, end.day)


def _act_act_afb(d1: datetime.date, d2: datetime.date) -> tuple[int, int]:
    """Whole years counted back from the end, then the initial stub over 365, or 366 when the
    stub ``[d1, stub_end)`` contains a 29 February."""
    years = d2.year - d1.year
    stub_end = _afb_year_back(d2, years)
    for _ in range(2):  # at most two steps: the candidate year is exact to within one year
        if stub_end >= d1:
            break
        years -= 1
        stub_end = _afb_year_back(d2, years)
    leap_day_in_stub = any(
        _is_leap(y) and d1 <= datetime.date(y, 2, 29) < stub_end for y in (d1.year, stub_end.year)
    )
    denominator = 366 if leap_day_in_stub else 365
    return years * denominator + (stub_end - d1).days, denominator


# Denominators of the conventions that divide a day count by a constant. 365.25 is exact as a
# Decimal; as an int ratio it is 4 * days / 1461.
_DENOMINATORS: dict[DayCount, Decimal] = {
    DayCount.ACT_360: Decimal(360),
    DayCount.ACT_365F: Decimal(365),
    DayCount.ACT_365_25: Decimal("365.25"),
    DayCount.ACT_366: Decimal(366),
    DayCount.THIRTY_360_US: Decimal(360),
    DayCount.THIRTY_360_BOND: Decimal(360),
    DayCount.THIRTY_E_360: Decimal(360),
    DayCount.THIRTY_E_360_ISDA: Decimal(360),
    DayCount.THIRTY_365: Decimal(365),
}


def _ordered_ratio(
    convention: DayCount, d1: datetime.date, d2: datetime.date, termination: datetime.date | None
) -> tuple[int, int]:
    """The exact year fraction of ``d1 <= d2`` as an unreduced ``(numerator, denominator)``."""
    if convention is DayCount.ACT_ACT_ISDA:
        return _act_act_isda(d1, d2)
    if convention is DayCount.ACT_ACT_AFB:
        return _act_act_afb(d1, d2)
    days = _ordered_day_count(convention, d1, d2, termination)
    if convention is DayCount.ACT_365_25:
        return 4 * days, 1461
    return days, int(_DENOMINATORS[convention])


def _checked(
    start: Any, end: Any, convention: Any, termination: Any
) -> tuple[DayCount, datetime.date, datetime.date, int, datetime.date | None]:
    """Validate the arguments; return them ordered (earlier, later) with the sign to apply."""
    d1 = require_date("start", start)
    d2 = require_date("end", end)
    rule = DayCount.parse(convention)
    sign = 1 if d1 <= d2 else -1
    earlier, later = (d1, d2) if sign == 1 else (d2, d1)
    return rule, earlier, later, sign, _require_termination(rule, termination)


def day_count(
    start: datetime.date,
    end: datetime.date,
    convention: DayCount | str,
    *,
    termination: datetime.date | None = None,
) -> int:
    """Days from ``start`` to ``end`` (start counted, end not) under ``convention``.

    Actual days for the ACT conventions (ACT/ACT included); the 30-day-month count for the 30/xxx
    conventions. Negative when ``start > end`` (antisymmetric). ``termination`` is the final
    maturity date of the schedule; 30E/360 ISDA requires it (it matters only when the period
    ends on it), the other conventions ignore it (it is still type-checked).
    """
    rule, earlier, later, sign, last = _checked(start, end, convention, termination)
    return sign * _ordered_day_count(rule, earlier, later, last)


def year_fraction_ratio(
    start: datetime.date,
    end: datetime.date,
    convention: DayCount | str,
    *,
    termination: datetime.date | None = None,
) -> Fraction:
    """The exact year fraction from ``start`` to ``end``, as a :class:`~fractions.Fraction`.

    Same arguments and rules as :func:`year_fraction`. Use it to compute interest exactly and
    round once: ``quantize(principal * rate_annual * Decimal(ratio.numerator) / ...)``.
    """
    rule, earlier, later, sign, last = _checked(start, end, convention, termination)
    numerator, denominator = _ordered_ratio(rule, earlier, later, last)
    return Fraction(sign * numerator, denominator)


def year_fraction(
    start: datetime.date,
    end: datetime.date,
    convention: DayCount | str,
    *,
    termination: datetime.date | None = None,
) -> Decimal:
    """The fraction of a year from ``start`` to ``end`` under ``convention``, as a ``Decimal``.

    Unit: years. Rounding point: the exact ratio (:func:`year_fraction_ratio`) is converted once,
    correctly rounded to :data:`YEAR_FRACTION_DIGITS` significant digits with ROUND_HALF_EVEN in
    a private context (exact whenever the ratio terminates within those digits, e.g. 90/360).
    Negative when ``start > end``. ACT/ACT ISDA splits the period at each 1 January; ACT/ACT AFB
    counts whole years back from the end; 30E/360 ISDA needs ``termination``.
    """
    rule, earlier, later, sign, last = _checked(start, end, convention, termination)
    denominator = _DENOMINATORS.get(rule)
    if denominator is not None:
        days = _ordered_day_count(rule, earlier, later, last)
        return _CONTEXT.divide(Decimal(sign * days), denominator)
    numerator, whole = _ordered_ratio(rule, earlier, later, last)
    return _CONTEXT.divide(Decimal(sign * numerator), Decimal(whole))
