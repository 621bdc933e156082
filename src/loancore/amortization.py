"""Loan terms in, an exact installment schedule out.

``amortize(terms)`` returns a :class:`Schedule` whose every figure is at the currency's minor unit.
Where the rounding happens, and with which mode, is part of the contract:

1. **The level installment** (equal_installment) is the exact annuity payment rounded once with
   ``terms.rounding`` to the minor unit, or to ``terms.installment_multiple`` when one is set.
2. **Each period's interest** is ``balance x period rate`` (``original principal x period rate``
   for flat) rounded once with ``terms.rounding``. The period rate is ``annual_rate / periods per
   year`` (``interest_basis="period"``) or ``annual_rate x year_fraction(previous due date, due
   date, day_count)`` (``interest_basis="daily"``, actual days over the day basis).
3. **Principal** is what the installment leaves after interest (annuity) or an even split of the
   principal toward zero (equal principal, flat, fee installment).
4. **The residue goes to the last installment**: its principal is whatever balance is left, so the
   principal parts always sum exactly to the principal and the balance ends at zero. The
   alternative figure some calculators print, "installment x n", is available as
   :attr:`Schedule.total_quoted` but is never the schedule.
5. **Fees** are ``principal x fee_rate_per_period`` rounded once with ``terms.rounding``, charged
   with every installment or, for ``fee_timing="upfront"``, all ``n`` periods' fees deducted at
   disbursement (:attr:`Schedule.fee_upfront`, :attr:`Schedule.net_disbursement`).

The rounding mode has no default: ``LoanTerms(rounding=...)`` is required, because contracts
differ (most Chinese consumer-credit contracts state HALF_UP; Python's default is HALF_EVEN).

The schedule stores columns of integer minor units and builds :class:`Installment` objects only when
asked (:attr:`Schedule.installments`), which keeps ``amortize`` fast.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import itertools
import operator
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

import attrs

from loancore import dates as _dates
from loancore.checks import require_date
from loancore.dates import PERIODS_MAX, EndOfMonth, Frequency
from loancore.daycount import DayCount, year_fraction_ratio
from loancore.errors import InvalidInput, InvariantViolation
from loancore.money import (
    CURRENCY_MINOR_UNITS,
    RATE_DECIMALS_MAX,
    Rounding,
    at_scale,
    from_minor_units,
    minor_unit,
    round_ratio,
    to_decimal,
    to_minor_units,
    to_rate,
)

__all__ = [
    "RATE_DECIMALS_MAX",
    "FeeTiming",
    "Installment",
    "InterestBasis",
    "LoanTerms",
    "Method",
    "PayoffQuote",
    "Reamortization",
    "Schedule",
    "amortize",
    "payoff_quote",
    "reamortize",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)


class Method(str, enum.Enum):
    """Repayment methods; ``LoanTerms(method=...)`` takes a member or its string value."""

    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息: level annuity installment
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: level principal, interest on the balance
    INTEREST_ONLY = "interest_only"  # 先息后本: interest each period, principal at the end
    BULLET = "bullet"  # 一次性还本付息: one payment of principal and interest at maturity
    FLAT = "flat"  # 等本等息: level principal, interest on the original principal each period
    FEE_INSTALLMENT = "fee_installment"  # 分期手续费: level principal, fee on the original


class InterestBasis(str, enum.Enum):
    """``period``: annual rate / periods per year; ``daily``: actual days x rate / day basis."""

    PERIOD = "period"
    DAILY = "daily"


class FeeTiming(str, enum.Enum):
    """When ``fee_rate_per_period`` is charged: with each installment, or all at disbursement."""

    PER_INSTALLMENT = "per_installment"
    UPFRONT = "upfront"


class Reamortization(str, enum.Enum):
    """After a partial prepayment: keep the installment (shorter term) or the term (lower one)."""

    KEEP_INSTALLMENT = "keep_installment"
    KEEP_TERM = "keep_term"


_E = TypeVar("_E", bound=enum.Enum)


def _enum(cls: type[_E], field: str) -> Callable[[Any], _E]:
    def convert(value: Any) -> _E:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(field, value, f"expected one of {[m.value for m in cls]}") from None

    return convert


def _day_count(value: Any) -> DayCount | None:
    if value is None:
        return None
    try:
        return DayCount(value)
    except ValueError:
        raise InvalidInput(
            "day_count", value, f"expected one of {[m.value for m in DayCount]}"
        ) from None


# Named converters (attrs and mypy's attrs plugin type a field by its converter's signature).


def _principal(value: Any) -> Decimal:
    return to_decimal(value, field="principal")


def _annual_rate(value: Any) -> Decimal:
    return to_rate(value, field="annual_rate")


def _fee_rate(value: Any) -> Decimal:
    return to_rate(value, field="fee_rate_per_period")


def _installment_multiple(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value, field="installment_multiple")


def _method(value: Any) -> Method:
    return _enum(Method, "method")(value)


def _end_of_month(value: Any) -> EndOfMonth:
    return _enum(EndOfMonth, "end_of_month")(value)


def _interest_basis(value: Any) -> InterestBasis:
    return _enum(InterestBasis, "interest_basis")(value)


def _fee_timing(value: Any) -> FeeTiming:
    return _enum(FeeTiming, "fee_timing")(value)


def _frequency(value: Any) -> Frequency:
    return Frequency.parse(value)


def _rounding(value: Any) -> Rounding:
    return Rounding.parse(value)


_Validator = Callable[[Any, Any, Any], None]


def _count(field: str, low: int, high: int) -> _Validator:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(field, value, f"expected an int from {low} to {high}")

    return check


def _date(field: str, optional: bool = False) -> _Validator:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if optional and value is None:
            return
        require_date(field, value)

    return check


RATE_ANNUAL_MAX = Decimal(10)
"""Annual rates must be in [0, 10): 1000% is a typo, not a product."""
# RATE_DECIMALS_MAX (from loancore.money, re-exported here): rates have at most 28 decimal places.
_AMORTIZING = frozenset(
    {Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL, Method.FLAT, Method.FEE_INSTALLMENT}
)
_LEVEL_PRINCIPAL = (Method.EQUAL_PRINCIPAL, Method.FLAT, Method.FEE_INSTALLMENT)


@attrs.frozen(kw_only=True)
class LoanTerms:
    """What a loan contract says about repayment. All amounts in ``currency``; rates are fractions.

    Required: ``principal`` (> 0, at the currency's scale), ``currency``, ``annual_rate`` (in
    [0, 10), e.g. ``Decimal("0.18")``), ``installments`` (1..1200), ``method``, ``start_date``
    (disbursement / value date) and ``rounding`` (the contract's rounding mode; no default).

    Optional: ``frequency`` (monthly), ``every_days`` (for ``every_n_days``), ``first_due_date``
    (an odd first period), ``end_of_month`` (clamp), ``interest_basis`` (period) with
    ``day_count`` (needed for ``daily``), ``installment_multiple`` (round the level installment
    to a multiple, e.g. ``1`` for whole yuan), ``fee_rate_per_period`` with ``fee_timing``,
    ``grace_periods`` (principal grace: interest only for the first periods) and
    ``interest_free_periods`` (no interest for the first periods).
    """

    principal: Decimal = attrs.field(converter=_principal)
    currency: str = attrs.field()
    annual_rate: Decimal = attrs.field(converter=_annual_rate)
    installments: int = attrs.field(validator=_count("installments", 1, PERIODS_MAX))
    method: Method = attrs.field(converter=_method)
    start_date: dt.date = attrs.field(validator=_date("start_date"))
    rounding: Rounding = attrs.field(converter=_rounding)
    frequency: Frequency = attrs.field(default=Frequency.MONTHLY, converter=_frequency)
    every_days: int | None = attrs.field(default=None)
    first_due_date: dt.date | None = attrs.field(
        default=None, validator=_date("first_due_date", True)
    )
    end_of_month: EndOfMonth = attrs.field(default=EndOfMonth.CLAMP, converter=_end_of_month)
    interest_basis: InterestBasis = attrs.field(
        default=InterestBasis.PERIOD, converter=_interest_basis
    )
    day_count: DayCount | None = attrs.field(default=None, converter=_day_count)
    installment_multiple: Decimal | None = attrs.field(
        default=None, converter=_installment_multiple
    )
    fee_rate_per_period: Decimal = attrs.field(default=_ZERO, converter=_fee_rate)
    fee_timing: FeeTiming = attrs.field(default=FeeTiming.PER_INSTALLMENT, converter=_fee_timing)
    grace_periods: int = attrs.field(default=0, validator=_count("grace_periods", 0, PERIODS_MAX))
    interest_free_periods: int = attrs.field(
        default=0, validator=_count("interest_free_periods", 0, PERIODS_MAX)
    )
    # Derived once at construction (not arguments): what amortize's hot path needs.
    _principal_minor: int = attrs.field(init=False, default=0, repr=False, eq=False)
    _multiple_minor: int = attrs.field(init=False, default=1, repr=False, eq=False)
    _plain: bool = attrs.field(init=False, default=False, repr=False, eq=False)
    _mode: str = attrs.field(init=False, default="", repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.currency, str) or self.currency not in CURRENCY_MINOR_UNITS:
            raise InvalidInput("currency", self.currency, "unknown ISO 4217 currency code")
        quantum = minor_unit(self.currency)
        if self.principal <= 0:
            raise InvalidInput("principal", self.principal, "must be positive")
        # In money's own context (exact, bounded digits), not the caller's.
        object.__setattr__(
            self, "principal", at_scale(self.principal, self.currency, field="principal")
        )
        if not _ZERO <= self.annual_rate < RATE_ANNUAL_MAX:
            raise InvalidInput(
                "annual_rate", self.annual_rate, "must be in [0, 10) (a fraction: 0.18 is 18%)"
            )
        if not _ZERO <= self.fee_rate_per_period < _ONE:
            raise InvalidInput("fee_rate_per_period", self.fee_rate_per_period, "must be in [0, 1)")
        upfront = self.fee_timing is FeeTiming.UPFRONT
        if upfront and Fraction(self.fee_rate_per_period) * self.installments >= 1:
            raise InvalidInput(
                "fee_rate_per_period",
                self.fee_rate_per_period,
                f"deducted up front for {self.installments} periods it would "
                "take the whole principal (the net disbursement must be positive)",
            )
        self._check_schedule_shape()
        self._check_method_options(quantum)
        scale = CURRENCY_MINOR_UNITS[self.currency]
        object.__setattr__(self, "_principal_minor", _minor(self.principal, scale))
        self._check_principal_per_installment(scale)
        if self.installment_multiple is not None:
            object.__setattr__(self, "_multiple_minor", _minor(self.installment_multiple, scale))
        plain = (
            self.method is Method.EQUAL_INSTALLMENT
            and self.interest_basis is InterestBasis.PERIOD
            and self.first_due_date is None
            and self.grace_periods == 0
            and self.interest_free_periods == 0
            and self.fee_rate_per_period == 0
        )
        object.__setattr__(self, "_plain", plain)
        object.__setattr__(self, "_mode", self.rounding.value)

    def _check_schedule_shape(self) -> None:
        if self.frequency is Frequency.EVERY_N_DAYS:
            _dates.periods_per_year(self.frequency, every_days=self.every_days)
        elif self.every_days is not None:
            raise InvalidInput("every_days", self.every_days, "only for frequency='every_n_days'")
        if self.first_due_date is not None and self.first_due_date <= self.start_date:
            raise InvalidInput(
                "first_due_date", self.first_due_date, f"must be after start_date {self.start_date}"
            )
        if self.interest_basis is InterestBasis.DAILY and self.day_count is None:
            raise InvalidInput("day_count", None, "interest_basis='daily' needs a day_count")

    def _check_method_options(self, quantum: Decimal) -> None:
        if self.grace_periods >= self.installments and self.grace_periods:
            raise InvalidInput(
                "grace_periods",
                self.grace_periods,
                f"must be fewer than installments ({self.installments})",
            )
        if self.interest_free_periods > self.installments:
            raise InvalidInput(
                "interest_free_periods",
                self.interest_free_periods,
                f"must not exceed installments ({self.installments})",
            )
        if self.method is Method.FEE_INSTALLMENT and self.annual_rate != 0:
            raise InvalidInput(
                "annual_rate",
                self.annual_rate,
                "fee_installment charges a fee, not interest: annual_rate must be 0",
            )
        if self.method is Method.BULLET and self.grace_periods:
            raise InvalidInput(
                "grace_periods", self.grace_periods, "a bullet loan has no principal to defer"
            )
        multiple = self.installment_multiple
        if multiple is not None:
            if self.method in (Method.INTEREST_ONLY, Method.BULLET):
                raise InvalidInput(
                    "installment_multiple",
                    multiple,
                    f"{self.method.value} has no level amount to round (equal_installment, "
                    "equal_principal, flat and fee_installment do)",
                )
            if multiple <= 0:
                raise InvalidInput(
                    "installment_multiple",
                    multiple,
                    f"must be a positive multiple of {quantum} {self.currency}",
                )
            at_scale(multiple, self.currency, field="installment_multiple")

    def _check_principal_per_installment(self, scale: int) -> None:
        """Every amortizing installment repays at least one minor unit of principal: 0.11 over
        12 installments would otherwise be eleven installments of 0.00 and a last of 0.11."""
        periods = self.installments - self.grace_periods
        if self.method in _AMORTIZING and self._principal_minor < periods:
            raise InvalidInput(
                "principal",
                self.principal,
                f"must be at least one minor unit per amortizing installment "
                f"({from_minor_units(periods, scale)} {self.currency} over {periods})",
            )

    @property
    def periods_per_year(self) -> Decimal:
        return _dates.periods_per_year(self.frequency, every_days=self.every_days)

    @property
    def period_rate(self) -> Fraction:
        """``annual_rate / periods_per_year``, exact (``Fraction``: 0.18 monthly is 3/200)."""
        return _period_rate(self.annual_rate, self.frequency, self.every_days)

    def due_dates(self) -> tuple[dt.date, ...]:
        return _dates.due_dates(
            self.start_date,
            self.installments,
            self.frequency,
            first_due=self.first_due_date,
            end_of_month=self.end_of_month,
            every_days=self.every_days,
        )


@attrs.frozen
class Installment:
    """One row of a schedule: ``total = principal + interest + fee``.

    ``balance_after`` is the principal outstanding after this installment.
    """

    number: int
    due_date: dt.date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    total: Decimal
    balance_after: Decimal


_money = from_minor_units


def _moneys(column: tuple[int, ...], scale: int) -> tuple[Decimal, ...]:
    return tuple([from_minor_units(v, scale) for v in column])


@attrs.frozen(slots=False)  # a dict class: attrs builds it ~2x faster than a slotted frozen one
class Schedule:
    """The installments of a loan, stored as columns of integer minor units.

    The ``*_minor`` fields are what a store keeps; the Decimal views (:attr:`principal`,
    :attr:`interest`, :attr:`fee`, :attr:`balance_after`, :attr:`totals`) and the
    :class:`Installment` rows (:attr:`installments`, iteration, :meth:`to_rows`) are built on
    demand, and so is the balance column (principal less the principal parts and prepayments so
    far). ``prepayments_minor`` holds ``(after_installment, amount)`` pairs: principal repaid
    outside the installments before re-amortization, so ``total_principal + prepaid_principal
    == terms.principal``. ``level_payment_minor`` is the rounded level installment of an annuity,
    or the level principal part of the even-principal methods.
    """

    terms: LoanTerms
    due_dates: tuple[dt.date, ...]
    principal_minor: tuple[int, ...]
    interest_minor: tuple[int, ...]
    fee_minor: tuple[int, ...]
    fee_upfront_minor: int = 0
    level_payment_minor: int = 0
    prepayments_minor: tuple[tuple[int, int], ...] = ()

    @property
    def prepaid_minor(self) -> int:
        return sum(amount for _, amount in self.prepayments_minor)

    @property
    def balance_minor(self) -> tuple[int, ...]:
        """Outstanding principal after each installment (before a prepayment made on its date)."""
        start = self.terms._principal_minor
        if not self.prepayments_minor:
            return tuple(itertools.accumulate(self.principal_minor, operator.sub, initial=start))[
                1:
            ]
        out, balance = [], start
        for number, part in enumerate(self.principal_minor, start=1):
            balance -= part + sum(a for after, a in self.prepayments_minor if after == number - 1)
            out.append(balance)
        return tuple(out)

    def __len__(self) -> int:
        return len(self.principal_minor)

    @property
    def scale(self) -> int:
        return CURRENCY_MINOR_UNITS[self.terms.currency]

    @property
    def principal(self) -> tuple[Decimal, ...]:
        return _moneys(self.principal_minor, self.scale)

    @property
    def interest(self) -> tuple[Decimal, ...]:
        return _moneys(self.interest_minor, self.scale)

    @property
    def fee(self) -> tuple[Decimal, ...]:
        return _moneys(self.fee_minor, self.scale)

    @property
    def balance_after(self) -> tuple[Decimal, ...]:
        return _moneys(self.balance_minor, self.scale)

    @property
    def totals(self) -> tuple[Decimal, ...]:
        """Each installment's principal + interest + fee."""
        columns = zip(self.principal_minor, self.interest_minor, self.fee_minor, strict=True)
        return _moneys(tuple(p + i + f for p, i, f in columns), self.scale)

    @property
    def installments(self) -> tuple[Installment, ...]:
        return tuple(self)

    def __iter__(self) -> Iterator[Installment]:
        scale = self.scale
        columns = zip(
            self.due_dates,
            self.principal_minor,
            self.interest_minor,
            self.fee_minor,
            self.balance_minor,
            strict=True,
        )
        for number, (due, p, i, f, b) in enumerate(columns, start=1):
            yield Installment(
                number,
                due,
                _money(p, scale),
                _money(i, scale),
                _money(f, scale),
                _money(p + i + f, scale),
                _money(b, scale),
            )

    @property
    def fee_upfront(self) -> Decimal:
        return _money(self.fee_upfront_minor, self.scale)

    @property
    def level_payment(self) -> Decimal:
        return _money(self.level_payment_minor, self.scale)

    @property
    def prepaid_principal(self) -> Decimal:
        return _money(self.prepaid_minor, self.scale)

    @property
    def total_principal(self) -> Decimal:
        return _money(sum(self.principal_minor), self.scale)

    @property
    def total_interest(self) -> Decimal:
        return _money(sum(self.interest_minor), self.scale)

    @property
    def total_fee(self) -> Decimal:
        """Fees with the installments plus the fee deducted at disbursement."""
        return _money(sum(self.fee_minor) + self.fee_upfront_minor, self.scale)

    @property
    def total_paid(self) -> Decimal:
        """Everything the borrower pays: installments, prepaid principal and any up-front fee."""
        minor = sum(self.principal_minor) + sum(self.interest_minor) + sum(self.fee_minor)
        return _money(minor + self.prepaid_minor + self.fee_upfront_minor, self.scale)

    @property
    def net_disbursement(self) -> Decimal:
        """What the borrower receives: principal less the up-front fee."""
        return _money(self.terms._principal_minor - self.fee_upfront_minor, self.scale)

    @property
    def total_quoted(self) -> Decimal:
        """ "Installment x n" (equal_installment only): the figure many calculators print.

        It differs from :attr:`total_paid` by the last installment's residue; the schedule is the
        cent-exact figure, this one is for comparison with such quotes (docs/calculators.md).
        """
        if self.terms.method is not Method.EQUAL_INSTALLMENT:
            raise InvalidInput(
                "method", self.terms.method.value, "total_quoted is for equal_installment"
            )
        return _money(self.level_payment_minor * self.terms.installments, self.scale)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per installment (number, due_date, principal, interest, fee, total,
        balance_after), ready for ``pandas.DataFrame(rows)`` or ``csv.DictWriter``."""
        return [attrs.asdict(row) for row in self]


# -- exact arithmetic ----------------------------------------------------------------------------
#
# Amounts are integer minor units and rates exact fractions (Fraction(Decimal("0.18")) / 12 is
# 3/200), so "balance x rate" is exact and rounded exactly once, with the named mode.

_HALF_EVEN = decimal.ROUND_HALF_EVEN


def _affine(rate: Fraction, mode: str) -> tuple[int, int, int]:
    """``(a, b, c)`` with ``round(x * rate) == (x * a + b) // c`` for ``x >= 0`` (not HALF_EVEN)."""
    n, d = rate.numerator, rate.denominator
    if mode in (decimal.ROUND_DOWN, decimal.ROUND_FLOOR):
        return n, 0, d
    if mode in (decimal.ROUND_UP, decimal.ROUND_CEILING):
        return n, d - 1, d
    if mode == decimal.ROUND_HALF_UP:
        return 2 * n, d, 2 * d
    if mode == decimal.ROUND_HALF_DOWN:
        return 2 * n, d - 1, 2 * d
    raise AssertionError(mode)


_minor = to_minor_units


@functools.lru_cache(maxsize=256)
def _period_rate(annual_rate: Decimal, frequency: Frequency, every_days: int | None) -> Fraction:
    if frequency is Frequency.EVERY_N_DAYS:
        return Fraction(annual_rate) * Fraction(every_days or 1, 365)
    return Fraction(annual_rate) / frequency.periods_per_year


@functools.lru_cache(maxsize=1024)
def _annuity_factor(r: Fraction, n: int, fraction: Fraction) -> Fraction:
    """Level payment per unit of principal: ``(1 + r f)(1+r)^(n-1) r / ((1+r)^n - 1)``.

    With ``f = 1`` (a regular first period) the usual annuity factor. Exact (a Fraction) and
    cached: the same (rate, n) pairs recur across a portfolio.
    """
    if r == 0:
        return Fraction(1, n)
    growth = (1 + r) ** (n - 1)
    return (1 + r * fraction) * growth * r / (growth * (1 + r) - 1)


def _annuity_factor_free(r: Fraction, n: int, free: int) -> Fraction:
    """Level payment per unit of principal when the first ``free`` of ``n`` periods charge no
    interest: ``1 / (free + a(n - free))``, i.e. ``r g / (free r g + g - 1)`` with
    ``g = (1+r)^(n - free)`` (``1 / n`` when every period is free). Exact."""
    growth = (1 + r) ** (n - free)
    return r * growth / (free * r * growth + growth - 1)


def _level_payment(principal: int, factor: Fraction, multiple: int, mode: str) -> int:
    """The level installment in minor units, rounded to ``multiple`` minor units with ``mode``."""
    return (
        round_ratio(principal * factor.numerator, factor.denominator * multiple, rounding=mode)
        * multiple
    )


@functools.lru_cache(maxsize=4096)
def _plain_plan(
    annual_rate: Decimal, frequency: Frequency, every_days: int | None, n: int, mode: str
) -> tuple[Fraction, tuple[int, int, int] | None, Fraction]:
    """Per (rate, n, mode): the annuity factor, the affine interest rounding (None for
    HALF_EVEN) and the period rate."""
    r = _period_rate(annual_rate, frequency, every_days)
    return _annuity_factor(r, n, Fraction(1)), (None if mode == _HALF_EVEN else _affine(r, mode)), r


def _fast_annuity(
    principal: int,
    r: Fraction,
    n: int,
    payment: int,
    mode: str,
    affine: tuple[int, int, int] | None,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The plain annuity's period loop, in integer minor units; returns three tuples.

    Interest is ``(balance * a + b) // c`` (the rounding mode folded into integers, see
    :func:`_affine`); HALF_EVEN, and loans whose installment would overshoot the balance, take
    :func:`_clamped_annuity`. The last installment takes the balance (the residue rule).
    """
    num, den = r.numerator, r.denominator
    if affine is not None and payment >= (principal * affine[0] + affine[1]) // affine[2]:
        # Interest never exceeds the first period's, so no principal part can be negative; only
        # overshooting the balance is possible, and the balance before the last period shows it.
        a, b, c = affine
        interests: list[int] = []
        add_interest = interests.append
        balance = principal
        for _ in range(n - 1):
            interest = (balance * a + b) // c
            balance += interest - payment
            add_interest(interest)
        if balance >= 0:
            parts = [payment - i for i in interests]
            parts.append(balance)
            interests.append(round_ratio(balance * num, den, rounding=mode))
            return tuple(parts), tuple(interests)
    return _clamped_annuity(principal, num, den, n, payment, mode)


def _clamped_annuity(
    principal: int, num: int, den: int, n: int, payment: int, mode: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The annuity loop with every principal part clamped to ``[0, balance]`` (any mode)."""
    parts: list[int] = []
    interests: list[int] = []
    balance = principal
    for _ in range(n - 1):
        interest = round_ratio(balance * num, den, rounding=mode)
        part = min(max(payment - interest, 0), balance)
        balance -= part
        parts.append(part)
        interests.append(interest)
    interests.append(round_ratio(balance * num, den, rounding=mode))
    parts.append(balance)
    return tuple(parts), tuple(interests)


# -- the general period loop ---------------------------------------------------------------------


def _first_fraction(terms: LoanTerms, first_due: dt.date) -> Fraction:
    """The first period's length in regular periods (1 unless ``first_due_date`` is odd).

    Whole periods are counted back from the first due date; the remaining days are divided by
    the length in days of the period just before them (Regulation Z Appendix J counts the same
    way, with 30-day months; see :mod:`loancore.apr`).
    """
    if terms.first_due_date is None:
        return Fraction(1)
    whole, boundary = 0, first_due
    for _ in range(PERIODS_MAX):
        previous = _dates.step_back(
            first_due, whole + 1, terms.frequency, every_days=terms.every_days
        )
        if previous < terms.start_date:
            break
        whole, boundary = whole + 1, previous
    before = _dates.step_back(boundary, 1, terms.frequency, every_days=terms.every_days)
    odd_days = (boundary - terms.start_date).days
    return whole + Fraction(odd_days, (boundary - before).days)


def _period_rates(
    terms: LoanTerms, due: tuple[dt.date, ...], previous: dt.date, fraction: Fraction
) -> list[Fraction]:
    """Each period's exact interest rate."""
    if terms.interest_basis is InterestBasis.DAILY:
        if terms.day_count is None:  # LoanTerms refuses daily interest without a day count
            raise InvariantViolation("interest_basis='daily' without a day_count")
        convention: DayCount = terms.day_count
        annual = Fraction(terms.annual_rate)
        rates, prev = [], previous
        for day in due:
            rates.append(annual * year_fraction_ratio(prev, day, convention))
            prev = day
        return rates
    r = _period_rate(terms.annual_rate, terms.frequency, terms.every_days)
    rates = [r] * len(due)
    if fraction != 1 and rates:
        rates[0] = r * fraction
    return rates


@attrs.frozen
class _Plan:
    """What the period loop needs, decided once per schedule (amounts in minor units)."""

    kind: Method
    level: int  # installment (annuity) or principal per period (level-principal methods)
    fee: int
    grace: int
    free: int
    interest_base: int | None  # the original principal for flat, else None (use the balance)


_Columns = tuple[list[int], list[int], list[int], list[int]]


def _columns(
    plan: _Plan, balance: int, rates: list[Fraction], mode: str, *, stop_at_zero: bool = False
) -> _Columns:
    """The period loop: principal, interest, fee, balance per period (bounded by ``rates``).

    The last period takes whatever balance is left (the residue rule). With ``stop_at_zero``
    the loop ends at the first period that clears the balance (a kept installment after a
    prepayment).
    """
    cols: _Columns = ([], [], [], [])
    last = len(rates) - 1
    for k, r in enumerate(rates):
        base = balance if plan.interest_base is None else plan.interest_base
        interest = (
            0 if k < plan.free else round_ratio(base * r.numerator, r.denominator, rounding=mode)
        )
        if k == last:
            principal = balance
        elif k < plan.grace:
            principal = 0
        elif plan.kind is Method.EQUAL_INSTALLMENT:
            principal = min(max(plan.level - interest, 0), balance)
        elif plan.kind in _LEVEL_PRINCIPAL:
            principal = min(plan.level, balance)
        else:
            principal = 0
        balance -= principal
        for column, value in zip(cols, (principal, interest, plan.fee, balance), strict=True):
            column.append(value)
        if stop_at_zero and balance == 0:
            break
    return cols


def _fees(terms: LoanTerms, principal: int) -> tuple[int, int]:
    """(fee per installment, fee up front) in minor units, each rounded once (terms' mode)."""
    if terms.fee_rate_per_period == 0:
        return 0, 0
    rate, mode = Fraction(terms.fee_rate_per_period), terms.rounding.value
    if terms.fee_timing is FeeTiming.UPFRONT:
        return 0, round_ratio(
            principal * rate.numerator * terms.installments, rate.denominator, rounding=mode
        )
    return round_ratio(principal * rate.numerator, rate.denominator, rounding=mode), 0


def _level(
    terms: LoanTerms, principal: int, periods: int, fraction: Fraction, free: int = 0
) -> int:
    """The level installment (annuity) or level principal (even-principal methods), minor units.

    ``periods`` are the amortizing periods (after any principal grace), the first ``free`` of
    which charge no interest: the annuity is then ``P / (free + a(periods - free))``, so the
    installment stays level through and after the interest-free periods.

    The installment is rounded with the terms' mode. If the loan would clear before its last
    due date with it (see :func:`_largest_level` for when), :func:`amortize` lowers it to the
    largest multiple of one minor unit (or ``installment_multiple``) below it that does not, so
    no installment is zero and the last one repays principal.
    """
    if terms.method is Method.EQUAL_INSTALLMENT:
        r = _period_rate(terms.annual_rate, terms.frequency, terms.every_days)
        factor = (
            _annuity_factor(r, periods, fraction)
            if free == 0 or r == 0
            else _annuity_factor_free(r, periods, free)
        )
        return _level_payment(principal, factor, terms._multiple_minor, terms.rounding.value)
    if terms.method in _LEVEL_PRINCIPAL:
        return _level_principal(terms, principal, periods)
    return 0


def _level_principal(terms: LoanTerms, principal: int, periods: int) -> int:
    """The level principal part of equal_principal, flat and fee_installment, in minor units.

    ``principal / periods`` rounded with the terms' mode, as banks' published 等额本金 schedules
    and Apache Fineract round it; the residue goes to the last installment. With
    ``installment_multiple`` the level amount is rounded to the multiple instead: the principal
    part for equal_principal (its installments are not level), the whole installment (principal,
    interest at the regular period rate and fee) for flat and fee_installment, whose installments
    are. If rounding up would leave the last installment less than one minor unit of principal
    (possible only when the principal is under ``periods x (periods - 1)`` minor units), the
    level is rounded down instead. A multiple larger than the level amount is refused.
    """
    step, mode = terms._multiple_minor, terms.rounding.value
    extra = 0  # the level installment's part besides principal (flat and fee_installment)
    if terms.installment_multiple is not None and terms.method is not Method.EQUAL_PRINCIPAL:
        r = _period_rate(terms.annual_rate, terms.frequency, terms.every_days)
        interest = round_ratio(principal * r.numerator, r.denominator, rounding=mode)
        extra = interest + _fees(terms, principal)[0]
    target, divisor = principal + extra * periods, periods * step
    level = round_ratio(target, divisor, rounding=mode) * step - extra
    if level < 1 or (periods - 1) * level >= principal:
        level = target // divisor * step - extra  # rounded down: the last part stays >= level
    if level < 1:
        if terms.installment_multiple is not None:
            _refuse_multiple(terms)
        raise InvalidInput(
            "principal",
            from_minor_units(principal, CURRENCY_MINOR_UNITS[terms.currency]),
            f"is less than one minor unit for each of {periods} installments",
        )
    return level


# -- amortize ------------------------------------------------------------------------------------


def amortize(terms: LoanTerms) -> Schedule:
    """The installment schedule of ``terms`` (the module docstring lists the rounding points)."""
    if not isinstance(terms, LoanTerms):
        raise InvalidInput("terms", terms, "expected LoanTerms")
    if terms._plain:
        return _plain_annuity(terms)
    if terms.method is Method.BULLET:
        return _bullet(terms)
    due = terms.due_dates()
    principal = _minor(terms.principal, CURRENCY_MINOR_UNITS[terms.currency])
    fraction = _first_fraction(terms, due[0])
    fee, fee_upfront = _fees(terms, principal)
    plan = _Plan(
        kind=terms.method,
        level=_level(
            terms,
            principal,
            terms.installments - terms.grace_periods,
            fraction if terms.grace_periods == 0 else Fraction(1),
            max(terms.interest_free_periods - terms.grace_periods, 0),
        ),
        fee=fee,
        grace=terms.grace_periods,
        free=terms.interest_free_periods,
        interest_base=principal if terms.method is Method.FLAT else None,
    )
    if (
        plan.level == 0
        and terms.installment_multiple is not None
        and plan.kind is Method.EQUAL_INSTALLMENT
    ):
        _refuse_multiple(terms)
    rates = _period_rates(terms, due, terms.start_date, fraction)
    plan, (p, i, f, _b) = _level_columns(
        plan, principal, rates, terms.rounding.value, terms._multiple_minor
    )
    return _checked(Schedule(terms, due, tuple(p), tuple(i), tuple(f), fee_upfront, plan.level))


def _level_columns(
    plan: _Plan, balance: int, rates: list[Fraction], mode: str, step: int
) -> tuple[_Plan, _Columns]:
    """:func:`_columns`, after lowering an annuity's level if it would clear the loan before
    the last installment (see :func:`_largest_level`); returns the plan used and the columns."""
    columns = _columns(plan, balance, rates, mode)
    remaining = columns[3]
    if plan.kind is not Method.EQUAL_INSTALLMENT or len(remaining) < 2 or remaining[-2] != 0:
        return plan, columns

    def clears_early(level: int) -> bool:
        remaining_after = _columns(attrs.evolve(plan, level=level), balance, rates, mode)[3]
        return remaining_after[-2] == 0

    plan = attrs.evolve(plan, level=_largest_level(plan.level, step, clears_early))
    return plan, _columns(plan, balance, rates, mode)


def _largest_level(level: int, step: int, clears_early: Callable[[int], bool]) -> int:
    """The largest ``level - k x step`` (``k >= 1``, not below 0) at which the loan does not
    clear before its last installment, given that ``level`` itself does.

    The level installment clears a loan early when rounding lifts it (a tiny principal over many
    periods) or when some periods' interest exceeds it, so that those periods repay no principal
    and, interest never being capitalized, the loan runs ahead of the annuity (very high rates,
    daily interest in long months, a long odd first period). A lower level repays no faster, so
    bisection finds it in about ``log2(level / step)`` schedule runs; stepping down one minor unit
    at a time took up to 1200 runs and could stop short, leaving installments of 0.00.
    """
    if level < step:
        return level
    low, high = 1, level // step  # clears_early(level - low*step) is unknown, k = high is >= 0
    for _ in range(PERIODS_MAX):  # bisection: about 60 steps for any int64 amount
        if low >= high:
            break
        middle = (low + high) // 2
        if clears_early(level - middle * step):
            low = middle + 1
        else:
            high = middle
    return level - low * step


def _refuse_multiple(terms: LoanTerms) -> None:
    """An installment rounded to a multiple larger than itself would be 0: the loan would
    silently turn interest-only with a balloon, so refuse instead."""
    raise InvalidInput(
        "installment_multiple",
        terms.installment_multiple,
        "is so large that the level installment rounds to 0",
    )


def _plain_annuity(terms: LoanTerms) -> Schedule:
    """The common case (annuity, period basis, no odd period, grace, free periods or fee)."""
    n = terms.installments
    mode = terms._mode
    factor, affine, r = _plain_plan(terms.annual_rate, terms.frequency, terms.every_days, n, mode)
    principal = terms._principal_minor
    step = terms._multiple_minor
    payment = (
        round_ratio(principal * factor.numerator, factor.denominator * step, rounding=mode) * step
    )
    if payment == 0 and terms.installment_multiple is not None:
        _refuse_multiple(terms)
    p, i = _fast_annuity(principal, r, n, payment, mode, affine)
    if n > 1 and p[-1] == 0:  # rare (the balance cleared before the last period): see _level
        payment = _largest_level(
            payment,
            step,
            lambda level: _fast_annuity(principal, r, n, level, mode, affine)[0][-1] == 0,
        )
        p, i = _fast_annuity(principal, r, n, payment, mode, affine)
    due = _dates._due_dates(
        terms.start_date, n, terms.frequency, None, terms.end_of_month, terms.every_days or 0
    )
    # The loop clamps every part to [0, balance] and gives the last installment the balance, so
    # conservation is the one invariant left to check (cheaply, in minor units).
    if sum(p) != principal:
        raise InvariantViolation(f"schedule repays {sum(p)} minor units of {principal}")
    return Schedule(terms, due, p, i, (0,) * n, 0, payment)


def _bullet(terms: LoanTerms) -> Schedule:
    """One payment at the last due date: principal plus simple interest over the whole term.

    Interest is ``principal x (sum of the period rates after the interest-free periods)``, the
    first period at its odd length, rounded once; fees for all periods come with the payment
    (or up front).
    """
    due = terms.due_dates()
    principal = _minor(terms.principal, CURRENCY_MINOR_UNITS[terms.currency])
    rates = _period_rates(terms, due, terms.start_date, _first_fraction(terms, due[0]))
    accrued = sum(rates[terms.interest_free_periods :], Fraction(0)) * principal
    interest = round_ratio(accrued.numerator, accrued.denominator, rounding=terms.rounding.value)
    fee, fee_upfront = _fees(terms, principal)
    fees = (fee * terms.installments,)
    return _checked(
        Schedule(terms, (due[-1],), (principal,), (interest,), fees, fee_upfront, principal)
    )


def _checked(schedule: Schedule) -> Schedule:
    """Conservation of principal and non-negative parts, checked even under ``python -O``."""
    repaid = sum(schedule.principal_minor) + schedule.prepaid_minor
    expected = schedule.terms._principal_minor
    if repaid != expected:
        raise InvariantViolation(f"schedule repays {repaid} minor units of {expected}")
    if min(schedule.balance_minor) < 0 or min(schedule.principal_minor) < 0:
        raise InvariantViolation("schedule has a negative balance or principal part")
    return schedule


# -- after the loan starts -----------------------------------------------------------------------


def _check_paid(schedule: Schedule, paid: Any, field: str) -> int:
    if isinstance(paid, bool) or not isinstance(paid, int) or not 0 <= paid < len(schedule):
        raise InvalidInput(field, paid, f"expected an int from 0 to {len(schedule) - 1}")
    return paid


def _outstanding(schedule: Schedule, paid: int) -> int:
    if paid:
        return schedule.balance_minor[paid - 1]
    return schedule.terms._principal_minor


_REAMORTIZABLE = (Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL, Method.INTEREST_ONLY)


def reamortize(
    schedule: Schedule,
    *,
    after_installment: int,
    prepayment: Any,
    mode: Reamortization | str,
) -> Schedule:
    """The schedule after a partial prepayment made on the due date of ``after_installment``.

    Installments ``1..after_installment`` stay as they were (0: prepaid at disbursement); the
    prepayment reduces the balance; the rest is rebuilt on the original due dates with the terms'
    rates and rounding:

    - ``keep_installment``: the same level installment (annuity) or level principal part, so the
      term shortens; the installment that clears the balance is the last (it takes the residue);
    - ``keep_term``: the same remaining due dates, so the installment is lower.

    Principal is conserved (``total_principal + prepaid_principal == terms.principal``, checked).
    For equal_installment, equal_principal and interest_only schedules. A prepayment equal to the
    balance ends the schedule at ``after_installment``.
    """
    _check_schedule(schedule)
    terms = schedule.terms
    how = _enum(Reamortization, "mode")(mode)
    if terms.method not in _REAMORTIZABLE:
        raise InvalidInput(
            "schedule.terms.method",
            terms.method.value,
            f"re-amortization is for {[m.value for m in _REAMORTIZABLE]}",
        )
    k = _check_paid(schedule, after_installment, "after_installment")
    balance = _outstanding(schedule, k)
    amount = to_decimal(prepayment, field="prepayment")
    amount_minor = _minor(amount, schedule.scale)
    if amount <= 0 or amount_minor > balance or _money(amount_minor, schedule.scale) != amount:
        raise InvalidInput(
            "prepayment",
            prepayment,
            f"must be > 0, at most the balance {_money(balance, schedule.scale)}, "
            f"at the currency's scale",
        )
    remaining = balance - amount_minor
    if remaining == 0 and k == 0:
        raise InvalidInput("prepayment", prepayment, "repays the whole loan before any installment")
    periods = len(schedule) - max(k, terms.grace_periods)
    if how is Reamortization.KEEP_TERM and terms.method in _AMORTIZING and 0 < remaining < periods:
        raise InvalidInput(
            "prepayment",
            prepayment,
            f"leaves {_money(remaining, schedule.scale)}, less than one minor unit for each of "
            f"the {periods} remaining installments: prepay the whole balance or less",
        )
    empty: list[int] = []
    tail = _rebuild(schedule, k, remaining, how) if remaining else ((), empty, empty, empty, empty)
    dates, p, i, f, _b = tail
    return _checked(
        attrs.evolve(
            schedule,
            due_dates=schedule.due_dates[:k] + tuple(dates),
            principal_minor=schedule.principal_minor[:k] + tuple(p),
            interest_minor=schedule.interest_minor[:k] + tuple(i),
            fee_minor=schedule.fee_minor[:k] + tuple(f),
            prepayments_minor=schedule.prepayments_minor + ((k, amount_minor),),
        )
    )


def _rebuild(
    schedule: Schedule, k: int, balance: int, how: Reamortization
) -> tuple[tuple[dt.date, ...], list[int], list[int], list[int], list[int]]:
    terms = schedule.terms
    dates = schedule.due_dates[k:]
    fraction = _first_fraction(terms, dates[0]) if k == 0 else Fraction(1)
    grace = max(terms.grace_periods - k, 0)
    keep = how is Reamortization.KEEP_INSTALLMENT and terms.method is not Method.INTEREST_ONLY
    if keep:
        level = schedule.level_payment_minor
    else:
        free = max(terms.interest_free_periods - k - grace, 0)
        level = _level(
            terms, balance, len(dates) - grace, fraction if not grace else Fraction(1), free
        )
    fee = schedule.fee_minor[k] if k < len(schedule.fee_minor) else 0
    plan = _Plan(
        kind=terms.method,
        level=level,
        fee=fee,
        grace=grace,
        free=max(terms.interest_free_periods - k, 0),
        interest_base=None,
    )
    previous = schedule.due_dates[k - 1] if k else terms.start_date
    rates = _period_rates(terms, dates, previous, fraction)
    mode = terms.rounding.value
    if keep:
        p, i, f, b = _columns(plan, balance, rates, mode, stop_at_zero=True)
    else:
        _, (p, i, f, b) = _level_columns(plan, balance, rates, mode, terms._multiple_minor)
    return dates[: len(p)], p, i, f, b


def _check_schedule(schedule: Any) -> None:
    if not isinstance(schedule, Schedule):
        raise InvalidInput("schedule", schedule, "expected a Schedule (from amortize)")


def _accrued_rate(schedule: Schedule, k: int, since: dt.date, as_of: dt.date) -> Fraction:
    """The exact rate accrued in installment ``k``'s period from ``since`` to ``as_of``.

    A bullet's one installment spans all the terms' periods: each whole period after the
    interest-free ones adds its rate, the current one its elapsed share.
    """
    terms = schedule.terms
    due = terms.due_dates()
    rates = _period_rates(terms, due, terms.start_date, _first_fraction(terms, due[0]))
    free = terms.interest_free_periods
    if terms.method is not Method.BULLET:
        if k < free:
            return Fraction(0)
        return _elapsed_rate(terms, rates[k], since, schedule.due_dates[k], as_of)
    total, bounds = Fraction(0), (terms.start_date, *due)
    for j in range(free, len(due)):  # bounded by the terms' installments
        if bounds[j] >= as_of:
            break
        total += (
            rates[j]
            if due[j] <= as_of
            else _elapsed_rate(terms, rates[j], bounds[j], due[j], as_of)
        )
    return total


def _elapsed_rate(
    terms: LoanTerms, rate: Fraction, begin: dt.date, end: dt.date, as_of: dt.date
) -> Fraction:
    """The part of a period's ``rate`` accrued from ``begin`` to ``as_of`` (``<= end``)."""
    if terms.day_count is not None:
        return Fraction(terms.annual_rate) * year_fraction_ratio(begin, as_of, terms.day_count)
    return rate * Fraction((as_of - begin).days, (end - begin).days)


@attrs.frozen
class PayoffQuote:
    """What it costs to repay everything on ``as_of``: outstanding principal, interest accrued
    since the last paid due date (or the start), and a prepayment fee; each rounded once."""

    as_of: dt.date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    total: Decimal


def payoff_quote(
    schedule: Schedule,
    as_of: dt.date,
    *,
    installments_paid: int,
    prepayment_fee_rate: Any = 0,
) -> PayoffQuote:
    """Full payoff on ``as_of`` after ``installments_paid`` installments were paid in full.

    Interest accrues on the outstanding principal from the last paid due date (or the start
    date) to ``as_of``: with the terms' ``day_count`` when one is set (actual days over the day
    basis), otherwise as the elapsed share of the current period's days times the rate the
    schedule charges for that period (an odd first period's rate, a bullet's whole-term rate,
    nothing in an interest-free period). So a quote on a due date charges the scheduled interest
    (flat excepted: it accrues on the outstanding, not the original, principal). It is rounded
    once with the terms' mode. The fee is ``outstanding x prepayment_fee_rate``,
    rounded the same way. ``as_of`` must fall within the current period (after the last paid due
    date, no later than the next one); an overdue loan is the servicing module's business.
    """
    _check_schedule(schedule)
    terms = schedule.terms
    k = _check_paid(schedule, installments_paid, "installments_paid")
    require_date("as_of", as_of)
    since = schedule.due_dates[k - 1] if k else terms.start_date
    until = schedule.due_dates[k]
    if not since <= as_of <= until:
        raise InvalidInput("as_of", as_of, f"must be within the current period {since}..{until}")
    fee_rate = to_rate(prepayment_fee_rate, field="prepayment_fee_rate")
    if not _ZERO <= fee_rate < _ONE:
        raise InvalidInput("prepayment_fee_rate", prepayment_fee_rate, "must be in [0, 1)")
    outstanding, mode = _outstanding(schedule, k), terms.rounding.value
    accrued = _accrued_rate(schedule, k, since, as_of) * outstanding
    interest = round_ratio(accrued.numerator, accrued.denominator, rounding=mode)
    fee_exact = Fraction(fee_rate) * outstanding
    fee = round_ratio(fee_exact.numerator, fee_exact.denominator, rounding=mode)
    scale = schedule.scale
    total = outstanding + interest + fee
    return PayoffQuote(
        as_of,
        _money(outstanding, scale),
        _money(interest, scale),
        _money(fee, scale),
        _money(total, scale),
    )
