"""Partial prepayment (re-amortized) and full payoff with interest to date and the fee."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import attrs

from loancore.errors import RejectionCode
from loancore.money import Money, round_ratio
from loancore.servicing.accrual import catch_up
from loancore.servicing.common import (
    Entries,
    add_paid_fee,
    allocate_cash,
    charge_paid_fee,
    check_product,
    done,
    forward_entries,
    pay_parts,
    principal_of,
    reject,
    release_adjustment,
    repayment_entries,
    restore_effects,
    settle_status,
)
from loancore.servicing.events import (
    Outcome,
    PayOff,
    Prepay,
)
from loancore.servicing.loan import (
    COMPONENTS,
    Line,
    Loan,
    LoanStatus,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct
from loancore.servicing.restructure import future_principal, reamortized, truncated
from loancore.waterfall import (
    Component,
    OverflowRule,
    TransactionType,
)

__all__ = ["payoff_amount"]


# -- prepayment -----------------------------------------------------------------------------------


def _prepay_allowed(loan: Loan, product: LoanProduct, as_of: date) -> None:
    rules = product.prepayment
    if not rules.allowed:
        raise reject(RejectionCode.PREPAYMENT_NOT_ALLOWED, "the product forbids prepayment")
    if as_of < loan.terms.start_date + timedelta(days=rules.lock_in_days):
        raise reject(
            RejectionCode.PREPAYMENT_NOT_ALLOWED, f"within {rules.lock_in_days} lock-in days"
        )


def _prepay(loan: Loan, product: LoanProduct, event: Prepay) -> Outcome:
    _prepay_allowed(loan, product, event.as_of)
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    cash = event.amount.minor_units
    paid = allocate_cash(loan, product, cash, event.as_of, TransactionType.PREPAYMENT)
    loan, lines, leftover = paid.loan, list(paid.lines), paid.leftover
    entries += forward_entries(loan, product, event.event_id, event.as_of, paid.forward)
    fee = prepaid = 0
    if leftover and paid.overflow is OverflowRule.REAMORTIZE:
        rate = Fraction(product.prepayment.fee_rate)
        exact = Fraction(leftover) / (1 + rate)
        prepaid = exact.numerator // exact.denominator
        fee = leftover - prepaid
        if prepaid >= future_principal(loan, event.as_of):
            raise reject(
                RejectionCode.PREPAYMENT_EXCEEDS_BALANCE,
                f"{loan.money(prepaid)} repays all principal not yet due: pay off instead",
            )
        how = event.reamortization or product.prepayment.reamortization
        loan, moved = reamortized(loan, product, event.as_of, prepaid, how)
        loan = attrs.evolve(loan, principal_prepaid=loan.principal_prepaid + moved + prepaid)
        leftover = 0
        entries += charge_paid_fee(loan, product, event, fee)
        loan = add_paid_fee(loan, event.as_of, fee)
        lines += [(0, Component.PRINCIPAL.value, prepaid), (0, Component.FEE.value, fee)]
    loan = settle_status(attrs.evolve(loan, credit=loan.credit + leftover))
    entries += repayment_entries(loan, product, event.event_id, event.as_of, cash, lines)
    principal = principal_of(lines)
    return done(
        loan,
        event,
        TransactionKind.PREPAYMENT,
        entries,
        amount=cash,
        lines=[ln for ln in lines if ln[2]],
        credit_change=leftover,
        principal_repaid=principal,
        effects=restore_effects(loan, event, principal),
    )


def _payoff_state(
    loan: Loan, product: LoanProduct, as_of: date, event_id: str
) -> tuple[Loan, Entries, int]:
    """The loan caught up and truncated on ``as_of``, its entries, the prepayment fee."""
    loan, entries = catch_up(loan, product, as_of, event_id)
    future = future_principal(loan, as_of)
    exact = Fraction(product.prepayment.fee_rate) * future
    fee = round_ratio(exact.numerator, exact.denominator, rounding=product.rounding)
    loan = truncated(loan, as_of)
    return loan, entries, fee


def payoff_amount(loan: Loan, product: LoanProduct, as_of: date) -> Money:
    """What a full payoff on ``as_of`` costs: everything due, the principal not yet due, the
    interest accrued to date and the prepayment fee (``fee_rate`` x the principal not yet due)."""
    check_product(loan, product)
    payoff, _entries, fee = _payoff_state(loan, product, as_of, "quote")
    return loan.money(payoff.total_outstanding() + fee)


def _pay_off(loan: Loan, product: LoanProduct, event: PayOff) -> Outcome:
    _prepay_allowed(loan, product, event.as_of)
    loan, entries, fee = _payoff_state(loan, product, event.as_of, event.event_id)
    quote = loan.total_outstanding() + fee
    if event.amount.minor_units != quote:
        raise reject(RejectionCode.PAYOFF_AMOUNT_MISMATCH, f"the payoff is {loan.money(quote)}")
    raw = [
        (inst.number, component, inst.part(component).outstanding)
        for inst in loan.installments
        for component in COMPONENTS
        if inst.part(component).outstanding
    ]
    loan, forward = pay_parts(loan, raw)
    lines: list[Line] = [(n, c.value, a) for n, c, a in raw]
    entries += forward_entries(loan, product, event.event_id, event.as_of, forward)
    entries += charge_paid_fee(loan, product, event, fee)
    loan = add_paid_fee(loan, event.as_of, fee)
    if fee:
        lines.append((0, Component.FEE.value, fee))
    loan, adjust = release_adjustment(loan, product, event)
    entries += adjust
    entries += repayment_entries(loan, product, event.event_id, event.as_of, quote, lines)
    loan = attrs.evolve(loan, status=LoanStatus.PAID_OFF)
    principal = principal_of(lines)
    return done(
        loan,
        event,
        TransactionKind.PAYOFF,
        entries,
        amount=quote,
        lines=lines,
        principal_repaid=principal,
        effects=restore_effects(loan, event, principal),
    )
