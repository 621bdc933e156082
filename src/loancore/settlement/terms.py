"""Merchant settlement terms: when a capture is paid out, and the service fee kept from it.

A capture's **effective date** is the local date of its capture, or the next calendar day when it
was captured at or after the terms' cut-off time (the core never reads a clock: the capture's
local datetime comes in). Its **settlement date** follows from the effective date by the
schedule (:class:`SettlementSchedule`), on the payment channel's :class:`BusinessCalendar`,
which the caller passes in (China's with make-up working days, one that closes them, a bank's):

- ``T+N``: the N-th business day after the effective date (``add_business_days``; T+0 rolls
  following);
- ``D+N``: the effective date plus N calendar days, then the schedule's roll;
- weekly: the captures of a Monday-to-Sunday week settle on the schedule's weekday of the next
  week, then rolled;
- monthly: the captures of a month settle on the N-th business day of the next month.

The **service fee** (merchant discount rate, 商户手续费) of one order is
``min(max(round(amount x rate), fee_min), fee_max, amount)``: the product is rounded once, to the
minor unit, with the terms' named mode, then clamped; a fee never exceeds the order itself.
"""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal
from typing import Any

import attrs

from loancore.calendar import BusinessCalendar, Roll
from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput
from loancore.money import Money, Rounding, round_ratio, to_rate
from loancore.settlement.model import MERCHANT_ID_LENGTH_MAX, check_id

__all__ = [
    "BUSINESS_DAY_NTH_MAX",
    "LAG_DAYS_MAX",
    "Cadence",
    "MerchantTerms",
    "ServiceFee",
    "SettlementSchedule",
    "effective_date",
]

LAG_DAYS_MAX = 366
"""Longest T+N or D+N lag accepted (a year of days)."""
BUSINESS_DAY_NTH_MAX = 15
"""Latest business day of the month a monthly schedule may name (every month has 15)."""


class Cadence(str, enum.Enum):
    """How a schedule turns an effective date into a settlement date (persisted by value)."""

    T_PLUS = "t_plus"  # N business days
    D_PLUS = "d_plus"  # N calendar days, then rolled
    WEEKLY = "weekly"  # a weekday of the next week, for the prior week
    MONTHLY = "monthly"  # the N-th business day of the next month, for the prior month


def _roll(value: Any) -> Roll:
    return Roll.parse(value)


def _rounding(value: Any) -> Rounding:
    return Rounding.parse(value)


