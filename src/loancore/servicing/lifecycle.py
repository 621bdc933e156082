"""Booking, disbursement (to the merchant or a card), a failed card payout, cancellation."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import attrs

from loancore.amortization import amortize
from loancore.checks import require_id
from loancore.errors import InvalidInput, RejectionCode
from loancore.ledger.entries import dimensions_of, reversal_of
from loancore.money import Money, round_ratio
from loancore.postings import (
    CardDisbursement,
    FeeCharged,
    FeeKind,
    MerchantDisbursement,
    entries_for,
)
from loancore.servicing.common import (
    done,
    reject,
    require_status,
)
from loancore.servicing.events import (
    Cancel,
    Disburse,
    Outcome,
    PayoutFailed,
    QuotaEffect,
    QuotaEffectKind,
)
from loancore.servicing.loan import (
    Installment,
    Loan,
    LoanStatus,
    Part,
    Payee,
    Transaction,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct

__all__ = ["book_loan"]


# -- booking --------------------------------------------------------------------------------------


def book_loan(
    product: LoanProduct,
    *,
    event_id: str,
    loan_id: str,
    hold_id: str,
    principal: Money,
    installments: int,
    start_date: date,
    payee: Payee | str,
    dimensions: Any = (),
    first_due_date: date | None = None,
) -> Outcome:
    """A loan booked, waiting for disbursement: its terms checked, its quota hold captured.

    ``dimensions`` are the analysis dimensions every entry of the loan carries; ``loan`` and
    ``product`` are added, and a merchant loan needs ``merchant``.
    """
    require_id("loan_id", loan_id)
    require_id("hold_id", hold_id)
    require_id("event_id", event_id)
    if "." in event_id or "~" in event_id:
        raise InvalidInput("event_id", event_id, "must not contain '.' or '~' (reserved)")
    payee = Payee(payee)
    if principal.currency != product.currency:
        raise InvalidInput("principal", principal, f"expected {product.currency}")
    terms = product.terms(principal, installments, start_date, first_due_date=first_due_date)
    dims = dict(dimensions_of(dimensions))
    dims.update(loan=loan_id, product=f"{product.product_id}@{product.version}")
    if payee is Payee.MERCHANT and "merchant" not in dims:
        raise InvalidInput("dimensions.merchant", None, "required for a merchant loan")
    loan = Loan(
        loan_id=loan_id,
        product_id=product.product_id,
        product_version=product.version,
        currency=principal.currency,
        terms=terms,
        dimensions=dimensions_of(dims),
        status=LoanStatus.PENDING_DISBURSEMENT,
        payee=payee,
        hold_id=hold_id,
        installments=(),
        last_date=start_date,
        version=1,
        history=(Transaction(event_id=event_id, as_of=start_date, kind=TransactionKind.BOOKED),),
    )
    effect = QuotaEffect(
        kind=QuotaEffectKind.CAPTURE, hold_id=hold_id, amount=principal, key=f"{event_id}.capture"
    )
    return Outcome(loan=loan, entries=(), quota_effects=(effect,))


def _schedule(loan: Loan, product: LoanProduct) -> tuple[Installment, ...]:
    schedule = amortize(loan.terms)
    origination = Fraction(product.origination_fee_rate) * schedule.terms._principal_minor
    fee_first = round_ratio(
        origination.numerator, origination.denominator, rounding=product.rounding
    )
    result = []
    previous = loan.terms.start_date
    for j, day in enumerate(schedule.due_dates):  # bounded by the terms' installments
        fee = schedule.fee_minor[j] + (fee_first if j == 0 else 0)
        booked = fee_first if j == 0 else 0
        result.append(
            Installment(
                number=j + 1,
                due_date=day,
                period_start=previous,
                principal=Part(due=schedule.principal_minor[j], booked=schedule.principal_minor[j]),
                interest=Part(due=schedule.interest_minor[j]),
                fee=Part(due=fee, booked=booked),
                accrual_from=previous,
            )
        )
        previous = day
    return tuple(result)


def _disburse(loan: Loan, product: LoanProduct, event: Disburse) -> Outcome:
    require_status(loan, LoanStatus.PENDING_DISBURSEMENT, RejectionCode.LOAN_NOT_PENDING)
    installments = _schedule(loan, product)
    principal = loan.terms.principal
    money = Money(principal, loan.currency)
    base: dict[str, Any] = {"accounting_date": event.as_of, "dimensions": loan.dimensions}
    discount = 0
    if loan.payee is Payee.MERCHANT:
        exact = Fraction(product.merchant_discount_rate) * money.minor_units
        discount = round_ratio(exact.numerator, exact.denominator, rounding=product.rounding)
        paid: Any = MerchantDisbursement(
            event_id=event.event_id, principal=money, merchant_discount=loan.money(discount), **base
        )
    else:
        paid = CardDisbursement(event_id=event.event_id, principal=money, **base)
    entries = entries_for(paid, product.mapping)
    fee = installments[0].fee.booked
    entries += entries_for(
        FeeCharged(
            event_id=f"{event.event_id}.origination",
            fee_kind=FeeKind.ORIGINATION,
            amount=loan.money(fee),
            **base,
        ),
        product.mapping,
    )
    loan = attrs.evolve(
        loan,
        status=LoanStatus.ACTIVE,
        installments=installments,
        principal_disbursed=money.minor_units,
        merchant_discount=discount,
        last_date=event.as_of,
    )
    outcome = done(loan, event, TransactionKind.DISBURSED, entries, amount=money.minor_units)
    if event.card is None:
        return outcome
    txn = attrs.evolve(outcome.loan.history[-1], reference=event.card)
    return attrs.evolve(
        outcome, loan=attrs.evolve(outcome.loan, history=(*outcome.loan.history[:-1], txn))
    )


def _payout_failed(loan: Loan, product: LoanProduct, event: PayoutFailed) -> Outcome:
    if loan.payee is not Payee.CARD or loan.status is not LoanStatus.ACTIVE:
        raise reject(RejectionCode.LOAN_NOT_PENDING, "only a card payout can fail")
    if any(
        t.kind
        not in (TransactionKind.BOOKED, TransactionKind.DISBURSED, TransactionKind.PAYOUT_FAILED)
        for t in loan.history
    ):
        raise reject(RejectionCode.LOAN_NOT_PENDING, "the loan has been serviced since payout")
    disbursed = [t for t in loan.history if t.kind is TransactionKind.DISBURSED][-1]
    original = entries_for(
        CardDisbursement(
            event_id=disbursed.event_id,
            accounting_date=disbursed.as_of,
            dimensions=loan.dimensions,
            principal=loan.money(disbursed.amount),
        ),
        product.mapping,
    )
    fee = entries_for(
        FeeCharged(
            event_id=f"{disbursed.event_id}.origination",
            accounting_date=disbursed.as_of,
            dimensions=loan.dimensions,
            fee_kind=FeeKind.ORIGINATION,
            amount=loan.money(loan.installments[0].fee.booked),
        ),
        product.mapping,
    )
    entries = tuple(
        reversal_of(
            entry,
            entry_id=f"{entry.entry_id}.reversed",
            idempotency_key=f"{entry.idempotency_key}.reversed",
            accounting_date=event.as_of,
        )
        for entry in original + fee
    )
    loan = attrs.evolve(
        loan,
        status=LoanStatus.PENDING_DISBURSEMENT,
        installments=(),
        principal_disbursed=0,
        last_date=event.as_of,
    )
    return done(loan, event, TransactionKind.PAYOUT_FAILED, entries)


def _cancel(loan: Loan, product: LoanProduct, event: Cancel) -> Outcome:
    require_status(loan, LoanStatus.PENDING_DISBURSEMENT, RejectionCode.LOAN_NOT_PENDING)
    loan = attrs.evolve(loan, status=LoanStatus.CANCELLED, last_date=event.as_of)
    effect = QuotaEffect(
        kind=QuotaEffectKind.RELEASE,
        hold_id=loan.hold_id,
        amount=Money(loan.terms.principal, loan.currency),
        key=f"{event.event_id}.release",
    )
    return done(loan, event, TransactionKind.CANCELLED, (), effects=(effect,))
