"""Merchant refunds: a full refund cancels the loan, a partial one reduces the principal not
yet due; the merchant's clawback."""

from __future__ import annotations

from fractions import Fraction

import attrs

from loancore.errors import RejectionCode
from loancore.money import round_ratio
from loancore.postings import (
    Cancellation,
    DiscountTreatment,
    InterestAdjustmentAmortized,
    MerchantDisbursement,
    entries_for,
)
from loancore.servicing.accrual import catch_up, post_due
from loancore.servicing.common import (
    Entries,
    done,
    forward_entries,
    reject,
    release_adjustment,
    waiver_entries,
)
from loancore.servicing.events import (
    MerchantRefund,
    Outcome,
    QuotaEffect,
    QuotaEffectKind,
    ServicingEvent,
)
from loancore.servicing.loan import (
    COMPONENTS,
    Installment,
    Loan,
    LoanStatus,
    Payee,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct
from loancore.servicing.restructure import future_principal, reamortized, truncated

# -- merchant refund ------------------------------------------------------------------------------


def _merchant_refund(loan: Loan, product: LoanProduct, event: MerchantRefund) -> Outcome:
    if loan.payee is not Payee.MERCHANT:
        raise reject(RejectionCode.REFUND_NOT_MERCHANT_LOAN, "the loan was paid to a card")
    refund = event.amount.minor_units
    outstanding = loan.principal_outstanding()
    if refund > outstanding:
        raise reject(
            RejectionCode.REFUND_EXCEEDS_PRINCIPAL,
            f"principal outstanding {loan.money(outstanding)}",
        )
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    full = refund == outstanding
    if not full:
        future = future_principal(loan, event.as_of)
        if refund >= future:
            raise reject(
                RejectionCode.REFUND_EXCEEDS_PRINCIPAL,
                f"a partial refund reduces the principal not yet due, {loan.money(future)}",
            )
        loan, moved = reamortized(loan, product, event.as_of, refund, product.refund.reamortization)
        loan = attrs.evolve(loan, principal_prepaid=loan.principal_prepaid + moved)
    else:
        loan, cancel = _cancel_rest(loan, product, event)
        entries += cancel
    loan, back, clawback = _return_disbursement(loan, product, event, refund, full)
    entries += back
    loan = attrs.evolve(loan, principal_refunded=loan.principal_refunded + refund)
    if full and loan.total_outstanding() == 0:
        loan = attrs.evolve(loan, status=LoanStatus.CANCELLED)
    effect = QuotaEffect(
        kind=QuotaEffectKind.RESTORE_REFUNDED,
        hold_id=loan.hold_id,
        amount=event.amount,
        key=f"{event.event_id}.restore",
    )
    return done(
        loan,
        event,
        TransactionKind.MERCHANT_REFUND,
        entries,
        amount=refund,
        effects=(effect,),
        clawback=loan.money(clawback),
    )


def _cancel_rest(loan: Loan, product: LoanProduct, event: ServicingEvent) -> tuple[Loan, Entries]:
    """A full refund: all principal taken off; interest stops today; with ``waive_interest``
    everything booked and unpaid is waived, else what accrued stays owed (moved to receivable)."""
    loan = truncated(loan, event.as_of)
    installments: list[Installment] = []
    forward = [0, 0, 0]
    waived = dict.fromkeys(COMPONENTS, 0)
    for inst in loan.installments:  # bounded by the loan's installments
        settled = inst.principal.paid + inst.principal.written_off
        inst = attrs.evolve(
            inst, principal=attrs.evolve(inst.principal, due=settled, booked=settled)
        )
        inst, accrued, moved, charged = post_due(inst)
        forward = [forward[0] + accrued, forward[1] + moved, forward[2] + charged]
        if product.refund.waive_interest:
            for component in COMPONENTS[1:]:
                part = inst.part(component)
                waived[component] += part.receivable
                inst = inst.with_part(
                    component, attrs.evolve(part, waived=part.waived + part.receivable)
                )
        installments.append(inst)
    loan = attrs.evolve(loan, installments=tuple(installments))
    entries = forward_entries(
        loan, product, event.event_id, event.as_of, (forward[0], forward[1], forward[2])
    )
    entries += waiver_entries(loan, product, event, waived)
    return loan, entries


def _return_disbursement(
    loan: Loan, product: LoanProduct, event: ServicingEvent, refund: int, full: bool
) -> tuple[Loan, Entries, int]:
    """The disbursement taken back for ``refund``: Dr merchant payable what the merchant must
    give back, Dr the discount returned to it, Cr principal; the clawback."""
    returned = 0
    if product.refund.return_discount:
        if full:
            returned = loan.merchant_discount - loan.discount_returned
        else:
            exact = Fraction(loan.merchant_discount * refund, loan.principal_disbursed)
            returned = round_ratio(exact.numerator, exact.denominator, rounding=product.rounding)
    disbursed = MerchantDisbursement(
        event_id=f"{event.event_id}.refund",
        accounting_date=event.as_of,
        dimensions=loan.dimensions,
        principal=loan.money(refund),
        merchant_discount=loan.money(returned),
    )
    entries = entries_for(Cancellation.of(disbursed, event.as_of), product.mapping)
    loan = attrs.evolve(loan, discount_returned=loan.discount_returned + returned)
    if product.mapping.discount_treatment is DiscountTreatment.INTEREST_ADJUSTMENT:
        balance = loan.merchant_discount - loan.adjustment_released
        from_income = max(returned - balance, 0)
        loan = attrs.evolve(
            loan, adjustment_released=loan.adjustment_released + returned - from_income
        )
        if from_income:
            amortized = InterestAdjustmentAmortized(
                event_id=f"{event.event_id}.refund.income",
                accounting_date=event.as_of,
                dimensions=loan.dimensions,
                amount=loan.money(from_income),
            )
            entries += entries_for(Cancellation.of(amortized, event.as_of), product.mapping)
        if full:
            loan, rest = release_adjustment(loan, product, event)
            entries += rest
    return loan, entries, refund - returned
