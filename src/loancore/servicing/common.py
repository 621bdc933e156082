"""Helpers the servicing event handlers share: allocation and payment of parts, the entries of a
repayment, status, quota effects, the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import attrs

from loancore.errors import InvalidInput, InvariantViolation, RejectionCode, ServicingRejected
from loancore.ledger.entries import Dimensions, JournalEntry
from loancore.money import Money
from loancore.postings import Component as PostingComponent
from loancore.postings import (
    CreditApplied,
    DiscountTreatment,
    FeeCharged,
    FeeKind,
    InterestAccrued,
    InterestAdjustmentAmortized,
    InterestDue,
    RepaymentReceived,
    Waiver,
    entries_for,
)
from loancore.servicing import books
from loancore.servicing.accrual import post_due
from loancore.servicing.events import (
    Outcome,
    QuotaEffect,
    QuotaEffectKind,
    ServicingEvent,
)
from loancore.servicing.loan import (
    COMPONENTS,
    Line,
    Loan,
    LoanStatus,
    Part,
    Transaction,
    TransactionKind,
)
from loancore.servicing.product import LoanProduct
from loancore.waterfall import (
    Component,
    OverflowRule,
    TransactionType,
    allocate_units,
)

Entries = tuple[JournalEntry, ...]


def reject(code: RejectionCode, detail: str) -> ServicingRejected:
    return ServicingRejected(code, detail)


# -- common ---------------------------------------------------------------------------------------


def require_status(loan: Loan, wanted: LoanStatus, code: RejectionCode) -> None:
    if loan.status is not wanted:
        raise reject(code, f"loan {loan.loan_id} is {loan.status.value}")


def done(
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
            entry_ids=tuple(entry.entry_id for entry in entries),
            quota_effects=tuple((e.kind.value, e.amount.minor_units, e.key) for e in effects),
            clawback=None if clawback is None else clawback.minor_units,
        )
        history = (*history, txn)
    loan = attrs.evolve(loan, version=loan.version + 1, history=history).check()
    return Outcome(
        loan=loan, entries=entries, quota_effects=tuple(effects), merchant_clawback=clawback
    )


def settle_status(loan: Loan) -> Loan:
    if loan.status is LoanStatus.ACTIVE and loan.total_outstanding() == 0:
        return attrs.evolve(loan, status=LoanStatus.PAID_OFF)
    if loan.status is LoanStatus.PAID_OFF and loan.total_outstanding() > 0:
        return attrs.evolve(loan, status=LoanStatus.ACTIVE)
    return loan


def restore_effects(loan: Loan, event: ServicingEvent, principal: int) -> tuple[QuotaEffect, ...]:
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


_NAMED = tuple((component, component.value) for component in COMPONENTS)
"""Each component and the Installment attribute holding its part."""


def outstanding_units(
    loan: Loan, due_only: date | None = None
) -> tuple[dict[tuple[int, Component], int], list[tuple[int, date]]]:
    """What ``loan`` owes in minor units per (installment, component) with something
    outstanding (due on or before ``due_only`` when given), and those installments' (number, due
    date) in paying order: the arguments of :func:`loancore.waterfall.allocate_units`."""
    units: dict[tuple[int, Component], int] = {}
    dates: list[tuple[int, date]] = []
    for inst in loan.installments:  # bounded by installments x components
        if due_only is not None and inst.due_date > due_only:
            continue
        owes = False
        for component, name in _NAMED:
            part: Part = getattr(inst, name)
            left = part.due - part.paid - part.waived - part.written_off
            if left:
                units[(inst.number, component)] = left
                owes = True
        if owes:
            dates.append((inst.number, inst.due_date))
    dates.sort(key=lambda pair: (pair[1], pair[0]))
    return units, dates


@attrs.frozen
class Paid:
    """What an allocation paid: the loan after it, the lines, the leftover, the interest and
    fees it had to bring forward (booked early because paid in advance)."""

    loan: Loan
    lines: tuple[Line, ...]
    leftover: int
    overflow: OverflowRule | None
    forward: tuple[int, int, int]  # interest accrued, interest moved to receivable, fee charged


def pay_parts(
    loan: Loan, lines: Sequence[tuple[int, Component, int]]
) -> tuple[Loan, tuple[int, int, int]]:
    """``loan`` with ``lines`` paid, each installment rebuilt once. An installment whose line
    pays more than its part's receivable (interest or a fee paid in advance) first has its
    interest and fee booked (:func:`post_due`); returns the interest accrued, the interest moved
    to receivable and the fee charged that way."""
    paying: dict[int, dict[Component, int]] = {}
    for number, component, amount in lines:  # bounded by the allocation's lines
        by_component = paying.setdefault(number, {})
        by_component[component] = by_component.get(component, 0) + amount
    forward = [0, 0, 0]
    installments = list(loan.installments)
    for index, inst in enumerate(installments):  # bounded by the installments
        paid = paying.pop(inst.number, None)
        if paid is None:
            continue
        if any(inst.part(component).receivable < amount for component, amount in paid.items()):
            inst, accrued, moved, charged = post_due(inst)
            forward[0] += accrued
            forward[1] += moved
            forward[2] += charged
        parts: dict[str, Part] = {}
        for component, amount in paid.items():  # bounded by the components
            part = inst.part(component)
            parts[component.value] = Part(
                part.due, part.booked, part.paid + amount, part.waived, part.written_off
            )
        installments[index] = attrs.evolve(inst, **parts)  # type: ignore[arg-type]
    if paying:
        raise InvariantViolation(f"loan {loan.loan_id} has no installment {sorted(paying)}")
    return attrs.evolve(loan, installments=tuple(installments)), (
        forward[0],
        forward[1],
        forward[2],
    )


def allocate_cash(
    loan: Loan,
    product: LoanProduct,
    amount: int,
    as_of: date,
    kind: TransactionType,
    *,
    due_only: bool = False,
) -> Paid:
    units, installments = outstanding_units(loan, as_of if due_only else None)
    if not installments:
        return Paid(loan, (), amount, None, (0, 0, 0))
    raw, leftover, overflow = allocate_units(
        units,
        installments,
        amount,
        kind,
        as_of,
        product.policy,
        grace_days=product.grace_days,
        currency=loan.currency,
    )
    paying = [(number, component, paid) for number, component, _state, paid in raw]
    loan, forward = pay_parts(loan, paying)
    lines = tuple((n, c.value, a) for n, c, a in paying)
    return Paid(loan, lines, leftover, overflow, forward)


def forward_entries(
    loan: Loan, product: LoanProduct, event_id: str, as_of: date, forward: tuple[int, int, int]
) -> Entries:
    """The interest accrued, moved to receivable and the fee charged ahead of their due date by
    a payment (a zero amount books nothing, so its event is not built)."""
    if not any(forward):
        return ()
    base: dict[str, Any] = {"accounting_date": as_of, "dimensions": loan.dimensions}
    accrued, moved, charged = forward
    events: list[Any] = []
    if accrued:
        events.append(
            InterestAccrued(
                event_id=f"{event_id}.forward.accrue",
                component=PostingComponent.INTEREST,
                amount=loan.money(accrued),
                **base,
            )
        )
    if moved:
        events.append(
            InterestDue(event_id=f"{event_id}.forward.due", amount=loan.money(moved), **base)
        )
    if charged:
        events.append(
            FeeCharged(
                event_id=f"{event_id}.forward.fee",
                fee_kind=FeeKind.MANAGEMENT,
                amount=loan.money(charged),
                **base,
            )
        )
    return tuple(e for ev in events for e in entries_for(ev, product.mapping))


_VALUES = tuple(component.value for component in COMPONENTS)


def line_totals(loan: Loan, lines: Sequence[Line]) -> dict[Component, Money]:
    units = dict.fromkeys(_VALUES, 0)
    for _number, value, amount in lines:  # bounded by the lines
        units[value] += amount
    return {c: loan.money(units[c.value]) for c in COMPONENTS}


def repayment_entries(
    loan: Loan,
    product: LoanProduct,
    event_id: str,
    as_of: date,
    received: int,
    lines: Sequence[Line],
    dimensions: Dimensions | None = None,
) -> Entries:
    totals = line_totals(loan, lines)
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


def principal_of(lines: Sequence[Line]) -> int:
    return sum(a for _n, c, a in lines if c == Component.PRINCIPAL.value)


def charge_paid_fee(loan: Loan, product: LoanProduct, event: ServicingEvent, fee: int) -> Entries:
    if not fee:
        return ()
    charged = FeeCharged(
        event_id=event.event_id,
        accounting_date=event.as_of,
        dimensions=loan.dimensions,
        fee_kind=FeeKind.PREPAYMENT,
        amount=loan.money(fee),
    )
    return entries_for(charged, product.mapping)


def credit_applied(
    event_id: str, as_of: date, loan: Loan, product: LoanProduct, paid: dict[Component, Money]
) -> Entries:
    """The credit balance (溢缴款) applied to ``paid``, booked by the CreditApplied template."""
    zero = loan.money(0)
    applied = CreditApplied(
        event_id=event_id,
        accounting_date=as_of,
        dimensions=loan.dimensions,
        principal=paid.get(Component.PRINCIPAL, zero),
        interest=paid.get(Component.INTEREST, zero),
        penalty=paid.get(Component.PENALTY, zero),
        compound=paid.get(Component.COMPOUND, zero),
        fee=paid.get(Component.FEE, zero),
    )
    return entries_for(applied, product.mapping)


def add_paid_fee(loan: Loan, as_of: date, fee: int) -> Loan:
    """A fee charged and paid at once, kept on the next installment (the last when none)."""
    if not fee:
        return loan
    index = next_index(loan, as_of)
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


def next_index(loan: Loan, as_of: date) -> int:
    for index, inst in enumerate(loan.installments):
        if inst.due_date >= as_of:
            return index
    return len(loan.installments) - 1


def release_adjustment(
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


def waiver_entries(
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
                fee_kind=getattr(event, "fee_kind", None) if component is Component.FEE else None,
            ),
            product.mapping,
        )
    )


def check_product(loan: Loan, product: LoanProduct) -> None:
    if not isinstance(product, LoanProduct):
        raise InvalidInput("product", product, "expected a LoanProduct")
    if product.ref != (loan.product_id, loan.product_version):
        raise reject(
            RejectionCode.PRODUCT_MISMATCH,
            f"loan booked under {loan.product_id}@{loan.product_version}, "
            f"given {product.product_id}@{product.version}",
        )
