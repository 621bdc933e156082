"""Loan-loss provisions (贷款损失准备): the allowance each run requires, and the one event that
brings the booked allowance to it.

A loan's **exposure** is what it has on the books in minor units: principal outstanding, fees
receivable and, while it accrues, the interest booked and not received (a non-accrual loan's
interest is off the books, so it is not provided for). The **required allowance** is exposure x
the rate of the loan's class (五级分类) or stage (CAS 22 / IFRS 9), rounded once, at
:func:`required_allowance` (per loan) or :func:`portfolio_required` (a pool: the exact products
summed, then rounded once), with the mode named by the caller. The allowance sits in the stage's
account (1304.01 / .02 / .03), so a loan moving stage releases one account and charges the other.

Each run compares required with booked (:func:`provision_adjustment`): more required is a
:class:`~loancore.postings.ProvisionCharged` (Dr 6702 信用减值损失, Cr 1304.0x), less a
:class:`~loancore.postings.ProvisionReleased` (the opposite), equal books nothing; so after the
run the allowance equals the requirement to the fen, and running again books nothing.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from loancore.delinquency.booking import Booking
from loancore.delinquency.classification import Classification, RiskClass
from loancore.delinquency.nonaccrual import interest_on_books
from loancore.errors import CurrencyMismatch, InvalidInput
from loancore.ledger.entries import DimensionsLike, dimensions_of
from loancore.money import Money, Rounding, round_ratio, to_rate
from loancore.postings import (
    DEFAULT_MAPPING,
    ProvisionCharged,
    ProvisionReleased,
    Stage,
    SubjectMapping,
)
from loancore.servicing.loan import Loan

__all__ = [
    "CLASS_RATES_2002",
    "LINES_MAX",
    "STAGE_RATES",
    "ProvisionBasis",
    "ProvisionRates",
    "exposure",
    "loan_provision",
    "portfolio_required",
    "provision_adjustment",
    "provision_for",
    "required_allowance",
]

LINES_MAX = 10_000_000
"""The most loans one portfolio requirement adds up."""


class ProvisionBasis(str, enum.Enum):
    """Rates by 五级分类 class or by expected-credit-loss stage; persisted by value."""

    CLASS = "class"
    STAGE = "stage"


def _rate_pairs(value: Any) -> tuple[tuple[int, Decimal], ...]:
    pairs = tuple(sorted(dict(value).items()))
    result = []
    for key, rate in pairs:
        checked = to_rate(rate, field=f"rates.{int(key)}")
        if not 0 <= checked <= 1:
            raise InvalidInput(f"rates.{int(key)}", rate, "expected a fraction from 0 to 1")
        result.append((int(key), checked))
    return tuple(result)


@attrs.frozen
class ProvisionRates:
    """Allowance rates (fractions) by class or by stage, every class or stage given."""

    basis: ProvisionBasis
    rates: tuple[tuple[int, Decimal], ...] = attrs.field(converter=_rate_pairs)

    def __attrs_post_init__(self) -> None:
        keys = RiskClass if self.basis is ProvisionBasis.CLASS else Stage
        if [key for key, _rate in self.rates] != [int(k) for k in keys]:
            raise InvalidInput(
                "rates", self.rates, f"one rate for each of {[k.name for k in keys]}"
            )

    @classmethod
    def by_class(cls, rates: Mapping[RiskClass, Any]) -> ProvisionRates:
        return cls(ProvisionBasis.CLASS, rates)

    @classmethod
    def by_stage(cls, rates: Mapping[Stage, Any]) -> ProvisionRates:
        return cls(ProvisionBasis.STAGE, rates)

    def rate_for(self, classification: Classification) -> Decimal:
        key = int(
            classification.risk_class
            if self.basis is ProvisionBasis.CLASS
            else classification.stage
        )
        for rated, rate in self.rates:  # bounded: one rate per class or stage
            if rated == key:
                return rate
        raise AssertionError(f"no rate for {key}: the rates name every class or stage")


CLASS_RATES_2002 = ProvisionRates.by_class(
    {
        RiskClass.NORMAL: Decimal("0.01"),
        RiskClass.SPECIAL_MENTION: Decimal("0.02"),
        RiskClass.SUBSTANDARD: Decimal("0.25"),
        RiskClass.DOUBTFUL: Decimal("0.50"),
        RiskClass.LOSS: Decimal(1),
    }
)
"""《银行贷款损失准备计提指引》(2002) 专项准备 rates: 关注 2%, 次级 25%, 可疑 50%, 损失 100%;
正常 1% (the guide's 一般准备 is a separate reserve; 1% here is a lender's choice)."""

STAGE_RATES = ProvisionRates.by_stage(
    {Stage.ONE: Decimal("0.01"), Stage.TWO: Decimal("0.10"), Stage.THREE: Decimal("0.50")}
)
"""Illustrative stage rates; a lender sets its own from its expected-credit-loss model."""


def exposure(loan: Loan, *, non_accrual: bool) -> int:
    """``loan``'s exposure in minor units (see the module docstring)."""
    on_books = 0
    for inst in loan.installments:  # bounded by the loan's installments
        on_books += inst.principal.outstanding + inst.fee.receivable
    if not non_accrual:
        on_books += interest_on_books(loan).total
    return on_books


