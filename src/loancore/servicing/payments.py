"""Repayment, the borrower's credit, charges, waivers and the reversal of a bounced payment
(undo it and every later payment, replay the later ones)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from loancore.errors import RejectionCode
from loancore.ledger.entries import reversal_of
from loancore.postings import (
    FeeCharged,
    OverpaymentRefunded,
    entries_for,
)
from loancore.servicing.accrual import catch_up, penalty_restarts
from loancore.servicing.common import (
    Entries,
    allocate_cash,
    credit_applied,
    done,
    forward_entries,
    line_totals,
    next_index,
    principal_of,
    reject,
    repayment_entries,
    restore_effects,
    settle_status,
    waiver_entries,
)
from loancore.servicing.events import (
    ApplyCredit,
    ChargeFee,
    Outcome,
    QuotaEffect,
    QuotaEffectKind,
    RefundCredit,
    Repay,
    RepayDue,
    ReversePayment,
    Waive,
)
from loancore.servicing.loan import (
    Loan,
    LoanStatus,
    Transaction,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct
from loancore.waterfall import (
    Component,
    DueState,
    OutstandingItem,
    Payment,
    TransactionType,
    allocate,
)

# -- repayment and credit -------------------------------------------------------------------------


def _repay(loan: Loan, product: LoanProduct, event: Repay) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    return _received(loan, product, event, entries, event.amount.minor_units)


def _repay_due(loan: Loan, product: LoanProduct, event: RepayDue) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    due = sum(inst.outstanding() for inst in loan.installments if inst.due_date <= event.as_of)
    if due <= 0:
        raise reject(RejectionCode.NOTHING_DUE, f"nothing is due on {event.as_of}")
    return _received(loan, product, event, entries, due)


def _received(
    loan: Loan, product: LoanProduct, event: Repay | RepayDue, entries: Entries, amount: int
) -> Outcome:
    """Cash of ``amount`` minor units received by ``event`` on the caught-up ``loan`` (with the
    catch-up's ``entries``): allocated by the waterfall, what is left to the credit balance."""
    paid = allocate_cash(loan, product, amount, event.as_of, TransactionType.REPAYMENT)
    loan = paid.loan
    if paid.leftover:
        loan = attrs.evolve(loan, credit=loan.credit + paid.leftover)
    loan = settle_status(loan)
    entries += forward_entries(loan, product, event.event_id, event.as_of, paid.forward)
    entries += repayment_entries(loan, product, event.event_id, event.as_of, amount, paid.lines)
    principal = principal_of(paid.lines)
    return done(
        loan,
        event,
        TransactionKind.REPAYMENT,
        entries,
        amount=amount,
        lines=paid.lines,
        credit_change=paid.leftover,
        principal_repaid=principal,
        effects=restore_effects(loan, event, principal),
    )


def _apply_credit(loan: Loan, product: LoanProduct, event: ApplyCredit) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    paid = allocate_cash(
        loan, product, loan.credit, event.as_of, TransactionType.REPAYMENT, due_only=True
    )
    used = loan.credit - paid.leftover
    loan = settle_status(attrs.evolve(paid.loan, credit=paid.leftover))
    if used:
        entries += credit_applied(
            event.event_id, event.as_of, loan, product, line_totals(loan, paid.lines)
        )
    principal = principal_of(paid.lines)
    return done(
        loan,
        event,
        TransactionKind.CREDIT_APPLIED,
        entries,
        amount=used,
        lines=paid.lines,
        credit_change=-used,
        principal_repaid=principal,
        effects=restore_effects(loan, event, principal),
    )


def _refund_credit(loan: Loan, product: LoanProduct, event: RefundCredit) -> Outcome:
    amount = event.amount.minor_units
    if amount > loan.credit:
        raise reject(RejectionCode.CREDIT_INSUFFICIENT, f"credit is {loan.money(loan.credit)}")
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
    return done(
        loan, event, TransactionKind.CREDIT_REFUNDED, entries, amount=amount, credit_change=-amount
    )


# -- charges, waivers -----------------------------------------------------------------------------


def _charge_fee(loan: Loan, product: LoanProduct, event: ChargeFee) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    amount = event.amount.minor_units
    index = next_index(loan, event.as_of)
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
    return done(
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
        raise reject(
            RejectionCode.WAIVER_EXCEEDS_OUTSTANDING,
            f"{component.value} booked and unpaid is {loan.money(booked)}",
        )
    allocation = allocate(
        items,
        Payment(event.amount, TransactionType.WAIVER, event.as_of),
        _waiver_policy(product, component),
        grace_days=product.grace_days,
    )
    by_number = {i.number: i for i in loan.installments}
    for line in allocation.lines:  # bounded by the installments
        inst = by_number[line.installment]
        part = inst.part(component)
        part = attrs.evolve(part, waived=part.waived + line.amount.minor_units)
        by_number[line.installment] = inst.with_part(component, part)
    loan = attrs.evolve(loan, installments=tuple(by_number[i.number] for i in loan.installments))
    loan = settle_status(loan)
    entries += waiver_entries(loan, product, event, {component: amount})
    lines = tuple(
        (ln.installment, component.value, ln.amount.minor_units) for ln in allocation.lines
    )
    return done(loan, event, TransactionKind.WAIVER, entries, amount=amount, lines=lines)


def _waiver_policy(product: LoanProduct, component: Component) -> Any:
    """The product's waiver policy when its rule reaches ``component`` in every due state (a
    waiver may take back what is booked on any installment, due or not); otherwise, for example
    a rule that pays only principal in advance, the waiver goes in installment order instead."""
    from loancore.waterfall import CHINA_CONSUMER_FINANCE

    rule = product.policy.rule_for(TransactionType.WAIVER)
    reached = {(step.state, step.component) for step in rule.steps}
    if all((state, component) in reached for state in DueState):
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
        raise reject(RejectionCode.LOAN_NOT_ACTIVE, f"loan is {loan.status.value}")
    target = loan.transaction(event.payment_id)
    if target is None or target.kind not in _REVERSIBLE:
        raise reject(RejectionCode.PAYMENT_UNKNOWN, f"no payment {event.payment_id!r}")
    if target.reversed_by is not None:
        raise reject(RejectionCode.PAYMENT_ALREADY_REVERSED, f"by {target.reversed_by}")
    start = loan.history.index(target)
    later = loan.history[start:]
    if any(t.kind in _BLOCKING for t in later):
        raise reject(RejectionCode.REVERSAL_BLOCKED, "the schedule changed after the payment")
    undone = [t for t in later if t.kind in _REVERSIBLE and t.reversed_by is None]
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    loan = penalty_restarts(_undo(loan, undone, event.event_id), product, event.as_of)
    for txn in undone:
        entries += _reversal_entries(loan, product, txn, event)
    history = list(loan.history)
    replayed_principal = 0
    for txn in undone[1:]:  # replay the later payments in order, dated today
        loan, more, replay = _replay(loan, product, txn, event)
        entries += more
        history.append(replay)
        replayed_principal += replay.principal_repaid
    loan = settle_status(attrs.evolve(loan, history=tuple(history)))
    if loan.credit < 0:
        raise reject(RejectionCode.CREDIT_INSUFFICIENT, "credit from the payment was refunded")
    net = replayed_principal - sum(t.principal_repaid for t in undone)
    effects: tuple[QuotaEffect, ...] = restore_effects(loan, event, net)
    if net < 0:
        effects = (
            QuotaEffect(
                kind=QuotaEffectKind.REUSE,
                hold_id=loan.hold_id,
                amount=loan.money(-net),
                key=f"{event.event_id}.reuse",
            ),
        )
    return done(loan, event, TransactionKind.PAYMENT_REVERSED, entries, effects=effects)


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
        return repayment_entries(loan, product, txn.event_id, txn.as_of, txn.amount, txn.lines)
    return credit_applied(txn.event_id, txn.as_of, loan, product, line_totals(loan, txn.lines))


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
        paid = allocate_cash(loan, product, txn.amount, txn.as_of, TransactionType.REPAYMENT)
        amount, credit_change = txn.amount, paid.leftover
        loan = attrs.evolve(paid.loan, credit=paid.loan.credit + paid.leftover)
        entries = forward_entries(loan, product, replay_id, event.as_of, paid.forward)
        entries += repayment_entries(loan, product, replay_id, event.as_of, amount, paid.lines)
    else:
        available = max(min(loan.credit, txn.amount), 0)
        paid = allocate_cash(
            loan, product, available, txn.as_of, TransactionType.REPAYMENT, due_only=True
        )
        amount = available - paid.leftover
        credit_change = -amount
        loan = attrs.evolve(paid.loan, credit=loan.credit - amount)
        entries = forward_entries(loan, product, replay_id, event.as_of, paid.forward)
        if amount:
            entries += credit_applied(
                replay_id, event.as_of, loan, product, line_totals(loan, paid.lines)
            )
    replay = Transaction(
        event_id=replay_id,
        as_of=txn.as_of,
        kind=txn.kind,
        amount=amount,
        lines=paid.lines,
        credit_change=credit_change,
        principal_repaid=principal_of(paid.lines),
    )
    return loan, entries, replay
