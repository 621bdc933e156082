"""Facilitation (助贷): a traffic platform's commission, accrued as earned, settled by period.

A platform earns, per loan it brought, one of (:class:`CommissionBasis`):

- a ``rate`` on the interest collected (accrued as it is collected);
- a ``rate`` on the principal disbursed (accrued at disbursement);
- a ``fixed`` fee per loan (accrued at disbursement).

Rounding: a loan's commission to date is ``round(rate x basis to date)`` with the terms' named
mode, rounded once on the running basis, and each accrual is the change in that figure, so many
small collections never drift from the rate (no fen lost or gained per collection).

Clawback: when a loan is refunded (cancelled), everything accrued on it is reversed by one
negative accrual, and the loan accrues nothing more (``COMMISSION_ALREADY_CLAWED_BACK``).

A partial refund (``PRINCIPAL_REFUNDED`` of ``amount`` principal) claws back in proportion: the
basis earned so far shrinks by ``amount / (principal disbursed - principal refunded before)``
(exact fractions, the part of the loan still standing that the refund takes away), and the
commission to date is computed again on it, rounded once as above; the change is the
(negative) accrual. Refunds in a row multiply: the basis falls to ``(disbursed - refunded) /
disbursed`` of itself, however the refunds are cut, so several partial refunds claw back what
one refund of their sum does, and partial refunds of the whole principal claw back exactly what
a full refund does (the commission to date becomes zero). Interest collected after a partial
refund was earned on the principal left, so it enters the basis whole and only later refunds
shrink it (a payment collected before a refund cannot be reversed: servicing refuses it).

:func:`commission_statement` settles a period: earned less clawed back plus what was carried
in; a positive net is payable to the platform, a negative one is carried forward (recovered from
later commission), never a negative payment.

A reversed payment (``INTEREST_REVERSED``) takes its interest off the running basis: the
commission to date is computed again and the change (negative) is clawed back, so commission
follows the interest collected net of reversals.

Entries: :func:`loancore.settlement.booking.commission_accrual_entries` books an accrual (Dr
6421 commission expense, Cr 2241.03 commission payable; a negative one the other way round)
and :func:`~loancore.settlement.booking.commission_paid_entries` a statement paid.
:mod:`loancore.settlement.facilitation_servicing` turns a servicing loan's history into
activities.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput, RejectionCode, SettlementRejected
from loancore.money import Money, Rounding, round_ratio, to_rate

__all__ = [
    "ACTIVITIES_MAX",
    "CommissionAccrual",
    "CommissionBasis",
    "CommissionState",
    "CommissionStatement",
    "CommissionTerms",
    "LoanActivity",
    "LoanActivityKind",
    "accrue_commissions",
    "commission_statement",
]

ACTIVITIES_MAX = 10_000_000
"""Most loan activities one accrual call reads."""


class CommissionBasis(str, enum.Enum):
    """What a platform's commission is computed on (persisted by value)."""

    INTEREST_COLLECTED = "interest_collected"
    PRINCIPAL_DISBURSED = "principal_disbursed"
    FIXED_PER_LOAN = "fixed_per_loan"


class LoanActivityKind(str, enum.Enum):
    """The loan events commission follows (persisted by value)."""

    DISBURSED = "disbursed"
    INTEREST_COLLECTED = "interest_collected"
    REFUNDED = "refunded"
    INTEREST_REVERSED = "interest_reversed"  # a payment reversed: its interest leaves the basis
    PRINCIPAL_REFUNDED = "principal_refunded"  # a partial refund of ``amount`` principal


def _rate(value: Any) -> Decimal:
    rate = to_rate(value, field="rate")
    if not Decimal(0) <= rate <= Decimal(1):
        raise InvalidInput("rate", value, "expected a fraction from 0 to 1")
    return rate


def _rounding(value: Any) -> Rounding:
    return Rounding.parse(value)


def _basis(value: Any) -> CommissionBasis:
    return CommissionBasis(value)


def _kind(value: Any) -> LoanActivityKind:
    return LoanActivityKind(value)


