"""Daily-rate revolving interest (随借随还): interest on a drawn balance over a span of days.

A revolving line charges interest only on what is drawn, for the days it is drawn. The rate is
stated either as a daily rate (``daily_rate``, e.g. 0.0005 = 0.05% a day, "万分之五") applied to
each calendar day, or as an annual rate with a day-count convention (``annual_rate`` and
``day_count``: ACT/360 gives annual_rate / 360 per day).

Rounding point: interest accrues exactly (as a fraction) over the whole span, or over every
span of a balance history, and is rounded **once**, at the end, with the caller's mode. Rounding
day by day would let a few fen drift per month; a contract that does round daily can call
:func:`interest_for_span` once per day.

Inputs: balances and changes are money at the currency's scale (:func:`loancore.money.at_scale`,
at most ``AMOUNT_DIGITS_MAX`` digits); rates are in [0, 10) with at most ``RATE_DECIMALS_MAX``
decimal places (:func:`loancore.money.to_rate`); exactly one of ``daily_rate`` and
``annual_rate`` is given, and ``day_count`` goes with ``annual_rate`` only (a daily rate applies
to calendar days; a day count given with it would be ignored, so it is refused). Dates are plain
``datetime.date`` values in ``DATE_MIN .. DATE_MAX`` (:func:`loancore.checks.require_date`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from loancore.checks import require_date
from loancore.daycount import DayCount, year_fraction_ratio
from loancore.errors import InvalidInput
from loancore.money import (
    Rounding,
    at_scale,
    from_minor_units,
    minor_units_of,
    round_ratio,
    to_rate,
)

__all__ = ["SPANS_MAX", "interest_for_balances", "interest_for_span"]

SPANS_MAX = 100_000
"""The most balance changes one call accepts."""


def _rate_for(
    start: dt.date,
    end: dt.date,
    daily_rate: Decimal | None,
    annual_rate: Decimal | None,
    day_count: DayCount | None,
) -> Fraction:
    """The exact rate for the days from ``start`` (inclusive) to ``end`` (exclusive)."""
    if daily_rate is not None:
        return Fraction(daily_rate) * (end - start).days
    assert annual_rate is not None and day_count is not None  # _rates guarantees it
    return Fraction(annual_rate) * year_fraction_ratio(start, end, day_count)


def _rates(
    daily_rate: Any, annual_rate: Any, day_count: Any
) -> tuple[Decimal | None, Decimal | None, DayCount | None]:
    if (daily_rate is None) == (annual_rate is None):
        raise InvalidInput(
            "daily_rate", daily_rate, "give exactly one of daily_rate and annual_rate"
        )
    daily = None if daily_rate is None else to_rate(daily_rate, field="daily_rate")
    annual = None if annual_rate is None else to_rate(annual_rate, field="annual_rate")
    if annual is not None and day_count is None:
        raise InvalidInput(
            "day_count", day_count, "an annual_rate needs a day_count (e.g. 'ACT/360')"
        )
    if daily is not None and day_count is not None:
        raise InvalidInput(
            "day_count",
            day_count,
            "a daily_rate applies to calendar days; a day_count goes with annual_rate only",
        )
    convention = None if day_count is None else DayCount.parse(day_count, field="day_count")
    for name, value in (("daily_rate", daily), ("annual_rate", annual)):
        if value is not None and not 0 <= value < 10:
            raise InvalidInput(name, value, "must be in [0, 10)")
    return daily, annual, convention


def interest_for_span(
    balance: Any,
    start: dt.date,
    end: dt.date,
    *,
    currency: str,
    rounding: Rounding | str,
    daily_rate: Any = None,
    annual_rate: Any = None,
    day_count: DayCount | str | None = None,
) -> Decimal:
    """Interest on ``balance`` from ``start`` (inclusive) to ``end`` (exclusive), rounded once.

    ``balance x daily_rate x days`` or ``balance x annual_rate x year_fraction(start, end,
    day_count)``. Example: 10,000.00 for 30 days at 0.05% a day is 150.00.
    """
    daily, annual, convention = _rates(daily_rate, annual_rate, day_count)
    minor_units_of(currency)  # an unknown currency is refused before the balance is read
    amount = at_scale(balance, currency, field="balance")
    if amount < 0:
        raise InvalidInput("balance", balance, "must not be negative")
    first, last = require_date("start", start), require_date("end", end)
    if last < first:
        raise InvalidInput("end", end, f"must not be before start {start}")
    exact = Fraction(amount) * _rate_for(first, last, daily, annual, convention)
    return _rounded(exact, currency, rounding)


def interest_for_balances(
    changes: Sequence[tuple[dt.date, Any]],
    until: dt.date,
    *,
    currency: str,
    rounding: Rounding | str,
    daily_rate: Any = None,
    annual_rate: Any = None,
    day_count: DayCount | str | None = None,
) -> Decimal:
    """Interest over a balance history, rounded once at the end.

    ``changes`` are ``(date, amount)`` pairs in date order: draws positive, repayments negative;
    the balance after each change holds until the next change (or ``until``, exclusive). Each
    span accrues exactly; the sum is rounded once. The balance may never go negative.
    """
    daily, annual, convention = _rates(daily_rate, annual_rate, day_count)
    minor_units_of(currency)
    if not isinstance(changes, Sequence) or not changes or len(changes) > SPANS_MAX:
        raise InvalidInput("changes", changes, f"expected 1 to {SPANS_MAX} (date, amount) pairs")
    end = require_date("until", until)
    days = [_change_date(i, pair) for i, pair in enumerate(changes)] + [end]
    total, balance = Fraction(0), Fraction(0)
    for i, pair in enumerate(changes):
        day, following = days[i], days[i + 1]
        if following < day or end < day:
            raise InvalidInput(
                f"changes[{i}].date", day, "changes must be in date order, before until"
            )
        balance += Fraction(at_scale(pair[1], currency, field=f"changes[{i}].amount"))
        if balance < 0:
            raise InvalidInput(f"changes[{i}].amount", pair[1], "would make the balance negative")
        total += balance * _rate_for(day, following, daily, annual, convention)
    return _rounded(total, currency, rounding)


def _change_date(i: int, pair: Any) -> dt.date:
    """The date of ``changes[i]``, checked to be a ``(date, amount)`` pair (all are checked
    before any span is computed, so a bad later pair cannot escape as a TypeError)."""
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise InvalidInput(f"changes[{i}]", pair, "expected a (date, amount) pair")
    return require_date(f"changes[{i}].date", pair[0])


def _rounded(exact: Fraction, currency: str, rounding: Rounding | str) -> Decimal:
    """An exact amount rounded once to the currency's minor unit with the named mode."""
    scale = minor_units_of(currency)
    scaled = exact * 10**scale
    minor = round_ratio(scaled.numerator, scaled.denominator, rounding=rounding)
    return from_minor_units(minor, scale)
