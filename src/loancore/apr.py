"""Annualized-rate disclosure: Regulation Z's actuarial APR, the EU APRC, and the IRR method.

Every function takes either a :class:`~loancore.amortization.Schedule` or dated cash flows.
Cash flows are ``(date, amount)`` pairs seen from the lender, as in :func:`loancore.tvm.xirr`:
advances (money lent) negative, repayments and charges positive; the first pair's date starts
the term. A schedule becomes one advance of its net disbursement (principal less any up-front fee)
on the start date, then each installment's total on its due date.

- :func:`us_actuarial`: Regulation Z (12 CFR 1026) Appendix J, actuarial method. Time is counted
  in unit periods (:class:`UnitPeriod`: any whole number of weeks, 1 to 52, or of months, 1 to
  12, or a semimonth, as (b)(3)(iii) allows): whole unit periods measured back from each flow's
  date, plus a fraction of remaining days over 7 per week of the unit period, 30 per month (365
  for a year), or 15 for a semimonth. Each flow is discounted by
  ``(1 + f i)(1 + i)^q`` (simple interest for the fraction, the appendix's general equation) and
  the APR is the unit-period rate ``i`` times unit periods per year.
- :func:`eu`: Directive 2008/48/EC Annex I: ``sum(A_k (1 + X)^(-t_k)) = 0`` with ``t_k`` in years,
  compounding annually. ``time_basis="days"`` counts whole years from the first drawdown and
  the remaining days over 365 (366 in a year with 29 February);
  ``time_basis="months"`` counts whole months as twelfths of a year (the "standard year").
- :func:`irr_annualized`: the periodic IRR over equal periods, times periods per year (the
  nominal figure China's 2021 rule on displaying annualized rates allows), and the effective
  annual rate ``(1 + i)^m - 1``.

Rates come back unrounded (28 significant digits) as fractions (``0.1296`` is 12.96%);
:func:`round_percent` rounds for display (HALF_UP, as Annex I remark (d) prescribes).
:func:`check_caps` compares a rate with configurable caps (24%, 36%, k x one-year LPR).
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import enum
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from loancore import dates as _dates
from loancore.amortization import Method, Schedule
from loancore.checks import require_date, require_id
from loancore.dates import Frequency
from loancore.errors import InvalidInput, NoSolution
from loancore.money import Rounding, to_decimal
from loancore.tvm import CASHFLOWS_MAX, ITERATIONS_MAX, NPER_MAX, discount_factors, solve_rate

__all__ = [
    "PLACES_MAX",
    "AnnualizedRate",
    "CapCheck",
    "RateCap",
    "UnitPeriod",
    "check_caps",
    "eu",
    "irr_annualized",
    "round_percent",
    "us_actuarial",
    "us_actuarial_periods",
]

_ONE = Decimal(1)
_ZERO = Decimal(0)
_OUT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
# Every public function computes in this context, never the caller's (whose precision, rounding
# or traps would otherwise change or break the result).
_WORK = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
PLACES_MAX = 28
"""The most decimals :func:`round_percent` rounds to."""


class _Unit(str, enum.Enum):
    WEEK = "week"
    MONTH = "month"
    SEMIMONTH = "semimonth"


_WEEKS_MAX = 52
_MONTHS_MAX = 12
_UNIT_TEXT = re.compile(r"([0-9]{1,2}) (week|month)s?")


def _unit_count(count: Any, most: int) -> int:
    if type(count) is not int or not 1 <= count <= most:
        raise InvalidInput("count", count, f"expected an int from 1 to {most}")
    return count


@attrs.frozen
class UnitPeriod:
    """A Regulation Z unit period: a whole number of weeks (1 to 52) or of months (1 to 12), or a
    semimonth. Appendix J (b)(3)(iii) allows any multiple of a week or a month up to a year; its
    own examples use 4 weeks ((c)(2)(ii), (c)(6)(i)) and 2 months ((c)(4)(ii)).

    Build one with :meth:`weeks`, :meth:`months` or :meth:`parse` (a :class:`Frequency` other
    than every-N-days, its value, or ``"4 weeks"`` / ``"2 months"``). A fraction of a unit period
    is the remaining days over :attr:`fraction_days` ((b)(5)(iv)): 7 per week, 30 per month (365
    for a year), 15 for a semimonth.
    """

    count: int
    unit: str

    def __attrs_post_init__(self) -> None:
        most = {
            _Unit.WEEK.value: _WEEKS_MAX,
            _Unit.MONTH.value: _MONTHS_MAX,
            _Unit.SEMIMONTH.value: 1,
        }
        if self.unit not in most:
            raise InvalidInput("unit", self.unit, f"expected one of {sorted(most)}")
        _unit_count(self.count, most[self.unit])

    @classmethod
    def weeks(cls, count: int) -> UnitPeriod:
        return cls(count, _Unit.WEEK.value)

    @classmethod
    def months(cls, count: int) -> UnitPeriod:
        return cls(count, _Unit.MONTH.value)

    @classmethod
    def semimonth(cls) -> UnitPeriod:
        return cls(1, _Unit.SEMIMONTH.value)

    @classmethod
    def parse(cls, value: Any, *, field: str = "unit_period") -> UnitPeriod:
        """A :class:`UnitPeriod`, a :class:`Frequency` (or its value), or ``"<n> weeks"`` /
        ``"<n> months"``; anything else raises InvalidInput naming ``field``."""
        if isinstance(value, UnitPeriod):
            return value
        if isinstance(value, str):
            match = _UNIT_TEXT.fullmatch(value.strip().lower())
            if match:
                count = int(match[1])
                return cls.weeks(count) if match[2] == "week" else cls.months(count)
        if isinstance(value, (Frequency, str)):
            try:
                frequency = Frequency(value)
            except ValueError:
                frequency = None
            if frequency is not None and frequency in _FREQUENCY_UNITS:
                return _FREQUENCY_UNITS[frequency]
        raise InvalidInput(
            field,
            value,
            "expected a UnitPeriod, a Frequency other than every_n_days, "
            "or '<n> weeks' (1-52) / '<n> months' (1-12)",
        )

    @property
    def periods_per_year(self) -> Decimal:
        """Unit periods in a year: 52 / weeks, 12 / months, 24 semimonths."""
        if self.unit == _Unit.WEEK:
            return Decimal(52) / self.count
        if self.unit == _Unit.MONTH:
            return Decimal(12) / self.count
        return Decimal(24)

    @property
    def fraction_days(self) -> int:
        """The divisor of a fractional unit period, in days (Appendix J (b)(5)(iv))."""
        if self.unit == _Unit.WEEK:
            return 7 * self.count
        if self.unit == _Unit.MONTH:
            return 365 if self.count == _MONTHS_MAX else 30 * self.count
        return 15

    def _average_days(self) -> Decimal:
        if self.unit == _Unit.WEEK:
            return Decimal(7 * self.count)
        if self.unit == _Unit.MONTH:
            return Decimal("30.4") * self.count
        return Decimal("15.2")

    def _back(self, day: dt.date, periods: int) -> dt.date:
        """``day`` minus whole unit periods; a month-end date steps to month ends ((b)(3)(iv))."""
        if self.unit == _Unit.WEEK:
            return day - dt.timedelta(days=7 * self.count * periods)
        if self.unit == _Unit.SEMIMONTH:
            return _dates.step_back(day, periods, Frequency.SEMIMONTHLY)
        result = _dates.step_back(day, self.count * periods, Frequency.MONTHLY)
        if _dates.is_month_end(day):
            return result.replace(day=calendar.monthrange(result.year, result.month)[1])
        return result


_FREQUENCY_UNITS = {
    Frequency.WEEKLY: UnitPeriod.weeks(1),
    Frequency.BIWEEKLY: UnitPeriod.weeks(2),
    Frequency.SEMIMONTHLY: UnitPeriod.semimonth(),
    Frequency.MONTHLY: UnitPeriod.months(1),
    Frequency.QUARTERLY: UnitPeriod.months(3),
    Frequency.SEMIANNUAL: UnitPeriod.months(6),
    Frequency.ANNUAL: UnitPeriod.months(12),
}

Flows = Sequence[tuple[dt.date, Any]]


def _flows(source: Schedule | Flows) -> list[tuple[dt.date, Decimal]]:
    """Lender-view dated flows; the first is the start of the term."""
    if isinstance(source, Schedule):
        terms = source.terms
        flows = [(terms.start_date, -source.net_disbursement)]
        flows += list(zip(source.due_dates, source.totals, strict=True))
        return flows
    if (
        isinstance(source, (str, bytes))
        or not isinstance(source, Sequence)
        or not 2 <= len(source) <= CASHFLOWS_MAX
    ):
        raise InvalidInput(
            "cashflows",
            source,
            f"expected a Schedule or 2 to {CASHFLOWS_MAX} (date, amount) pairs",
        )
    out: list[tuple[dt.date, Decimal]] = []
    for i, pair in enumerate(source):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"cashflows[{i}]", pair, "expected a (datetime.date, amount) pair")
        day = require_date(f"cashflows[{i}].date", pair[0])
        if out and day < out[0][0]:
            raise InvalidInput(f"cashflows[{i}]", pair, f"is before the first date {out[0][0]}")
        out.append((day, to_decimal(pair[1], field=f"cashflows[{i}].amount")))
    amounts = [a for _, a in out]
    if all(a >= 0 for a in amounts) or all(a <= 0 for a in amounts):
        raise NoSolution("apr", "the cash flows never change sign")
    return out


def _solve(residual: Callable[[Decimal], Decimal], solver: str, iterations_max: int) -> Decimal:
    # Rates per period above 1000% are not loans; the bracket keeps the solver honest.
    root = solve_rate(
        residual,
        solver=solver,
        guess=Decimal("0.01"),
        low=Decimal("-0.99"),
        high=Decimal(10),
        iterations_max=iterations_max,
    )
    return _OUT.plus(root)


# -- Regulation Z Appendix J ---------------------------------------------------------------------


def _unit_periods(start: dt.date, day: dt.date, unit: UnitPeriod) -> tuple[int, Decimal]:
    """(whole unit periods, fraction) from ``start`` to ``day``, counted back from ``day``."""
    if day == start:
        return 0, _ZERO
    whole = int((day - start).days / unit._average_days())
    for _ in range(4):  # the estimate is within a period or two; settle it exactly
        if whole > 0 and unit._back(day, whole) < start:
            whole -= 1
        elif unit._back(day, whole + 1) >= start:
            whole += 1
        else:
            break
    remaining = (unit._back(day, whole) - start).days
    # The days left over can reach a whole unit period's divisor (Jan 1 -> Jan 31 is no calendar
    # month but 30 days; semimonths counted back from Feb 29 leave 15 days): count those as
    # whole periods, since (1 + 1 x i) == (1 + i)^1, and keep the fraction below 1.
    extra, remaining = divmod(remaining, unit.fraction_days)
    return whole + extra, Decimal(remaining) / Decimal(unit.fraction_days)


def us_actuarial(
    source: Schedule | Flows,
    *,
    unit_period: UnitPeriod | Frequency | str | None = None,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """The APR by Regulation Z Appendix J's actuarial method, as a fraction (0.1182 = 11.82%).

    ``unit_period`` defaults to the schedule's frequency (monthly for bare cash flows); pass the
    transaction's most common payment interval (Appendix J (b)(4)): a :class:`UnitPeriod`, a
    :class:`Frequency`, or ``"4 weeks"`` / ``"2 months"``. An every-N-days schedule defaults to
    N / 7 weeks when N is a multiple of 7 and otherwise needs an explicit unit period. Unrounded; Regulation Z's tolerance is 1/8 percentage
    point for regular transactions (1026.22(a)(2)).
    """
    with decimal.localcontext(_WORK):
        return _us_actuarial(source, unit_period, iterations_max)


def _us_actuarial(
    source: Schedule | Flows, unit_period: UnitPeriod | Frequency | str | None, iterations_max: int
) -> Decimal:
    flows = _flows(source)
    if unit_period is not None:
        unit = UnitPeriod.parse(unit_period)
    elif not isinstance(source, Schedule):
        unit = UnitPeriod.months(1)
    elif source.terms.frequency is Frequency.EVERY_N_DAYS:
        days = source.terms.every_days or 0
        if days % 7:
            raise InvalidInput(
                "unit_period", None, f"every {days} days is no whole number of weeks: give one"
            )
        unit = UnitPeriod.weeks(days // 7)
    else:
        unit = UnitPeriod.parse(source.terms.frequency)
    start = flows[0][0]
    return us_actuarial_periods(
        [(a, *_unit_periods(start, day, unit)) for day, a in flows],
        unit_periods_per_year=unit.periods_per_year,
        iterations_max=iterations_max,
    )


def us_actuarial_periods(
    flows: Sequence[tuple[Any, int, Any]],
    *,
    unit_periods_per_year: Any,
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """Appendix J's general equation (b)(8) on flows already measured in unit periods.

    Each flow is ``(amount, q, f)``: lender-view amount (advances negative), ``q`` whole unit
    periods and ``f`` the fraction of a unit period from the start of the term. The flow is
    discounted by ``(1 + f i)(1 + i)^q``; the APR is ``i x unit_periods_per_year``. This is the
    form in which Appendix J (c) states its examples.
    """
    with decimal.localcontext(_WORK):
        return _us_actuarial_periods(flows, unit_periods_per_year, iterations_max)


def _us_actuarial_periods(
    flows: Sequence[tuple[Any, int, Any]], unit_periods_per_year: Any, iterations_max: int
) -> Decimal:
    w = to_decimal(unit_periods_per_year, field="unit_periods_per_year")
    if w <= 0:
        raise InvalidInput("unit_periods_per_year", unit_periods_per_year, "must be positive")
    if (
        isinstance(flows, (str, bytes))
        or not isinstance(flows, Sequence)
        or not 2 <= len(flows) <= CASHFLOWS_MAX
    ):
        raise InvalidInput("flows", flows, f"expected 2 to {CASHFLOWS_MAX} (amount, q, f) triples")
    amounts: list[Decimal] = []
    times: list[tuple[int, Decimal]] = []
    for k, flow in enumerate(flows):
        if (
            not isinstance(flow, tuple)
            or len(flow) != 3
            or type(flow[1]) is not int
            or not 0 <= flow[1] <= NPER_MAX
        ):
            raise InvalidInput(
                f"flows[{k}]", flow, f"expected (amount, whole periods 0..{NPER_MAX}, fraction)"
            )
        fraction = to_decimal(flow[2], field=f"flows[{k}].fraction")
        if not _ZERO <= fraction < _ONE:
            raise InvalidInput(f"flows[{k}].fraction", flow[2], "must be in [0, 1)")
        amounts.append(to_decimal(flow[0], field=f"flows[{k}].amount"))
        times.append((flow[1], fraction))
    if all(a >= 0 for a in amounts) or all(a <= 0 for a in amounts):
        raise NoSolution("us_actuarial", "the cash flows never change sign")

    def residual(i: Decimal) -> Decimal:
        base = _ONE + i
        terms = zip(amounts, times, strict=True)
        return sum((a / ((_ONE + f * i) * base**q) for a, (q, f) in terms), _ZERO)

    return _OUT.plus(_solve(residual, "us_actuarial", iterations_max) * w)


# -- EU Directive 2008/48/EC Annex I -------------------------------------------------------------


def _years(start: dt.date, day: dt.date, time_basis: str) -> Fraction:
    """The exact time in years from ``start`` to ``day`` (a Fraction, so the discount factors
    are integer powers of a few roots: :func:`loancore.tvm.discount_factors`)."""
    if time_basis == "months":
        months = (day.year - start.year) * 12 + day.month - start.month
        if _dates.step_back(day, months, Frequency.MONTHLY) < start:
            months -= 1
        anchor: dt.date = start + relativedelta(months=months)
        return Fraction(months, 12) + Fraction((day - anchor).days, 365)
    whole = day.year - start.year
    if start + relativedelta(months=12 * whole) > day:
        whole -= 1
    anniversary: dt.date = start + relativedelta(months=12 * whole)
    following: dt.date = start + relativedelta(months=12 * (whole + 1))
    return whole + Fraction((day - anniversary).days, (following - anniversary).days)


def eu(
    source: Schedule | Flows,
    *,
    time_basis: str = "days",
    iterations_max: int = ITERATIONS_MAX,
) -> Decimal:
    """The annual percentage rate of charge of Directive 2008/48/EC Annex I, as a fraction.

    ``time_basis="days"``: whole years from the first drawdown plus remaining days over the days
    of that year (365, or 366 when it holds 29 February), remark (c); ``"months"``: whole months
    as twelfths plus remaining days over 365. Unrounded; display with ``round_percent(x, 1)``.
    """
    if time_basis not in ("days", "months"):
        raise InvalidInput("time_basis", time_basis, "expected 'days' or 'months'")
    with decimal.localcontext(_WORK):
        return _eu(source, time_basis, iterations_max)


def _eu(source: Schedule | Flows, time_basis: str, iterations_max: int) -> Decimal:
    flows = _flows(source)
    start = flows[0][0]
    try:
        years = [_years(start, day, time_basis) for day, _ in flows]
    except (OverflowError, ValueError):  # an anniversary after 9999-12-31
        raise InvalidInput(
            "cashflows", flows[-1], "too close to 9999-12-31 to count the year it falls in"
        ) from None
    amounts = [a for _, a in flows]

    def residual(x: Decimal) -> Decimal:
        factors = discount_factors(x, years)
        return sum((a * f for a, f in zip(amounts, factors, strict=True)), _ZERO)

    return _solve(residual, "eu", iterations_max)


# -- IRR method ----------------------------------------------------------------------------------


@attrs.frozen
class AnnualizedRate:
    """A periodic IRR and its two annualizations (fractions, unrounded).

    ``nominal = periodic x periods_per_year``; ``effective = (1 + periodic)^periods_per_year - 1``.
    """

    periodic: Decimal
    periods_per_year: Decimal
    nominal: Decimal
    effective: Decimal


def irr_annualized(
    source: Schedule | Sequence[Any] | Flows,
    *,
    periods_per_year: Any = None,
    iterations_max: int = ITERATIONS_MAX,
) -> AnnualizedRate:
    """The IRR over equal periods, annualized both ways.

    From a schedule: the net disbursement, then each installment's total one period apart (a
    bullet's single payment after all its periods; an odd first period counts as one period;
    use :func:`us_actuarial` or :func:`eu` to count its
    days). From flows: amounts one period apart (plain amounts, or ``(date, amount)`` pairs whose
    dates are ignored), with ``periods_per_year`` given.
    """
    with decimal.localcontext(_WORK):
        return _irr_annualized(source, periods_per_year, iterations_max)


def _irr_annualized(
    source: Schedule | Sequence[Any] | Flows, periods_per_year: Any, iterations_max: int
) -> AnnualizedRate:
    if isinstance(source, Schedule):
        amounts = [a for _, a in _flows(source)]
        if source.terms.method is Method.BULLET:  # one payment, due after all the periods
            amounts = [amounts[0]] + [_ZERO] * (source.terms.installments - 1) + amounts[1:]
        per_year = source.terms.periods_per_year if periods_per_year is None else periods_per_year
    else:
        if (
            isinstance(source, (str, bytes))
            or not isinstance(source, Sequence)
            or not 2 <= len(source) <= CASHFLOWS_MAX
        ):
            raise InvalidInput(
                "cashflows", source, f"expected a Schedule or 2 to {CASHFLOWS_MAX} amounts"
            )
        amounts = [
            to_decimal(v[1] if isinstance(v, tuple) else v, field=f"cashflows[{i}]")
            for i, v in enumerate(source)
        ]
        if periods_per_year is None:
            raise InvalidInput("periods_per_year", None, "needed for bare cash flows")
        per_year = periods_per_year
    m = to_decimal(per_year, field="periods_per_year")
    if m <= 0:
        raise InvalidInput("periods_per_year", per_year, "must be positive")
    if all(a >= 0 for a in amounts) or all(a <= 0 for a in amounts):
        raise NoSolution("irr_annualized", "the cash flows never change sign")

    def residual(i: Decimal) -> Decimal:
        discount, factor, total = _ONE / (_ONE + i), _ONE, _ZERO
        for a in amounts:
            total += a * factor
            factor *= discount
        return total

    periodic = _solve(residual, "irr_annualized", iterations_max)
    try:
        effective = (_ONE + periodic) ** m - _ONE
    except decimal.Overflow:
        raise InvalidInput(
            "periods_per_year", per_year, f"the effective rate of {periodic} per period overflows"
        ) from None
    return AnnualizedRate(periodic, m, _OUT.plus(periodic * m), _OUT.plus(effective))


def round_percent(rate: Any, places: int) -> Decimal:
    """``rate`` (a fraction) as a percentage rounded HALF_UP to ``places`` decimals: 12.96.

    ``places`` is an int from 0 to :data:`PLACES_MAX`.
    """
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= PLACES_MAX:
        raise InvalidInput("places", places, f"expected an int from 0 to {PLACES_MAX}")
    value = to_decimal(rate, field="rate")
    if value and value.adjusted() + 2 + places >= _WORK.prec:
        raise InvalidInput("rate", rate, f"too large to show with {places} decimals")
    with decimal.localcontext(_WORK):
        value = value * 100
        if value and value.adjusted() + places >= _WORK.prec:
            raise InvalidInput("rate", rate, f"too large to show with {places} decimals")
        return value.quantize(Decimal(1).scaleb(-places), rounding=Rounding.HALF_UP.value)


# -- caps ------------------------------------------------------------------------------------------


def _cap_rate(value: Any) -> Decimal:
    rate = to_decimal(value, field="rate_annual")
    if rate < 0:
        raise InvalidInput("rate_annual", value, "a cap must not be negative")
    return rate


def _cap_name(value: Any) -> str:
    return require_id("name", value)


@attrs.frozen
class RateCap:
    """A ceiling on an annualized rate: ``RateCap.fixed("24%", "0.24")`` or
    ``RateCap.multiple_of("4 x 1Y LPR", lpr_1y, 4)``. The name is a non-empty identifier; the
    rate a fraction, never negative."""

    name: str = attrs.field(converter=_cap_name)
    rate_annual: Decimal = attrs.field(converter=_cap_rate)

    @classmethod
    def fixed(cls, name: str, rate_annual: Any) -> RateCap:
        return cls(name, rate_annual)

    @classmethod
    def multiple_of(cls, name: str, reference_rate: Any, multiple: Any) -> RateCap:
        reference = to_decimal(reference_rate, field="reference_rate")
        factor = to_decimal(multiple, field="multiple")
        if reference < 0 or factor <= 0:
            raise InvalidInput("multiple", multiple, "reference rate >= 0 and multiple > 0")
        return cls(name, _WORK.multiply(reference, factor))  # not in the caller's context


@attrs.frozen
class CapCheck:
    """Which caps a rate exceeds (strictly above the cap) and which it stays within."""

    rate_annual: Decimal
    exceeded: tuple[RateCap, ...]
    within: tuple[RateCap, ...]

    @property
    def ok(self) -> bool:
        return not self.exceeded


def check_caps(rate_annual: Any, caps: Sequence[RateCap]) -> CapCheck:
    """Compare an annualized rate (a fraction) with each cap; a rate equal to a cap is within it."""
    rate = to_decimal(rate_annual, field="rate_annual")
    if not caps or not all(isinstance(c, RateCap) for c in caps):
        raise InvalidInput("caps", caps, "expected a non-empty sequence of RateCap")
    exceeded = tuple(c for c in caps if rate > c.rate_annual)
    within = tuple(c for c in caps if rate <= c.rate_annual)
    return CapCheck(rate, exceeded, within)
