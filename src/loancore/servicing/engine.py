"""Servicing as pure functions: ``apply(loan, product, event) -> Outcome``.

Every event is checked first (the product version the loan was booked under, a new event id, a
date not before the loan's last event, the loan's status); a refusal raises
:class:`~loancore.servicing.errors.ServicingRejected` and changes nothing. A dated event then
brings the loan to its date (:func:`~loancore.servicing.accrual.catch_up`) and does its own part.
The outcome's entries balance one by one; ``Loan.version`` goes up by one; the event is kept in
the loan's history (explicit :class:`~loancore.servicing.events.Accrue` calls excepted, so a daily
batch does not grow the history). docs/servicing.md lists every event's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import attrs

from loancore.amortization import amortize
from loancore.checks import require_id
from loancore.errors import InvalidInput
from loancore.ledger.entries import Dimensions, JournalEntry, dimensions_of, reversal_of
from loancore.money import Money, round_ratio
from loancore.postings import (
    CardDisbursement,
    DiscountTreatment,
    FeeCharged,
    FeeKind,
    InterestAccrued,
    InterestAdjustmentAmortized,
    InterestDue,
    MerchantDisbursement,
    OverpaymentRefunded,
    RepaymentReceived,
    Waiver,
    entries_for,
)
from loancore.postings import Component as PostingComponent
from loancore.servicing import books
from loancore.servicing.accrual import catch_up, post_due
from loancore.servicing.errors import ServicingCode, ServicingRejected
from loancore.servicing.events import (
    Accrue,
    ApplyCredit,
    Cancel,
    ChargeFee,
    Disburse,
    MerchantRefund,
    Outcome,
    PayOff,
    PayoutFailed,
    Prepay,
    QuotaEffect,
    QuotaEffectKind,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingEvent,
    Waive,
)
from loancore.servicing.loan import (
    COMPONENTS,
    Installment,
    Line,
    Loan,
    LoanStatus,
    Part,
    Payee,
    Transaction,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct
from loancore.servicing.restructure import future_principal, reamortized, truncated
from loancore.waterfall import (
    Component,
    OutstandingItem,
    OverflowRule,
    Payment,
    TransactionType,
    allocate,
)

__all__ = ["apply", "book_loan", "payoff_amount"]

Entries = tuple[JournalEntry, ...]


def _reject(code: ServicingCode, detail: str) -> ServicingRejected:
    return ServicingRejected(code, detail)


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
    _status(loan, LoanStatus.PENDING_DISBURSEMENT, ServicingCode.LOAN_NOT_PENDING)
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
    outcome = _done(loan, event, TransactionKind.DISBURSED, entries, amount=money.minor_units)
    if event.card is None:
        return outcome
    txn = attrs.evolve(outcome.loan.history[-1], reference=event.card)
    return attrs.evolve(
        outcome, loan=attrs.evolve(outcome.loan, history=(*outcome.loan.history[:-1], txn))
    )


def _payout_failed(loan: Loan, product: LoanProduct, event: PayoutFailed) -> Outcome:
    if loan.payee is not Payee.CARD or loan.status is not LoanStatus.ACTIVE:
        raise _reject(ServicingCode.LOAN_NOT_PENDING, "only a card payout can fail")
    if any(
        t.kind
        not in (TransactionKind.BOOKED, TransactionKind.DISBURSED, TransactionKind.PAYOUT_FAILED)
        for t in loan.history
    ):
        raise _reject(ServicingCode.LOAN_NOT_PENDING, "the loan has been serviced since payout")
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
    return _done(loan, event, TransactionKind.PAYOUT_FAILED, entries)


def _cancel(loan: Loan, product: LoanProduct, event: Cancel) -> Outcome:
    _status(loan, LoanStatus.PENDING_DISBURSEMENT, ServicingCode.LOAN_NOT_PENDING)
    loan = attrs.evolve(loan, status=LoanStatus.CANCELLED, last_date=event.as_of)
    effect = QuotaEffect(
        kind=QuotaEffectKind.RELEASE,
        hold_id=loan.hold_id,
        amount=Money(loan.terms.principal, loan.currency),
        key=f"{event.event_id}.release",
    )
    return _done(loan, event, TransactionKind.CANCELLED, (), effects=(effect,))


# -- common ---------------------------------------------------------------------------------------


def _status(loan: Loan, wanted: LoanStatus, code: ServicingCode) -> None:
    if loan.status is not wanted:
        raise _reject(code, f"loan {loan.loan_id} is {loan.status.value}")


def _done(
    loan: Loan,
    event: ServicingEvent,
    kind: TransactionKind,
    entries: Entries,
    *,
    amount: int = 0,
    lines: Sequence[Line] = (),
    credit_change: int = 0,
    principal_repaid: int = 0,
    effects: Sequence[QuotaEffect] = (),
    clawback: Money | None = None,
    record: bool = True,
) -> Outcome:
    history = loan.history
    if record:
        txn = Transaction(
            event_id=event.event_id,
            as_of=event.as_of,
            kind=kind,
            amount=amount,
            lines=tuple(lines),
            credit_change=credit_change,
            principal_repaid=principal_repaid,
        )
        history = (*history, txn)
    loan = attrs.evolve(loan, version=loan.version + 1, history=history).check()
    return Outcome(
        loan=loan, entries=entries, quota_effects=tuple(effects), merchant_clawback=clawback
    )


def _settle_status(loan: Loan) -> Loan:
    if loan.status is LoanStatus.ACTIVE and loan.total_outstanding() == 0:
        return attrs.evolve(loan, status=LoanStatus.PAID_OFF)
    if loan.status is LoanStatus.PAID_OFF and loan.total_outstanding() > 0:
        return attrs.evolve(loan, status=LoanStatus.ACTIVE)
    return loan


def _restore(loan: Loan, event: ServicingEvent, principal: int) -> tuple[QuotaEffect, ...]:
    if principal <= 0:
        return ()
    return (
        QuotaEffect(
            kind=QuotaEffectKind.RESTORE_REPAID,
            hold_id=loan.hold_id,
            amount=loan.money(principal),
            key=f"{event.event_id}.restore",
        ),
    )


def _items(loan: Loan, due_only: date | None = None) -> list[OutstandingItem]:
    items = []
    for inst in loan.installments:  # bounded by installments x components
        if due_only is not None and inst.due_date > due_only:
            continue
        for component in COMPONENTS:
            left = inst.part(component).outstanding
            if left:
                items.append(
                    OutstandingItem(inst.number, inst.due_date, component, loan.money(left))
                )
    return items


@attrs.frozen
class _Paid:
    """What an allocation paid: the loan after it, the lines, the leftover, the interest and
    fees it had to bring forward (booked early because paid in advance)."""

    loan: Loan
    lines: tuple[Line, ...]
    leftover: int
    overflow: OverflowRule | None
    forward: tuple[int, int, int]  # interest accrued, interest moved to receivable, fee charged


def _pay(
    loan: Loan, lines: Sequence[tuple[int, Component, int]]
) -> tuple[Loan, tuple[int, int, int]]:
    by_number = {inst.number: inst for inst in loan.installments}
    forward = [0, 0, 0]
    for number, component, amount in lines:  # bounded by the allocation's lines
        inst = by_number[number]
        part = inst.part(component)
        if part.receivable < amount:
            inst, accrued, moved, charged = post_due(inst)
            forward[0] += accrued
            forward[1] += moved
            forward[2] += charged
            part = inst.part(component)
        inst = inst.with_part(component, attrs.evolve(part, paid=part.paid + amount))
        by_number[number] = inst
    installments = tuple(by_number[i.number] for i in loan.installments)
    return attrs.evolve(loan, installments=installments), (forward[0], forward[1], forward[2])


def _allocate(
    loan: Loan,
    product: LoanProduct,
    amount: int,
    as_of: date,
    kind: TransactionType,
    *,
    due_only: bool = False,
) -> _Paid:
    items = _items(loan, as_of if due_only else None)
    payment = Payment(loan.money(amount), kind, as_of)
    if not items:
        return _Paid(loan, (), amount, None, (0, 0, 0))
    allocation = allocate(items, payment, product.policy, grace_days=product.grace_days)
    raw = [(ln.installment, ln.component, ln.amount.minor_units) for ln in allocation.lines]
    loan, forward = _pay(loan, raw)
    lines = tuple((n, c.value, a) for n, c, a in raw)
    return _Paid(loan, lines, allocation.leftover.minor_units, allocation.overflow, forward)


def _forward_entries(
    loan: Loan, product: LoanProduct, event_id: str, as_of: date, forward: tuple[int, int, int]
) -> Entries:
    base: dict[str, Any] = {"accounting_date": as_of, "dimensions": loan.dimensions}
    accrued, moved, charged = forward
    events: tuple[Any, ...] = (
        InterestAccrued(
            event_id=f"{event_id}.forward.accrue",
            component=PostingComponent.INTEREST,
            amount=loan.money(accrued),
            **base,
        ),
        InterestDue(event_id=f"{event_id}.forward.due", amount=loan.money(moved), **base),
        FeeCharged(
            event_id=f"{event_id}.forward.fee",
            fee_kind=FeeKind.MANAGEMENT,
            amount=loan.money(charged),
            **base,
        ),
    )
    return tuple(e for ev in events for e in entries_for(ev, product.mapping))


def _totals(loan: Loan, lines: Sequence[Line]) -> dict[Component, Money]:
    units = dict.fromkeys(COMPONENTS, 0)
    for _number, component, amount in lines:
        units[Component(component)] += amount
    return {c: loan.money(u) for c, u in units.items()}


def _repayment_entries(
    loan: Loan,
    product: LoanProduct,
    event_id: str,
    as_of: date,
    received: int,
    lines: Sequence[Line],
    dimensions: Dimensions | None = None,
) -> Entries:
    totals = _totals(loan, lines)
    return entries_for(
        RepaymentReceived(
            event_id=event_id,
            accounting_date=as_of,
            dimensions=dimensions if dimensions is not None else loan.dimensions,
            received=loan.money(received),
            principal=totals[Component.PRINCIPAL],
            interest=totals[Component.INTEREST],
            penalty=totals[Component.PENALTY],
            compound=totals[Component.COMPOUND],
            fee=totals[Component.FEE],
        ),
        product.mapping,
    )


def _principal_of(lines: Sequence[Line]) -> int:
    return sum(a for _n, c, a in lines if c == Component.PRINCIPAL.value)


# -- repayment and credit -------------------------------------------------------------------------


def _repay(loan: Loan, product: LoanProduct, event: Repay) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    paid = _allocate(
        loan, product, event.amount.minor_units, event.as_of, TransactionType.REPAYMENT
    )
    loan = _settle_status(attrs.evolve(paid.loan, credit=paid.loan.credit + paid.leftover))
    entries += _forward_entries(loan, product, event.event_id, event.as_of, paid.forward)
    entries += _repayment_entries(
        loan, product, event.event_id, event.as_of, event.amount.minor_units, paid.lines
    )
    principal = _principal_of(paid.lines)
    return _done(
        loan,
        event,
        TransactionKind.REPAYMENT,
        entries,
        amount=event.amount.minor_units,
        lines=paid.lines,
        credit_change=paid.leftover,
        principal_repaid=principal,
        effects=_restore(loan, event, principal),
    )


def _apply_credit(loan: Loan, product: LoanProduct, event: ApplyCredit) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    paid = _allocate(
        loan, product, loan.credit, event.as_of, TransactionType.REPAYMENT, due_only=True
    )
    used = loan.credit - paid.leftover
    loan = _settle_status(attrs.evolve(paid.loan, credit=paid.leftover))
    if used:
        entries += books.credit_applied(
            event.event_id, event.as_of, loan.dimensions, product.mapping, _totals(loan, paid.lines)
        )
    principal = _principal_of(paid.lines)
    return _done(
        loan,
        event,
        TransactionKind.CREDIT_APPLIED,
        entries,
        amount=used,
        lines=paid.lines,
        credit_change=-used,
        principal_repaid=principal,
        effects=_restore(loan, event, principal),
    )


def _refund_credit(loan: Loan, product: LoanProduct, event: RefundCredit) -> Outcome:
    amount = event.amount.minor_units
    if amount > loan.credit:
        raise _reject(ServicingCode.CREDIT_INSUFFICIENT, f"credit is {loan.money(loan.credit)}")
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    entries += entries_for(
        OverpaymentRefunded(
            event_id=event.event_id,
            accounting_date=event.as_of,
            dimensions=loan.dimensions,
            amount=event.amount,
        ),
        product.mapping,
    )
    loan = attrs.evolve(loan, credit=loan.credit - amount)
    return _done(
        loan, event, TransactionKind.CREDIT_REFUNDED, entries, amount=amount, credit_change=-amount
    )


# -- prepayment -----------------------------------------------------------------------------------


def _prepay_allowed(loan: Loan, product: LoanProduct, as_of: date) -> None:
    rules = product.prepayment
    if not rules.allowed:
        raise _reject(ServicingCode.PREPAYMENT_NOT_ALLOWED, "the product forbids prepayment")
    if as_of < loan.terms.start_date + timedelta(days=rules.lock_in_days):
        raise _reject(
            ServicingCode.PREPAYMENT_NOT_ALLOWED, f"within {rules.lock_in_days} lock-in days"
        )


def _prepay(loan: Loan, product: LoanProduct, event: Prepay) -> Outcome:
    _prepay_allowed(loan, product, event.as_of)
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    cash = event.amount.minor_units
    paid = _allocate(loan, product, cash, event.as_of, TransactionType.PREPAYMENT)
    loan, lines, leftover = paid.loan, list(paid.lines), paid.leftover
    entries += _forward_entries(loan, product, event.event_id, event.as_of, paid.forward)
    fee = prepaid = 0
    if leftover and paid.overflow is OverflowRule.REAMORTIZE:
        rate = Fraction(product.prepayment.fee_rate)
        exact = Fraction(leftover) / (1 + rate)
        prepaid = exact.numerator // exact.denominator
        fee = leftover - prepaid
        if prepaid >= future_principal(loan, event.as_of):
            raise _reject(
                ServicingCode.PREPAYMENT_EXCEEDS_BALANCE,
                f"{loan.money(prepaid)} repays all principal not yet due: pay off instead",
            )
        how = event.reamortization or product.prepayment.reamortization
        loan, moved = reamortized(loan, product, event.as_of, prepaid, how)
        loan = attrs.evolve(loan, principal_prepaid=loan.principal_prepaid + moved + prepaid)
        leftover = 0
        entries += _charge_paid_fee(loan, product, event, fee)
        loan = _add_paid_fee(loan, event.as_of, fee)
        lines += [(0, Component.PRINCIPAL.value, prepaid), (0, Component.FEE.value, fee)]
    loan = _settle_status(attrs.evolve(loan, credit=loan.credit + leftover))
    entries += _repayment_entries(loan, product, event.event_id, event.as_of, cash, lines)
    principal = _principal_of(lines)
    return _done(
        loan,
        event,
        TransactionKind.PREPAYMENT,
        entries,
        amount=cash,
        lines=[ln for ln in lines if ln[2]],
        credit_change=leftover,
        principal_repaid=principal,
        effects=_restore(loan, event, principal),
    )


def _charge_paid_fee(loan: Loan, product: LoanProduct, event: ServicingEvent, fee: int) -> Entries:
    if not fee:
        return ()
    return books.prepayment_fee(
        event.event_id, event.as_of, loan.dimensions, product.mapping, loan.money(fee)
    )


def _add_paid_fee(loan: Loan, as_of: date, fee: int) -> Loan:
    """A fee charged and paid at once, kept on the next installment (the last when none)."""
    if not fee:
        return loan
    index = _next_index(loan, as_of)
    inst = loan.installments[index]
    part = inst.fee
    inst = attrs.evolve(
        inst,
        fee=Part(
            due=part.due + fee,
            booked=part.booked + fee,
            paid=part.paid + fee,
            waived=part.waived,
            written_off=part.written_off,
        ),
    )
    installments = list(loan.installments)
    installments[index] = inst
    return attrs.evolve(loan, installments=tuple(installments))


def _next_index(loan: Loan, as_of: date) -> int:
    for index, inst in enumerate(loan.installments):
        if inst.due_date >= as_of:
            return index
    return len(loan.installments) - 1


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
    _check_product(loan, product)
    payoff, _entries, fee = _payoff_state(loan, product, as_of, "quote")
    return loan.money(payoff.total_outstanding() + fee)


def _pay_off(loan: Loan, product: LoanProduct, event: PayOff) -> Outcome:
    _prepay_allowed(loan, product, event.as_of)
    loan, entries, fee = _payoff_state(loan, product, event.as_of, event.event_id)
    quote = loan.total_outstanding() + fee
    if event.amount.minor_units != quote:
        raise _reject(ServicingCode.PAYOFF_AMOUNT_MISMATCH, f"the payoff is {loan.money(quote)}")
    raw = [
        (inst.number, component, inst.part(component).outstanding)
        for inst in loan.installments
        for component in COMPONENTS
        if inst.part(component).outstanding
    ]
    loan, forward = _pay(loan, raw)
    lines: list[Line] = [(n, c.value, a) for n, c, a in raw]
    entries += _forward_entries(loan, product, event.event_id, event.as_of, forward)
    entries += _charge_paid_fee(loan, product, event, fee)
    loan = _add_paid_fee(loan, event.as_of, fee)
    if fee:
        lines.append((0, Component.FEE.value, fee))
    loan, adjust = _release_adjustment(loan, product, event)
    entries += adjust
    entries += _repayment_entries(loan, product, event.event_id, event.as_of, quote, lines)
    loan = attrs.evolve(loan, status=LoanStatus.PAID_OFF)
    principal = _principal_of(lines)
    return _done(
        loan,
        event,
        TransactionKind.PAYOFF,
        entries,
        amount=quote,
        lines=lines,
        principal_repaid=principal,
        effects=_restore(loan, event, principal),
    )


def _release_adjustment(
    loan: Loan, product: LoanProduct, event: ServicingEvent
) -> tuple[Loan, Entries]:
    """What is left in 利息调整 recognised as interest income now (the loan ends early)."""
    if product.mapping.discount_treatment is not DiscountTreatment.INTEREST_ADJUSTMENT:
        return loan, ()
    rest = loan.merchant_discount - loan.adjustment_released
    if rest <= 0:
        return loan, ()
    entries = entries_for(
        InterestAdjustmentAmortized(
            event_id=f"{event.event_id}.adjust.rest",
            accounting_date=event.as_of,
            dimensions=loan.dimensions,
            amount=loan.money(rest),
        ),
        product.mapping,
    )
    return attrs.evolve(loan, adjustment_released=loan.adjustment_released + rest), entries


# -- merchant refund ------------------------------------------------------------------------------


def _merchant_refund(loan: Loan, product: LoanProduct, event: MerchantRefund) -> Outcome:
    if loan.payee is not Payee.MERCHANT:
        raise _reject(ServicingCode.REFUND_NOT_MERCHANT_LOAN, "the loan was paid to a card")
    refund = event.amount.minor_units
    outstanding = loan.principal_outstanding()
    if refund > outstanding:
        raise _reject(
            ServicingCode.REFUND_EXCEEDS_PRINCIPAL,
            f"principal outstanding {loan.money(outstanding)}",
        )
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    full = refund == outstanding
    if not full:
        future = future_principal(loan, event.as_of)
        if refund >= future:
            raise _reject(
                ServicingCode.REFUND_EXCEEDS_PRINCIPAL,
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
    return _done(
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
    entries = _forward_entries(
        loan, product, event.event_id, event.as_of, (forward[0], forward[1], forward[2])
    )
    entries += _waiver_entries(loan, product, event, waived)
    return loan, entries


def _waiver_entries(
    loan: Loan, product: LoanProduct, event: ServicingEvent, waived: dict[Component, int]
) -> Entries:
    return tuple(
        entry
        for component, amount in waived.items()
        if component is not Component.PRINCIPAL
        for entry in entries_for(
            Waiver(
                event_id=f"{event.event_id}.waive.{component.value}",
                accounting_date=event.as_of,
                dimensions=loan.dimensions,
                component=books.posting_component(component),
                amount=loan.money(amount),
            ),
            product.mapping,
        )
    )


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
    back = entries_for(
        MerchantDisbursement(
            event_id=f"{event.event_id}.refund",
            accounting_date=event.as_of,
            dimensions=loan.dimensions,
            principal=loan.money(refund),
            merchant_discount=loan.money(returned),
        ),
        product.mapping,
    )
    entries = books.mirrored(back, ".back", "商户退货 merchant refund takes back the loan")
    loan = attrs.evolve(loan, discount_returned=loan.discount_returned + returned)
    if product.mapping.discount_treatment is DiscountTreatment.INTEREST_ADJUSTMENT:
        balance = loan.merchant_discount - loan.adjustment_released
        from_income = max(returned - balance, 0)
        loan = attrs.evolve(
            loan, adjustment_released=loan.adjustment_released + returned - from_income
        )
        if from_income:
            income = entries_for(
                InterestAdjustmentAmortized(
                    event_id=f"{event.event_id}.refund.income",
                    accounting_date=event.as_of,
                    dimensions=loan.dimensions,
                    amount=loan.money(from_income),
                ),
                product.mapping,
            )
            entries += books.mirrored(
                income, ".back", "退货冲回已摊销贴息 amortized discount returned"
            )
        if full:
            loan, rest = _release_adjustment(loan, product, event)
            entries += rest
    return loan, entries, refund - returned


# -- charges, waivers -----------------------------------------------------------------------------


def _charge_fee(loan: Loan, product: LoanProduct, event: ChargeFee) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    amount = event.amount.minor_units
    index = _next_index(loan, event.as_of)
    inst = loan.installments[index]
    fee = attrs.evolve(inst.fee, due=inst.fee.due + amount, booked=inst.fee.booked + amount)
    installments = list(loan.installments)
    installments[index] = attrs.evolve(inst, fee=fee)
    loan = attrs.evolve(loan, installments=tuple(installments), status=LoanStatus.ACTIVE)
    entries += entries_for(
        FeeCharged(
            event_id=event.event_id,
            accounting_date=event.as_of,
            dimensions=loan.dimensions,
            fee_kind=event.fee_kind,
            amount=event.amount,
        ),
        product.mapping,
    )
    return _done(
        loan,
        event,
        TransactionKind.FEE_CHARGED,
        entries,
        amount=amount,
        lines=((inst.number, Component.FEE.value, amount),),
    )


def _waive(loan: Loan, product: LoanProduct, event: Waive) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    component, amount = event.component, event.amount.minor_units
    items = [
        OutstandingItem(i.number, i.due_date, component, loan.money(i.part(component).receivable))
        for i in loan.installments
        if i.part(component).receivable
    ]
    booked = sum(item.outstanding.minor_units for item in items)
    if amount > booked:
        raise _reject(
            ServicingCode.WAIVER_EXCEEDS_OUTSTANDING,
            f"{component.value} booked and unpaid is {loan.money(booked)}",
        )
    allocation = allocate(
        items,
        Payment(event.amount, TransactionType.WAIVER, event.as_of),
        _waiver_policy(product),
        grace_days=product.grace_days,
    )
    by_number = {i.number: i for i in loan.installments}
    for line in allocation.lines:  # bounded by the installments
        inst = by_number[line.installment]
        part = inst.part(component)
        part = attrs.evolve(part, waived=part.waived + line.amount.minor_units)
        by_number[line.installment] = inst.with_part(component, part)
    loan = attrs.evolve(loan, installments=tuple(by_number[i.number] for i in loan.installments))
    loan = _settle_status(loan)
    entries += _waiver_entries(loan, product, event, {component: amount})
    lines = tuple(
        (ln.installment, component.value, ln.amount.minor_units) for ln in allocation.lines
    )
    return _done(loan, event, TransactionKind.WAIVER, entries, amount=amount, lines=lines)


def _waiver_policy(product: LoanProduct) -> Any:
    """The product's policy: its waiver rule must reach every installment's booked amount, so a
    rule that pays nothing in advance waives in installment order instead."""
    from loancore.waterfall import CHINA_CONSUMER_FINANCE

    rule = product.policy.rule_for(TransactionType.WAIVER)
    if rule.overflow in (OverflowRule.NEXT_INSTALLMENTS, OverflowRule.LAST_INSTALLMENTS):
        return product.policy
    return CHINA_CONSUMER_FINANCE


# -- payment reversal -----------------------------------------------------------------------------

_REVERSIBLE = (TransactionKind.REPAYMENT, TransactionKind.CREDIT_APPLIED)
_BLOCKING = (
    TransactionKind.PREPAYMENT,
    TransactionKind.PAYOFF,
    TransactionKind.MERCHANT_REFUND,
)


def _reverse_payment(loan: Loan, product: LoanProduct, event: ReversePayment) -> Outcome:
    if loan.status not in (LoanStatus.ACTIVE, LoanStatus.PAID_OFF):
        raise _reject(ServicingCode.LOAN_NOT_ACTIVE, f"loan is {loan.status.value}")
    target = loan.transaction(event.payment_id)
    if target is None or target.kind not in _REVERSIBLE:
        raise _reject(ServicingCode.PAYMENT_UNKNOWN, f"no payment {event.payment_id!r}")
    if target.reversed_by is not None:
        raise _reject(ServicingCode.PAYMENT_ALREADY_REVERSED, f"by {target.reversed_by}")
    start = loan.history.index(target)
    later = loan.history[start:]
    if any(t.kind in _BLOCKING for t in later):
        raise _reject(ServicingCode.REVERSAL_BLOCKED, "the schedule changed after the payment")
    undone = [t for t in later if t.kind in _REVERSIBLE and t.reversed_by is None]
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    loan = _undo(loan, undone, event.event_id)
    for txn in undone:
        entries += _reversal_entries(loan, product, txn, event)
    history = list(loan.history)
    replayed_principal = 0
    for txn in undone[1:]:  # replay the later payments in order, dated today
        loan, more, replay = _replay(loan, product, txn, event)
        entries += more
        history.append(replay)
        replayed_principal += replay.principal_repaid
    loan = _settle_status(attrs.evolve(loan, history=tuple(history)))
    if loan.credit < 0:
        raise _reject(ServicingCode.CREDIT_INSUFFICIENT, "credit from the payment was refunded")
    net = replayed_principal - sum(t.principal_repaid for t in undone)
    effects: tuple[QuotaEffect, ...] = _restore(loan, event, net)
    if net < 0:
        effects = (
            QuotaEffect(
                kind=QuotaEffectKind.REUSE,
                hold_id=loan.hold_id,
                amount=loan.money(-net),
                key=f"{event.event_id}.reuse",
            ),
        )
    return _done(loan, event, TransactionKind.PAYMENT_REVERSED, entries, effects=effects)


def _undo(loan: Loan, undone: Sequence[Transaction], reversal_id: str) -> Loan:
    by_number = {i.number: i for i in loan.installments}
    credit = loan.credit
    for txn in undone:  # bounded by the history
        credit -= txn.credit_change
        for number, value, amount in txn.lines:
            component = Component(value)
            inst = by_number[number]
            part = inst.part(component)
            by_number[number] = inst.with_part(
                component, attrs.evolve(part, paid=part.paid - amount)
            )
    ids = {t.event_id for t in undone}
    history = tuple(
        attrs.evolve(t, reversed_by=reversal_id) if t.event_id in ids else t for t in loan.history
    )
    installments = tuple(by_number[i.number] for i in loan.installments)
    return attrs.evolve(loan, installments=installments, credit=credit, history=history)


def _original_entries(loan: Loan, product: LoanProduct, txn: Transaction) -> Entries:
    if txn.kind is TransactionKind.REPAYMENT:
        return _repayment_entries(loan, product, txn.event_id, txn.as_of, txn.amount, txn.lines)
    return books.credit_applied(
        txn.event_id, txn.as_of, loan.dimensions, product.mapping, _totals(loan, txn.lines)
    )


def _reversal_entries(
    loan: Loan, product: LoanProduct, txn: Transaction, event: ReversePayment
) -> Entries:
    return tuple(
        reversal_of(
            entry,
            entry_id=f"{entry.entry_id}.reversed",
            idempotency_key=f"{entry.idempotency_key}.reversed",
            accounting_date=event.as_of,
            memo=f"冲正 reversal of {entry.entry_id} ({event.event_id})",
        )
        for entry in _original_entries(loan, product, txn)
    )


def _replay(
    loan: Loan, product: LoanProduct, txn: Transaction, event: ReversePayment
) -> tuple[Loan, Entries, Transaction]:
    """Payment ``txn`` allocated again on its own date, booked on the reversal's date."""
    replay_id = f"{txn.event_id}~{event.event_id}"
    if txn.kind is TransactionKind.REPAYMENT:
        paid = _allocate(loan, product, txn.amount, txn.as_of, TransactionType.REPAYMENT)
        amount, credit_change = txn.amount, paid.leftover
        loan = attrs.evolve(paid.loan, credit=paid.loan.credit + paid.leftover)
        entries = _forward_entries(loan, product, replay_id, event.as_of, paid.forward)
        entries += _repayment_entries(loan, product, replay_id, event.as_of, amount, paid.lines)
    else:
        available = max(min(loan.credit, txn.amount), 0)
        paid = _allocate(
            loan, product, available, txn.as_of, TransactionType.REPAYMENT, due_only=True
        )
        amount = available - paid.leftover
        credit_change = -amount
        loan = attrs.evolve(paid.loan, credit=loan.credit - amount)
        entries = _forward_entries(loan, product, replay_id, event.as_of, paid.forward)
        if amount:
            entries += books.credit_applied(
                replay_id, event.as_of, loan.dimensions, product.mapping, _totals(loan, paid.lines)
            )
    replay = Transaction(
        event_id=replay_id,
        as_of=txn.as_of,
        kind=txn.kind,
        amount=amount,
        lines=paid.lines,
        credit_change=credit_change,
        principal_repaid=_principal_of(paid.lines),
    )
    return loan, entries, replay