def _id(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_id(attribute.name, value)


def _date(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_date(attribute.name, value)


@attrs.frozen(kw_only=True)
class CommissionTerms:
    """A platform's commission: ``basis``, with ``rate`` (rate bases) or ``fixed`` (fixed fee)
    in ``currency``, rounded with ``rounding`` (module docstring)."""

    platform_id: str = attrs.field(validator=_id)
    basis: CommissionBasis = attrs.field(converter=_basis)
    rounding: Rounding = attrs.field(converter=_rounding)
    currency: str = "CNY"
    rate: Decimal = attrs.field(default=Decimal(0), converter=_rate)
    fixed: Money | None = None

    def __attrs_post_init__(self) -> None:
        Money.zero(self.currency)  # an unknown currency raises UnknownCurrency
        if self.basis is CommissionBasis.FIXED_PER_LOAN:
            if not isinstance(self.fixed, Money) or self.fixed.currency != self.currency:
                raise InvalidInput("fixed", self.fixed, f"expected Money in {self.currency}")
            if self.fixed.is_negative():
                raise InvalidInput("fixed", self.fixed, "must not be negative")
        elif self.fixed is not None:
            raise InvalidInput("fixed", self.fixed, f"not used with basis {self.basis.value}")


@attrs.frozen(kw_only=True)
class LoanActivity:
    """A loan event: ``amount`` is the principal disbursed, the interest collected (or
    reversed), the principal a partial refund took back, or (for a refund that cancelled the
    loan) ignored; ``activity_id`` keys the accrual it causes."""

    activity_id: str = attrs.field(validator=_id)
    loan_id: str = attrs.field(validator=_id)
    kind: LoanActivityKind = attrs.field(converter=_kind)
    on: datetime.date = attrs.field(validator=_date)
    amount: Money


@attrs.frozen(kw_only=True)
class CommissionAccrual:
    """Commission earned (positive) or clawed back (negative) on ``on`` for ``loan_id``."""

    accrual_id: str
    platform_id: str
    loan_id: str
    on: datetime.date
    amount: Money


@attrs.frozen(kw_only=True)
class _LoanCommission:
    """``basis``: what the commission is a rate of (minor units, exact: partial refunds shrink
    it by fractions); ``principal_minor`` disbursed and ``refunded_minor`` by partial refunds."""

    basis: Fraction = Fraction(0)
    earned_minor: int = 0
    clawed_back: bool = False
    principal_minor: int = 0
    refunded_minor: int = 0


@attrs.frozen(kw_only=True)
class CommissionState:
    """Per loan: the basis to date, the commission to date, whether it was clawed back."""

    loans: tuple[tuple[str, _LoanCommission], ...] = ()

    def earned(self, loan_id: str, currency: str) -> Money:
        found = dict(self.loans).get(loan_id, _LoanCommission())
        return Money.from_minor(found.earned_minor, currency)


_COUNTED = {
    CommissionBasis.INTEREST_COLLECTED: LoanActivityKind.INTEREST_COLLECTED,
    CommissionBasis.PRINCIPAL_DISBURSED: LoanActivityKind.DISBURSED,
    CommissionBasis.FIXED_PER_LOAN: LoanActivityKind.DISBURSED,
}


def _accrue_one(
    terms: CommissionTerms, activity: LoanActivity, loan: _LoanCommission
) -> tuple[int, _LoanCommission]:
    if loan.clawed_back:
        raise SettlementRejected(
            RejectionCode.COMMISSION_ALREADY_CLAWED_BACK,
            f"loan {activity.loan_id!r} was refunded; {activity.activity_id!r} accrues nothing",
        )
    minor = activity.amount.minor_units
    if activity.kind is LoanActivityKind.REFUNDED:
        return -loan.earned_minor, attrs.evolve(loan, earned_minor=0, clawed_back=True)
    if activity.kind is LoanActivityKind.PRINCIPAL_REFUNDED:
        return _refunded(terms, activity, loan)
    if activity.kind is LoanActivityKind.DISBURSED:
        loan = attrs.evolve(loan, principal_minor=minor)
    if activity.kind is LoanActivityKind.INTEREST_REVERSED:
        if terms.basis is not CommissionBasis.INTEREST_COLLECTED:
            return 0, loan
        if minor > loan.basis:
            raise InvalidInput(
                "activity.amount", activity.amount, "more interest reversed than was collected"
            )
        return _earned(terms, loan, loan.basis - minor)
    if activity.kind is not _COUNTED[terms.basis]:
        return 0, loan
    if terms.basis is CommissionBasis.FIXED_PER_LOAN:
        assert terms.fixed is not None  # checked by CommissionTerms
        return _earned(terms, loan, Fraction(terms.fixed.minor_units))
    return _earned(terms, loan, loan.basis + minor)


def _refunded(
    terms: CommissionTerms, activity: LoanActivity, loan: _LoanCommission
) -> tuple[int, _LoanCommission]:
    """A partial refund: the basis shrinks by the share of the standing principal refunded."""
    standing = loan.principal_minor - loan.refunded_minor
    refunded = activity.amount.minor_units
    if refunded > standing:
        raise InvalidInput(
            "activity.amount", activity.amount, f"more than the {standing} minor units not refunded"
        )
    if not refunded:
        return 0, loan
    loan = attrs.evolve(loan, refunded_minor=loan.refunded_minor + refunded)
    return _earned(terms, loan, loan.basis * Fraction(standing - refunded, standing))


def _earned(
    terms: CommissionTerms, loan: _LoanCommission, basis: Fraction
) -> tuple[int, _LoanCommission]:
    """The commission to date on ``basis`` (rounded once) and its change since ``loan``; a
    fixed fee is its basis (a rate of 1)."""
    rate = Fraction(1) if terms.basis is CommissionBasis.FIXED_PER_LOAN else Fraction(terms.rate)
    exact = rate * basis
    earned = round_ratio(exact.numerator, exact.denominator, rounding=terms.rounding)
    return earned - loan.earned_minor, attrs.evolve(loan, basis=basis, earned_minor=earned)


def accrue_commissions(
    terms: CommissionTerms, activities: Iterable[LoanActivity], state: CommissionState
) -> tuple[tuple[CommissionAccrual, ...], CommissionState]:
    """The accruals ``activities`` cause, in order, and the new state (module docstring).
    Zero changes make no accrual; ids are ``commission:<platform>:<activity id>``."""
    loans = dict(state.loans)
    accruals: list[CommissionAccrual] = []
    for i, activity in enumerate(activities):
        if i >= ACTIVITIES_MAX:
            raise InvalidInput("activities", i, f"more than {ACTIVITIES_MAX} activities")
        if not isinstance(activity.amount, Money) or activity.amount.currency != terms.currency:
            raise InvalidInput(
                f"activities[{i}].amount", activity.amount, f"expected {terms.currency}"
            )
        if activity.amount.is_negative():
            raise InvalidInput(f"activities[{i}].amount", activity.amount, "must not be negative")
        change, loans[activity.loan_id] = _accrue_one(
            terms, activity, loans.get(activity.loan_id, _LoanCommission())
        )
        if change:
            accruals.append(
                CommissionAccrual(
                    accrual_id=f"commission:{terms.platform_id}:{activity.activity_id}",
                    platform_id=terms.platform_id,
                    loan_id=activity.loan_id,
                    on=activity.on,
                    amount=Money.from_minor(change, terms.currency),
                )
            )
    return tuple(accruals), CommissionState(loans=tuple(sorted(loans.items())))


@attrs.frozen(kw_only=True)
class CommissionStatement:
    """A platform's commission for ``period_start..period_end`` (both included)."""

    statement_id: str
    platform_id: str
    period_start: datetime.date
    period_end: datetime.date
    accruals: tuple[CommissionAccrual, ...]
    earned: Money
    clawed_back: Money
    carried_in: Money
    payable: Money
    carried_out: Money


def commission_statement(
    platform_id: str,
    period_start: datetime.date,
    period_end: datetime.date,
    *,
    accruals: Iterable[CommissionAccrual],
    carried_in: Money,
) -> CommissionStatement:
    """Settle the accruals of ``platform_id`` dated in the period (others skipped): ``payable``
    is ``earned - clawed_back + carried_in`` when positive, else it is ``carried_out``."""
    start, end = require_date("period_start", period_start), require_date("period_end", period_end)
    if end < start:
        raise InvalidInput("period_end", period_end, f"must be on or after {period_start}")
    if not isinstance(carried_in, Money) or carried_in.is_positive():
        raise InvalidInput("carried_in", carried_in, "expected a Money at or below zero")
    chosen = tuple(
        sorted(
            (a for a in accruals if a.platform_id == platform_id and start <= a.on <= end),
            key=lambda a: (a.on, a.accrual_id),
        )
    )
    zero = Money.zero(carried_in.currency)
    earned = sum((a.amount for a in chosen if a.amount.is_positive()), zero)
    clawed = -sum((a.amount for a in chosen if a.amount.is_negative()), zero)
    net = earned - clawed + carried_in
    return CommissionStatement(
        statement_id=f"commission:{platform_id}:{start.isoformat()}:{end.isoformat()}",
        platform_id=platform_id,
        period_start=start,
        period_end=end,
        accruals=chosen,
        earned=earned,
        clawed_back=clawed,
        carried_in=carried_in,
        payable=net if net.is_positive() else zero,
        carried_out=zero if net.is_positive() else net,
    )
