"""A borrower's bill (账单) across loans: what is overdue, what falls due next, and the history.

Pure over the customer's :class:`~loancore.servicing.Loan` values as stored (the figures are the
loan's own: penalty interest up to its last event; a payment on the day brings it to date).
Amounts are integer minor units of the loans' one currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import attrs

from loancore.checks import require_date, require_id
from loancore.errors import InvalidInput
from loancore.servicing import Loan, LoanStatus

__all__ = ["Bill", "BillLine", "HistoryLine", "customer_bill"]


@attrs.frozen
class BillLine:
    """One loan on the bill: overdue (installments due before ``as_of``, all components), the
    next installment due on or after ``as_of`` (None when none is left) and what remains."""

    loan_id: str
    merchant_id: str
    status: str
    installments: int
    installments_paid: int
    overdue_minor: int
    next_due: date | None
    next_due_minor: int
    remaining_minor: int


@attrs.frozen
class HistoryLine:
    as_of: date
    loan_id: str
    kind: str
    amount_minor: int
    event_id: str


@attrs.frozen
class Bill:
    customer_id: str
    as_of: date
    currency: str
    lines: tuple[BillLine, ...]
    history: tuple[HistoryLine, ...]

    @property
    def due_minor(self) -> int:
        """Overdue plus the next installments: what pays the bill in full today."""
        return sum(line.overdue_minor + line.next_due_minor for line in self.lines)


def _line(loan: Loan, as_of: date) -> BillLine:
    overdue = 0
    next_due: date | None = None
    next_minor = 0
    paid = 0
    for inst in loan.installments:  # bounded by the loan's installments
        left = inst.outstanding()
        if left == 0:
            paid += 1
        elif inst.due_date < as_of:
            overdue += left
        elif next_due is None:
            next_due, next_minor = inst.due_date, left
    active = loan.status is LoanStatus.ACTIVE
    return BillLine(
        loan_id=loan.loan_id,
        merchant_id=dict(loan.dimensions).get("merchant", ""),
        status=loan.status.value,
        installments=len(loan.installments),
        installments_paid=paid,
        overdue_minor=overdue if active else 0,
        next_due=next_due if active else None,
        next_due_minor=next_minor if active else 0,
        remaining_minor=loan.total_outstanding() if active else 0,
    )


def customer_bill(customer_id: str, loans: Iterable[Loan], as_of: date) -> Bill:
    """``customer_id``'s bill on ``as_of`` over ``loans`` (theirs; another's is refused)."""
    require_id("customer_id", customer_id)
    require_date("as_of", as_of)
    kept = sorted(loans, key=lambda loan: loan.loan_id)
    currencies = {loan.currency for loan in kept}
    if len(currencies) > 1:
        raise InvalidInput("loans", sorted(currencies), "expected loans of one currency")
    for loan in kept:
        owner = dict(loan.dimensions).get("customer")
        if owner is not None and owner != customer_id:
            raise InvalidInput("loans", loan.loan_id, f"belongs to customer {owner}")
    history = sorted(
        (
            HistoryLine(txn.as_of, loan.loan_id, txn.kind.value, txn.amount, txn.event_id)
            for loan in kept
            for txn in loan.history
            if txn.as_of <= as_of
        ),
        key=lambda line: (line.as_of, line.loan_id, line.event_id),
    )
    return Bill(
        customer_id=customer_id,
        as_of=as_of,
        currency=currencies.pop() if currencies else "",
        lines=tuple(_line(loan, as_of) for loan in kept),
        history=tuple(history),
    )
