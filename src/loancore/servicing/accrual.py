"""Bringing a loan to a date: interest accrued, due dates passed, penalties and late fees.

:func:`catch_up` is the one function that moves time for a loan. Every dated event calls it
first, so the ledger is current before money is allocated. It is idempotent by date: catching up
to a date already reached books nothing, because every figure is a cumulative target compared with
what is already booked.

Per installment, on ``as_of``:

1. **Contract interest accrues** (daily recognition): the target is ``base + (due - base) x
   elapsed / period days`` from the accrual anchor, rounded with the product's mode; the
   difference from what is accrued is booked (``InterestAccrued``). With recognition on the due
   date the whole interest is accrued on the due date.
2. **On the due date** the interest moves from accrued to receivable (``InterestDue``) and the
   management fee (管理费) is charged (``FeeCharged``); a merchant discount held in 利息调整 is
   amortized by an equal share (``InterestAdjustmentAmortized``; the last share takes the rest).
3. **After the grace days**, penalty interest (罚息) runs from the due date on the unpaid
   principal at the product's penalty rate and day count, rounded per catch-up; compound
   interest (复利) the same on unpaid receivable interest, when the product charges it; the late
   fee (滞纳金) is charged once. ``penalty_through`` records the date penalty last ran; a settled
   installment (no principal or interest outstanding) has nothing to run on and keeps its date.
   A payment reversal un-settles installments: :func:`penalty_restarts` then moves their date to
   the reversal's, so penalty runs on from the reversal (docs/servicing.md, "Reversal").

The amounts of one catch-up are summed into one entry per kind, ids ``<kind>:<event id>.<tag>``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fractions import Fraction
from typing import Any

import attrs

from loancore.daycount import year_fraction_ratio
from loancore.ledger.entries import JournalEntry
from loancore.money import Money, round_ratio
from loancore.postings import (
    Component as PostingComponent,
)
from loancore.postings import (
    DiscountTreatment,
    FeeCharged,
    FeeKind,
    InterestAccrued,
    InterestAdjustmentAmortized,
    InterestDue,
    entries_for,
)
from loancore.servicing.loan import Installment, Loan, Part
from loancore.servicing.product import InterestRecognition, LoanProduct

__all__ = ["accrual_target", "catch_up", "penalty_restarts", "post_due"]


def accrual_target(inst: Installment, product: LoanProduct, as_of: date) -> int:
    """Contract interest of ``inst`` earned by ``as_of`` (never below what is accrued)."""
    interest = inst.interest
    if as_of >= inst.due_date:
        target = interest.due
    elif product.recognition is InterestRecognition.ON_DUE_DATE or as_of <= inst.accrual_from:
        target = inst.accrual_base
    else:
        elapsed = (as_of - inst.accrual_from).days
        days = (inst.due_date - inst.accrual_from).days
        rest = round_ratio(
            (interest.due - inst.accrual_base) * elapsed, days, rounding=product.rounding
        )
        target = inst.accrual_base + rest
    return max(target, inst.interest_accrued)


def post_due(inst: Installment) -> tuple[Installment, int, int, int]:
    """``inst`` with all its contract interest accrued and booked receivable and its fee charged:
    returns it with the interest accrued now, the interest moved to receivable, the fee charged."""
    interest, fee = inst.interest, inst.fee
    accrued = interest.due - inst.interest_accrued
    moved = interest.due - interest.booked
    charged = fee.due - fee.booked
    if moved:
        interest = Part(
            interest.due, interest.due, interest.paid, interest.waived, interest.written_off
        )
    if charged:
        fee = Part(fee.due, fee.due, fee.paid, fee.waived, fee.written_off)
    posted = attrs.evolve(inst, interest=interest, interest_accrued=interest.due, fee=fee)
    return posted, accrued, moved, charged


def _penalty(
    inst: Installment, product: LoanProduct, loan: Loan, as_of: date
) -> tuple[Installment, int, int, int]:
    """Penalty, compound interest and late fee of ``inst`` through ``as_of`` (``inst`` itself when
    nothing changes: within the grace days, or already run through ``as_of`` and charged)."""
    if not _past_grace(inst, product, as_of):
        return inst, 0, 0, 0
    unpaid = inst.principal.outstanding + inst.interest.outstanding
    if not unpaid:  # settled: nothing to charge on, and its date stays (penalty_restarts)
        return inst, 0, 0, 0
    start = inst.penalty_through or inst.due_date
    if start >= as_of and inst.penalty_through == as_of and inst.late_fee_charged:
        return inst, 0, 0, 0
    penalty = compound = 0
    receivable = inst.interest.receivable if product.penalty.compound else 0
    if start < as_of and (inst.principal.outstanding or receivable):
        rate = Fraction(product.penalty.rate_for(loan.terms.annual_rate))
        factor = rate * year_fraction_ratio(start, as_of, product.day_count)
        mode = product.rounding
        base = factor * inst.principal.outstanding
        penalty = round_ratio(base.numerator, base.denominator, rounding=mode)
        if receivable:
            over = factor * receivable
            compound = round_ratio(over.numerator, over.denominator, rounding=mode)
    late = 0
    if not inst.late_fee_charged:
        late = _late_fee(product, unpaid, loan.currency)
    elif not (penalty or compound):  # nothing charged today: only the date moves
        return attrs.evolve(inst, penalty_through=as_of), 0, 0, 0
    inst = attrs.evolve(
        inst,
        penalty=_grow(inst.penalty, penalty),
        compound=_grow(inst.compound, compound),
        fee=_grow(inst.fee, late),
        penalty_through=as_of,
        late_fee_charged=True,
    )
    return inst, penalty, compound, late


def _past_grace(inst: Installment, product: LoanProduct, as_of: date) -> bool:
    """Whether penalty runs on ``inst`` on ``as_of`` (after its due date and the grace days)."""
    return (as_of - inst.due_date).days > product.grace_days


def penalty_restarts(loan: Loan, product: LoanProduct, as_of: date) -> Loan:
    """``loan`` (caught up to ``as_of``) with penalty run through ``as_of`` on every installment
    past its grace days: a settled installment keeps the date its penalty last ran, so one that
    a payment reversal un-settles would otherwise be charged for the days it stood paid. Penalty
    runs on from the reversal (docs/servicing.md, "Reversal")."""
    installments = tuple(
        attrs.evolve(inst, penalty_through=as_of)
        if _past_grace(inst, product, as_of)
        and (inst.penalty_through is None or inst.penalty_through < as_of)
        else inst
        for inst in loan.installments
    )
    if all(a is b for a, b in zip(installments, loan.installments, strict=True)):
        return loan
    return attrs.evolve(loan, installments=installments)


def _late_fee(product: LoanProduct, unpaid: int, currency: str) -> int:
    rule = product.late_fee
    if rule.fixed is not None:
        return rule.fixed.minor_units
    if rule.rate is None:
        return 0
    exact = Fraction(rule.rate) * unpaid
    fee = round_ratio(exact.numerator, exact.denominator, rounding=product.rounding)
    if rule.cap is not None:
        fee = min(fee, rule.cap.minor_units)
    return fee


def _grow(part: Part, amount: int) -> Part:
    if not amount:
        return part
    return attrs.evolve(part, due=part.due + amount, booked=part.booked + amount)


def _posted(inst: Installment) -> bool:
    """Whether :func:`post_due` has nothing left to do on ``inst``."""
    interest = inst.interest
    return (
        interest.booked == interest.due
        and inst.interest_accrued == interest.due
        and inst.fee.booked == inst.fee.due
    )


_SUMS = ("accrue", "due", "mgmt", "adjust", "penalty", "compound", "late")


def catch_up(
    loan: Loan, product: LoanProduct, as_of: date, event_id: str
) -> tuple[Loan, tuple[JournalEntry, ...]]:
    """``loan`` brought to ``as_of`` and the entries that books (see the module docstring).

    An installment with nothing to do on ``as_of`` (interest already accrued to its target, due
    date not reached or already posted, penalty already run through ``as_of``) is kept as it is;
    a changed one is rebuilt; the loan is rebuilt once, when anything changed. Before its due
    date an installment only accrues: penalty interest starts after the due date and its grace
    days (:func:`_penalty` would return it unchanged), so it is not asked."""
    sums = dict.fromkeys(_SUMS, 0)
    installments = list(loan.installments)
    released = loan.adjustment_released
    amortizing = product.mapping.discount_treatment is DiscountTreatment.INTEREST_ADJUSTMENT
    left = -1  # installments not amortized yet: counted when the first one is reached
    changed = False
    for index, before in enumerate(installments):  # bounded by the loan's installments
        if as_of < before.due_date:
            target = accrual_target(before, product, as_of)
            if target != before.interest_accrued:
                sums["accrue"] += target - before.interest_accrued
                installments[index] = attrs.evolve(before, interest_accrued=target)
                changed = True
            continue
        inst = before  # on or after the due date everything is accrued: post_due books the rest
        if not _posted(inst):
            inst, accrued, moved, charged = post_due(inst)
            sums["accrue"] += accrued
            sums["due"] += moved
            sums["mgmt"] += charged
        if not inst.adjustment_amortized:
            # the share of what is left in 利息调整; the last installment takes the rest
            if left < 0:
                left = sum(1 for i in installments if not i.adjustment_amortized)
            remaining = loan.merchant_discount - released
            share = (remaining // left if left > 1 else remaining) if amortizing else 0
            released += share
            sums["adjust"] += share
            left -= 1
            inst = attrs.evolve(inst, adjustment_amortized=True)
        inst, penalty, compound, late = _penalty(inst, product, loan, as_of)
        sums["penalty"] += penalty
        sums["compound"] += compound
        sums["late"] += late
        if inst is not before:
            installments[index] = inst
            changed = True
    if changed or released != loan.adjustment_released or loan.last_date != as_of:
        loan = attrs.evolve(
            loan, installments=tuple(installments), adjustment_released=released, last_date=as_of
        )
    return loan, _catch_up_entries(loan, product, as_of, event_id, sums)


def _catch_up_entries(
    loan: Loan, product: LoanProduct, as_of: date, event_id: str, sums: dict[str, int]
) -> tuple[JournalEntry, ...]:
    """One entry per non-zero sum (a zero amount books nothing, so its event is not built)."""
    money, mapping = loan.money, product.mapping
    base: dict[str, Any] = {"accounting_date": as_of, "dimensions": loan.dimensions}
    entries: tuple[JournalEntry, ...] = ()
    for kind in _SUMS:  # bounded: seven kinds
        amount = sums[kind]
        if amount:
            event = _CATCH_UP_EVENTS[kind](f"{event_id}.{kind}", money(amount), base)
            entries += entries_for(event, mapping)
    return entries


_CATCH_UP_EVENTS: dict[str, Callable[[str, Money, dict[str, Any]], Any]] = {
    "accrue": lambda i, m, b: InterestAccrued(
        event_id=i, component=PostingComponent.INTEREST, amount=m, **b
    ),
    "due": lambda i, m, b: InterestDue(event_id=i, amount=m, **b),
    "mgmt": lambda i, m, b: FeeCharged(event_id=i, fee_kind=FeeKind.MANAGEMENT, amount=m, **b),
    "adjust": lambda i, m, b: InterestAdjustmentAmortized(event_id=i, amount=m, **b),
    "penalty": lambda i, m, b: InterestAccrued(
        event_id=i, component=PostingComponent.PENALTY, amount=m, **b
    ),
    "compound": lambda i, m, b: InterestAccrued(
        event_id=i, component=PostingComponent.COMPOUND, amount=m, **b
    ),
    "late": lambda i, m, b: FeeCharged(event_id=i, fee_kind=FeeKind.LATE, amount=m, **b),
}
"""The posting event of each catch-up sum, by its id tag."""