def _rounded(numerator: int, denominator: int, rounding: Rounding | str) -> int:
    """THE rounding point of provisioning: an exact requirement to whole minor units."""
    return round_ratio(numerator, denominator, rounding=rounding)


def _rate_ratio(rate: Decimal) -> tuple[int, int]:
    """``rate`` (checked) as an exact ratio ``(numerator, denominator)``."""
    exact = Fraction(to_rate(rate, field="rate"))
    return exact.numerator, exact.denominator


_known_rate_ratio = functools.lru_cache(maxsize=256)(_rate_ratio)
""":func:`_rate_ratio` of a finite Decimal, kept: every loan's close of day asks for one of a
product's few rates (a float or another type always goes through the check)."""


def _product(minor: int, rate: Decimal) -> tuple[int, int]:
    """``minor`` x ``rate`` exactly, as ``(numerator, denominator)``."""
    if type(minor) is not int or minor < 0:
        raise InvalidInput("exposure", minor, "expected an int >= 0 (minor units)")
    known = type(rate) is Decimal and rate.is_finite()
    numerator, denominator = _known_rate_ratio(rate) if known else _rate_ratio(rate)
    return minor * numerator, denominator


def required_allowance(exposure_minor: int, rate: Decimal, *, rounding: Rounding | str) -> int:
    """The allowance one loan requires: ``exposure_minor`` x ``rate``, rounded once."""
    return _rounded(*_product(exposure_minor, rate), rounding)


def portfolio_required(lines: Iterable[tuple[int, Decimal]], *, rounding: Rounding | str) -> int:
    """The allowance a pool requires: the exact sum of exposure x rate over ``lines``, rounded
    once (at most LINES_MAX lines)."""
    total = Fraction(0)
    for count, (minor, rate) in enumerate(lines, start=1):
        if count > LINES_MAX:
            raise InvalidInput("lines", f"<more than {LINES_MAX}>", f"at most {LINES_MAX} lines")
        total += Fraction(*_product(minor, rate))
    return _rounded(total.numerator, total.denominator, rounding)


def provision_adjustment(
    required: Money,
    current: Money,
    *,
    stage: Stage,
    event_id: str,
    accounting_date: date,
    dimensions: DimensionsLike,
) -> ProvisionCharged | ProvisionReleased | None:
    """The event that brings the allowance from ``current`` to ``required`` (both not negative,
    one currency): a charge of the shortfall, a release of the excess, or None when equal. The
    events need a ``loan`` dimension; a pool run names the pool there."""
    for name, amount in (("required", required), ("current", current)):
        if not isinstance(amount, Money) or amount.is_negative():
            raise InvalidInput(name, amount, "expected Money >= 0")
    if required.currency != current.currency:
        raise CurrencyMismatch("subtract", required.currency, current.currency)
    difference = required.minor_units - current.minor_units  # in minor units: exact
    if not difference:
        return None
    base: dict[str, Any] = {
        "event_id": event_id,
        "accounting_date": accounting_date,
        "dimensions": dimensions_of(dimensions),
        "stage": stage,
        "amount": Money.from_minor(abs(difference), required.currency),
    }
    return ProvisionCharged(**base) if difference > 0 else ProvisionReleased(**base)


_STAGES = tuple(Stage)


def loan_provision(
    loan: Loan,
    classification: Classification,
    *,
    current: Mapping[Stage, Money],
    rates: ProvisionRates,
    rounding: Rounding | str,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """One loan's provision run on ``classification.as_of``: its stage's account brought to the
    required allowance, the other stages' accounts (``current`` by stage; missing is zero) to
    zero. Event ids ``<event_id>.stage<n>``."""
    return provision_for(
        exposure(loan, non_accrual=classification.non_accrual),
        classification,
        currency=loan.currency,
        dimensions=loan.dimensions,
        current=current,
        rates=rates,
        rounding=rounding,
        event_id=event_id,
        mapping=mapping,
    )


def provision_for(
    exposure_minor: int,
    classification: Classification,
    *,
    currency: str,
    dimensions: DimensionsLike,
    current: Mapping[Stage, Money],
    rates: ProvisionRates,
    rounding: Rounding | str,
    event_id: str,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Booking:
    """THE provision run (:func:`loan_provision` of a loan; a credit line's close of day): the
    allowance of an exposure of ``exposure_minor`` classified ``classification`` in the stage's
    account, the other stages' accounts to zero, each leg with ``dimensions``."""
    required = required_allowance(exposure_minor, rates.rate_for(classification), rounding=rounding)
    events = []
    for stage in _STAGES:  # bounded: three stages
        target_minor = required if stage is classification.stage else 0
        found = current.get(stage)
        if found is None and target_minor == 0:
            continue  # nothing booked, nothing required: the common case, no Money built
        booked = Money.zero(currency) if found is None else found
        if booked.minor_units == target_minor and booked.currency == currency:
            continue  # provision_adjustment would return None
        target = Money.from_minor(target_minor, currency)
        event = provision_adjustment(
            target,
            booked,
            stage=stage,
            event_id=f"{event_id}.stage{int(stage)}",
            accounting_date=classification.as_of,
            dimensions=dimensions,
        )
        if event is not None:
            events.append(event)
    return Booking.of(events, mapping)