def _int_in(field: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(field, value, f"expected an int from {low} to {high}")
    return value


def effective_date(captured_at: datetime.datetime, cutoff: datetime.time | None) -> datetime.date:
    """The day a capture counts for: its local date, or the next day at or after ``cutoff``."""
    if not isinstance(captured_at, datetime.datetime) or captured_at.tzinfo is not None:
        raise InvalidInput("captured_at", captured_at, "expected a naive local datetime")
    require_date("captured_at", captured_at.date())
    return effective_date_unchecked(captured_at, cutoff)


def effective_date_unchecked(
    captured_at: datetime.datetime, cutoff: datetime.time | None
) -> datetime.date:
    """:func:`effective_date` of a value already checked (a validated Capture's): the one copy
    of the cut-off rule, without the per-call checks a million-order run cannot afford."""
    day = captured_at.date()
    if cutoff is not None and captured_at.time() >= cutoff:
        return day + datetime.timedelta(days=1)
    return day


@attrs.frozen(kw_only=True, cache_hash=True)
class SettlementSchedule:
    """When captures settle; build one with :meth:`t_plus`, :meth:`d_plus`, :meth:`weekly` or
    :meth:`monthly`. ``lag_days`` is N of T+N / D+N, ``weekday`` the weekly pay day (Monday 0),
    ``business_day_nth`` the monthly pay day, ``roll`` the roll of D+N and weekly dates."""

    cadence: Cadence = attrs.field(converter=Cadence)
    lag_days: int = 0
    weekday: int = 0
    business_day_nth: int = 1
    roll: Roll = attrs.field(default=Roll.FOLLOWING, converter=_roll)

    def __attrs_post_init__(self) -> None:
        _int_in("lag_days", self.lag_days, 0, LAG_DAYS_MAX)
        _int_in("weekday", self.weekday, 0, 6)
        _int_in("business_day_nth", self.business_day_nth, 1, BUSINESS_DAY_NTH_MAX)

    @classmethod
    def t_plus(cls, lag_days: int) -> SettlementSchedule:
        return cls(cadence=Cadence.T_PLUS, lag_days=lag_days)

    @classmethod
    def d_plus(cls, lag_days: int, *, roll: Roll | str = Roll.FOLLOWING) -> SettlementSchedule:
        return cls(cadence=Cadence.D_PLUS, lag_days=lag_days, roll=Roll.parse(roll))

    @classmethod
    def weekly(cls, weekday: int, *, roll: Roll | str = Roll.FOLLOWING) -> SettlementSchedule:
        return cls(cadence=Cadence.WEEKLY, weekday=weekday, roll=Roll.parse(roll))

    @classmethod
    def monthly(cls, business_day_nth: int) -> SettlementSchedule:
        return cls(cadence=Cadence.MONTHLY, business_day_nth=business_day_nth)

    def settlement_date(
        self, effective: datetime.date, calendar: BusinessCalendar
    ) -> datetime.date:
        """The pay day of what counts for ``effective`` on ``calendar`` (module docstring)."""
        if self.cadence is Cadence.T_PLUS:
            return calendar.add_business_days(effective, self.lag_days)
        if self.cadence is Cadence.D_PLUS:
            return calendar.add_calendar_days(effective, self.lag_days, roll=self.roll)
        if self.cadence is Cadence.WEEKLY:
            next_monday = effective + datetime.timedelta(days=7 - effective.weekday())
            return calendar.roll(next_monday + datetime.timedelta(days=self.weekday), self.roll)
        first = _first_of_next_month(effective)
        paid = calendar.add_business_days(first - datetime.timedelta(days=1), self.business_day_nth)
        if (paid.year, paid.month) != (first.year, first.month):
            raise InvalidInput(
                "business_day_nth", self.business_day_nth, f"{calendar.name} has fewer in {first}"
            )
        return paid


def _first_of_next_month(day: datetime.date) -> datetime.date:
    return datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _check_money(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Money) or value.is_negative():
        raise InvalidInput(attribute.name, value, "expected a non-negative loancore.money.Money")


def _fee_rate(value: Any) -> Decimal:
    rate = to_rate(value, field="rate")
    if not Decimal(0) <= rate <= Decimal(1):
        raise InvalidInput("rate", value, "expected a fraction from 0 to 1 (0.006 is 0.6%)")
    return rate


@attrs.frozen(kw_only=True)
class ServiceFee:
    """The service fee of one order: ``rate`` (a fraction) of the amount, rounded once with
    ``rounding`` to the minor unit, then at least ``fee_min`` and at most ``fee_max`` (no cap
    when None) and never more than the order. The currency is ``fee_min``'s."""

    rate: Decimal = attrs.field(converter=_fee_rate)
    rounding: Rounding = attrs.field(converter=_rounding)
    fee_min: Money = attrs.field(validator=_check_money)
    fee_max: Money | None = None
    _ratio: tuple[int, int] = attrs.field(init=False, eq=False, repr=False)
    _bounds: tuple[int, int | None] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.fee_max is not None:
            _check_money(self, attrs.fields(ServiceFee).fee_max, self.fee_max)
            if self.fee_max.currency != self.fee_min.currency or self.fee_max < self.fee_min:
                raise InvalidInput("fee_max", self.fee_max, f"must be >= fee_min {self.fee_min}")
        object.__setattr__(self, "_ratio", self.rate.as_integer_ratio())
        fee_max = None if self.fee_max is None else self.fee_max.minor_units
        object.__setattr__(self, "_bounds", (self.fee_min.minor_units, fee_max))

    @property
    def currency(self) -> str:
        return self.fee_min.currency

    def minor(self, amount_minor: int) -> int:
        """The fee of an order of ``amount_minor`` minor units (>= 0), in minor units."""
        numerator, denominator = self._ratio
        fee = round_ratio(amount_minor * numerator, denominator, rounding=self.rounding)
        fee_min, fee_max = self._bounds
        fee = max(fee, fee_min)
        if fee_max is not None:
            fee = min(fee, fee_max)
        return min(fee, amount_minor)

    def of(self, amount: Money) -> Money:
        """The fee of an order of ``amount`` (a non-negative Money in the fee's currency)."""
        if not isinstance(amount, Money) or amount.currency != self.currency:
            raise InvalidInput("amount", amount, f"expected Money in {self.currency}")
        if amount.is_negative():
            raise InvalidInput("amount", amount, "must not be negative")
        return Money.from_minor(self.minor(amount.minor_units), self.currency)


def _id(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_id(attribute.name, value)


def _merchant(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_id(attribute.name, value, MERCHANT_ID_LENGTH_MAX)


def _cutoff(_instance: Any, _attribute: Any, value: Any) -> None:
    if value is not None and (not isinstance(value, datetime.time) or value.tzinfo is not None):
        raise InvalidInput("cutoff", value, "expected a naive datetime.time or None")


@attrs.frozen(kw_only=True)
class MerchantTerms:
    """One merchant's settlement terms with the channel: schedule, cut-off, service fee, and the
    account the channel pays (``payee_account``, carried into the payout file)."""

    merchant_id: str = attrs.field(validator=_merchant)
    schedule: SettlementSchedule = attrs.field(
        validator=attrs.validators.instance_of(SettlementSchedule)
    )
    fee: ServiceFee = attrs.field(validator=attrs.validators.instance_of(ServiceFee))
    cutoff: datetime.time | None = attrs.field(default=None, validator=_cutoff)
    payee_account: str = attrs.field(default="-", validator=_id)

    @property
    def currency(self) -> str:
        return self.fee.currency

    def settlement_date(
        self, captured_at: datetime.datetime, calendar: BusinessCalendar
    ) -> datetime.date:
        """The pay day of a capture (or refund, chargeback) made at local ``captured_at``."""
        return self.schedule.settlement_date(effective_date(captured_at, self.cutoff), calendar)