# -- dispatch -------------------------------------------------------------------------------------


def _accrue(loan: Loan, product: LoanProduct, event: Accrue) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    return _done(loan, event, TransactionKind.ACCRUED, entries, record=False)


_HANDLERS: dict[type[ServicingEvent], tuple[Callable[[Loan, LoanProduct, Any], Outcome], bool]] = {
    Disburse: (_disburse, False),
    PayoutFailed: (_payout_failed, False),
    Cancel: (_cancel, False),
    Accrue: (_accrue, True),
    Repay: (_repay, True),
    ApplyCredit: (_apply_credit, True),
    RefundCredit: (_refund_credit, False),
    Prepay: (_prepay, True),
    PayOff: (_pay_off, True),
    MerchantRefund: (_merchant_refund, True),
    ChargeFee: (_charge_fee, True),
    Waive: (_waive, True),
    ReversePayment: (_reverse_payment, False),
}
"""Each event type, its handler, and whether it needs an active loan."""


def _check_product(loan: Loan, product: LoanProduct) -> None:
    if not isinstance(product, LoanProduct):
        raise InvalidInput("product", product, "expected a LoanProduct")
    if product.ref != (loan.product_id, loan.product_version):
        raise _reject(
            ServicingCode.PRODUCT_MISMATCH,
            f"loan booked under {loan.product_id}@{loan.product_version}, "
            f"given {product.product_id}@{product.version}",
        )


def apply(loan: Loan, product: LoanProduct, event: ServicingEvent) -> Outcome:
    """``event`` applied to ``loan`` under ``product`` (see the module docstring)."""
    if not isinstance(loan, Loan):
        raise InvalidInput("loan", loan, "expected a Loan")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise InvalidInput("event", event, "not a servicing event")
    _check_product(loan, product)
    if loan.transaction(event.event_id) is not None or any(
        t.event_id.startswith(f"{event.event_id}~") for t in loan.history
    ):
        raise _reject(ServicingCode.EVENT_ALREADY_APPLIED, event.event_id)
    if event.as_of < loan.last_date:
        raise _reject(ServicingCode.EVENT_BEFORE_LAST, f"{event.as_of} is before {loan.last_date}")
    function, needs_active = handler
    after_payoff = loan.status is LoanStatus.PAID_OFF and isinstance(event, (Accrue, ChargeFee))
    if needs_active and loan.status is not LoanStatus.ACTIVE and not after_payoff:
        raise _reject(ServicingCode.LOAN_NOT_ACTIVE, f"loan is {loan.status.value}")
    outcome = function(loan, product, event)
    return attrs.evolve(outcome, loan=attrs.evolve(outcome.loan, last_date=event.as_of))
