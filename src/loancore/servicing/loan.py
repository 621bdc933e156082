"""The loan as a value: its schedule, what each installment owes and paid, its history.

Everything a store persists is an int (minor units), a str, a date, a bool or a tuple of those
(plus the calculator :class:`~loancore.amortization.LoanTerms` the loan was booked with). Amounts
are integer minor units of ``Loan.currency``.

Per installment and component a :class:`Part` keeps ``due`` (what the contract says is owed, as
re-amortized), ``booked`` (what the ledger already holds as receivable: contract interest moved
from accrued to 应收利息 on its due date, a fee charged; principal is booked whole at
disbursement), ``paid``, ``waived`` and ``written_off``. ``due - paid - waived - written_off`` is
outstanding; ``booked - paid - waived - written_off`` is the receivable the ledger shows.
Contract interest also keeps ``interest_accrued`` (booked to 应计利息 and income so far), with the
accrual anchor (``accrual_from``, ``accrual_base``) a prepayment or refund moves.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import attrs

from loancore.amortization import LoanTerms
from loancore.errors import InvariantViolation
from loancore.ledger.entries import Dimensions
from loancore.money import Money
from loancore.waterfall import Component

__all__ = [
    "COMPONENTS",
    "HISTORY_MAX",
    "EffectLine",
    "Installment",
    "Loan",
    "LoanStatus",
    "Part",
    "Payee",
    "Transaction",
    "TransactionKind",
]

HISTORY_MAX = 10_000
"""The most transactions one loan keeps (a 360-installment loan paid twice a month is 720)."""

COMPONENTS = (
    Component.PRINCIPAL,
    Component.INTEREST,
    Component.FEE,
    Component.PENALTY,
    Component.COMPOUND,
)


class LoanStatus(str, enum.Enum):
    """Persisted by value."""

    PENDING_DISBURSEMENT = "pending_disbursement"
    ACTIVE = "active"
    PAID_OFF = "paid_off"
    CANCELLED = "cancelled"
    WRITTEN_OFF = "written_off"  # 核销: every receivable part written off (loancore.delinquency)
    SOLD = "sold"  # 不良资产转让: derecognised, sold to a buyer (loancore.delinquency)


class Payee(str, enum.Enum):
    """Who the loan is paid to: the merchant (受托支付) or the borrower's card."""

    MERCHANT = "merchant"
    CARD = "card"


@attrs.frozen
class Part:
    """One component of one installment, in minor units (see the module docstring)."""

    due: int = 0
    booked: int = 0
    paid: int = 0
    waived: int = 0
    written_off: int = 0

    def __attrs_post_init__(self) -> None:
        settled = self.paid + self.waived + self.written_off
        if min(self.due, self.booked, self.paid, self.waived, self.written_off) < 0:
            raise InvariantViolation(f"negative part {self!r}")
        if settled > self.booked or self.booked > self.due:
            raise InvariantViolation(
                f"part settles more than booked, or books more than due: {self!r}"
            )

    @property
    def outstanding(self) -> int:
        """What the contract still says is owed."""
        return self.due - self.paid - self.waived - self.written_off

    @property
    def receivable(self) -> int:
        """What the ledger holds as owed (booked and not settled)."""
        return self.booked - self.paid - self.waived - self.written_off


@attrs.frozen(kw_only=True)
class Installment:
    """Installment ``number`` due on ``due_date``; ``period_start`` is the previous due date
    (or the loan's start). Penalty and compound interest run up to ``penalty_through``."""

    number: int
    due_date: date
    period_start: date
    principal: Part
    interest: Part
    fee: Part
    penalty: Part = Part()
    compound: Part = Part()
    interest_accrued: int = 0
    accrual_from: date
    accrual_base: int = 0
    penalty_through: date | None = None
    late_fee_charged: bool = False
    adjustment_amortized: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.interest.booked <= self.interest_accrued <= self.interest.due:
            raise InvariantViolation(f"installment {self.number}: accrued outside booked..due")

    def part(self, component: Component) -> Part:
        result: Part = getattr(self, component.value)
        return result

    def with_part(self, component: Component, part: Part) -> Installment:
        """``self`` with ``component``'s part replaced."""
        return attrs.evolve(self, **{component.value: part})  # type: ignore[arg-type]

    def outstanding(self) -> int:
        """What the contract still says is owed, all components."""
        total = 0
        for part in (self.principal, self.interest, self.fee, self.penalty, self.compound):
            total += part.due - part.paid - part.waived - part.written_off
        return total


