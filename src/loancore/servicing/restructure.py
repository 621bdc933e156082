"""Changing the schedule: re-amortization after a partial prepayment or refund, and truncation
for a payoff or a full refund.

Re-amortization uses the calculator: the principal not yet due (``B``) is amortized over the
remaining due dates from the current period's start and
:func:`loancore.amortization.reamortize` takes the reduction off with the product's mode
(``keep_installment`` shortens the term; ``keep_term`` lowers the installment). The new figures
replace the not-yet-due installments on their original due dates. The current installment keeps
the interest already accrued on the old balance (interest to date is owed, on the due date) and
adds the new schedule's interest for the days left, pro rata; its accrual anchor moves to the
event date. Principal already paid in advance on not-yet-due installments moves to the loan's
``principal_prepaid`` (it is inside the reduction's base no more). Interest or fees already
booked on a not-yet-due installment (paid in advance) are kept.
"""

from __future__ import annotations

from datetime import date

import attrs

from loancore.amortization import LoanTerms, Reamortization, amortize, reamortize
from loancore.errors import InvalidInput, RejectionCode, ServicingRejected
from loancore.money import round_ratio
from loancore.servicing.loan import Installment, Loan, Part
from loancore.servicing.product import LoanProduct

__all__ = ["future_principal", "reamortized", "truncated"]


def future_principal(loan: Loan, as_of: date) -> int:
    """Principal outstanding on installments not yet due on ``as_of``."""
    return sum(i.principal.outstanding for i in loan.installments if i.due_date > as_of)


def _new_tail(
    loan: Loan, product: LoanProduct, future: list[Installment], reduction: int, how: Reamortization
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    base = sum(i.principal.outstanding for i in future)
    first = future[0]
    terms = LoanTerms(
        principal=loan.money(base).amount,
        currency=loan.currency,
        annual_rate=loan.terms.annual_rate,
        installments=len(future),
        method=loan.terms.method,
        start_date=first.period_start,
        first_due_date=first.due_date,
        rounding=loan.terms.rounding,
        installment_multiple=loan.terms.installment_multiple,
    )
    try:
        schedule = reamortize(
            amortize(terms),
            after_installment=0,
            prepayment=loan.money(reduction).amount,
            mode=how,
        )
    except InvalidInput as error:
        raise ServicingRejected(RejectionCode.REAMORTIZATION_UNSUPPORTED, str(error)) from None
    return schedule.principal_minor, schedule.interest_minor


def reamortized(
    loan: Loan, product: LoanProduct, as_of: date, reduction: int, how: Reamortization
) -> tuple[Loan, int]:
    """``loan`` with ``reduction`` taken off the principal not yet due and re-amortized; also the
    principal paid in advance that moved to ``principal_prepaid``. ``0 < reduction <
    future_principal``."""
    past = [i for i in loan.installments if i.due_date <= as_of]
    future = [i for i in loan.installments if i.due_date > as_of]
    principal, interest = _new_tail(loan, product, future, reduction, how)
    moved = sum(i.principal.paid for i in future)
    rebuilt: list[Installment] = []
    for j, inst in enumerate(future):  # bounded by the loan's installments
        new_p = principal[j] if j < len(principal) else 0
        new_i = interest[j] if j < len(interest) else 0
        inst = attrs.evolve(inst, principal=Part(due=new_p, booked=new_p))
        if j == 0:
            inst = _current(inst, product, as_of, new_i)
        elif inst.interest.booked == 0:
            inst = attrs.evolve(inst, interest=Part(due=new_i))
        else:
            inst = attrs.evolve(
                inst, interest=attrs.evolve(inst.interest, due=max(new_i, inst.interest.booked))
            )
        if j < len(principal) or _has_booked(inst):
            rebuilt.append(inst)
    return attrs.evolve(loan, installments=(*past, *rebuilt)), moved


def _current(
    inst: Installment, product: LoanProduct, as_of: date, new_interest: int
) -> Installment:
    if inst.interest.booked:  # paid in advance: kept as booked
        return inst
    days = (inst.due_date - inst.period_start).days
    left = (inst.due_date - as_of).days
    rest = round_ratio(new_interest * left, days, rounding=product.rounding)
    due = inst.interest_accrued + rest
    return attrs.evolve(
        inst,
        interest=attrs.evolve(inst.interest, due=due),
        accrual_from=as_of,
        accrual_base=inst.interest_accrued,
    )


def _has_booked(inst: Installment) -> bool:
    return bool(inst.interest.booked or inst.fee.booked or inst.penalty.due or inst.compound.due)


def truncated(loan: Loan, as_of: date) -> Loan:
    """``loan`` ending on ``as_of``: on the installments not yet due, contract interest stops at
    what is accrued and fees not yet charged are cancelled (a payoff, a full refund)."""
    installments = []
    for inst in loan.installments:  # bounded by the loan's installments
        if inst.due_date > as_of:
            kept = max(inst.interest_accrued, inst.interest.booked)
            inst = attrs.evolve(
                inst,
                interest=attrs.evolve(inst.interest, due=kept),
                fee=attrs.evolve(inst.fee, due=inst.fee.booked),
                accrual_base=kept,
                accrual_from=as_of,
            )
        installments.append(inst)
    return attrs.evolve(loan, installments=tuple(installments))