class TransactionKind(str, enum.Enum):
    """What a history line records; persisted by value."""

    BOOKED = "booked"
    DISBURSED = "disbursed"
    PAYOUT_FAILED = "payout_failed"
    CANCELLED = "cancelled"
    ACCRUED = "accrued"
    REPAYMENT = "repayment"
    CREDIT_APPLIED = "credit_applied"
    CREDIT_REFUNDED = "credit_refunded"
    PREPAYMENT = "prepayment"
    PAYOFF = "payoff"
    MERCHANT_REFUND = "merchant_refund"
    FEE_CHARGED = "fee_charged"
    WAIVER = "waiver"
    PAYMENT_REVERSED = "payment_reversed"


Line = tuple[int, str, int]
"""An allocation line kept in history: (installment, component value, minor units)."""

EffectLine = tuple[str, int, str]
"""A quota effect kept in history: (QuotaEffectKind value, minor units, key)."""


def _lines(value: Any) -> tuple[Line, ...]:
    return tuple(value)


def _installments(value: Any) -> tuple[Installment, ...]:
    return tuple(value)


def _history(value: Any) -> tuple[Transaction, ...]:
    return tuple(value)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(value)


def _effect_lines(value: Any) -> tuple[EffectLine, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Transaction:
    """One applied event: its id, date, kind, cash amount, allocation lines (in the order
    applied), the change in borrower credit and the principal it repaid. ``reversed_by`` names
    the reversal that undid a payment. ``entry_ids``, ``quota_effects`` and ``clawback`` keep the
    rest of the event's outcome (the journal entries it booked, the quota effects, what the
    merchant must give back), so a replay of the event can return what it first did."""

    event_id: str
    as_of: date
    kind: TransactionKind
    amount: int = 0
    lines: tuple[Line, ...] = attrs.field(default=(), converter=_lines)
    credit_change: int = 0
    principal_repaid: int = 0
    reversed_by: str | None = None
    reference: str = ""  # the card a payout went to
    entry_ids: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    quota_effects: tuple[EffectLine, ...] = attrs.field(default=(), converter=_effect_lines)
    clawback: int | None = None


@attrs.frozen(kw_only=True)
class Loan:
    """A loan booked under product ``product_id`` version ``product_version``.

    ``version`` goes up by one with every applied event (the store's optimistic-concurrency
    check). ``last_date`` is the date of the latest event: servicing never back-dates.
    Principal counters: ``principal_disbursed`` == outstanding + repaid + written off +
    refunded (checked by :meth:`check`); ``principal_prepaid`` holds principal repaid ahead of the
    schedule and taken out of it by a re-amortization.
    """

    loan_id: str
    product_id: str
    product_version: int
    currency: str
    terms: LoanTerms
    dimensions: Dimensions
    status: LoanStatus
    payee: Payee
    hold_id: str
    installments: tuple[Installment, ...] = attrs.field(converter=_installments)
    last_date: date
    principal_disbursed: int = 0
    principal_prepaid: int = 0
    principal_refunded: int = 0
    merchant_discount: int = 0
    discount_returned: int = 0
    adjustment_released: int = 0
    credit: int = 0
    version: int = 0
    history: tuple[Transaction, ...] = attrs.field(default=(), converter=_history)

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    def principal_outstanding(self) -> int:
        return sum(i.principal.outstanding for i in self.installments)

    def principal_repaid(self) -> int:
        return sum(i.principal.paid for i in self.installments) + self.principal_prepaid

    def principal_written_off(self) -> int:
        return sum(i.principal.written_off for i in self.installments)

    def outstanding(self, component: Component) -> int:
        return sum(i.part(component).outstanding for i in self.installments)

    def total_outstanding(self) -> int:
        return sum(i.outstanding() for i in self.installments)

    def transaction(self, event_id: str) -> Transaction | None:
        for txn in self.history:
            if txn.event_id == event_id:
                return txn
        return None

    def check(self) -> Loan:
        """``self`` if principal is conserved and credit is not negative; else
        :class:`InvariantViolation` (a servicing bug)."""
        if self.status is not LoanStatus.PENDING_DISBURSEMENT:
            # outstanding + repaid + written off + refunded, in one pass over the installments
            total = self.principal_prepaid + self.principal_refunded
            for inst in self.installments:  # bounded by the loan's installments
                part = inst.principal
                total += part.outstanding + part.paid + part.written_off
            if total != self.principal_disbursed:
                raise InvariantViolation(
                    f"loan {self.loan_id}: principal {total} accounted, "
                    f"{self.principal_disbursed} disbursed"
                )
        if self.credit < 0:
            raise InvariantViolation(f"loan {self.loan_id}: negative credit {self.credit}")
        if len(self.history) > HISTORY_MAX:
            raise InvariantViolation(f"loan {self.loan_id}: more than {HISTORY_MAX} transactions")
        return self
