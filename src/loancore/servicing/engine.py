"""Servicing as pure functions: ``apply(loan, product, event) -> Outcome``.

Every event is checked first (the product version the loan was booked under, a new event id, a
date not before the loan's last event, the loan's status); a refusal raises
:class:`~loancore.errors.ServicingRejected` and changes nothing. A dated event then
brings the loan to its date (:func:`~loancore.servicing.accrual.catch_up`) and does its own part.
The outcome's entries balance one by one; ``Loan.version`` goes up by one; the event is kept in
the loan's history (explicit :class:`~loancore.servicing.events.Accrue` calls excepted, so a daily
batch does not grow the history). docs/servicing.md lists every event's entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from loancore.errors import InvalidInput, RejectionCode
from loancore.servicing.accrual import catch_up
from loancore.servicing.common import check_product, done, reject
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
    RefundCredit,
    Repay,
    RepayDue,
    ReversePayment,
    ServicingEvent,
    Waive,
)
from loancore.servicing.lifecycle import _cancel, _disburse, _payout_failed, book_loan
from loancore.servicing.loan import (
    Loan,
    LoanStatus,
    TransactionKind,
)
from loancore.servicing.payments import (
    _apply_credit,
    _charge_fee,
    _refund_credit,
    _repay,
    _repay_due,
    _reverse_payment,
    _waive,
)
from loancore.servicing.prepayment import _pay_off, _prepay, payoff_amount
from loancore.servicing.product import LoanProduct
from loancore.servicing.refund import _merchant_refund

__all__ = ["apply", "book_loan", "payoff_amount"]


# -- dispatch -------------------------------------------------------------------------------------


def _accrue(loan: Loan, product: LoanProduct, event: Accrue) -> Outcome:
    loan, entries = catch_up(loan, product, event.as_of, event.event_id)
    return done(loan, event, TransactionKind.ACCRUED, entries, record=False)


_HANDLERS: dict[type[ServicingEvent], tuple[Callable[[Loan, LoanProduct, Any], Outcome], bool]] = {
    Disburse: (_disburse, False),
    PayoutFailed: (_payout_failed, False),
    Cancel: (_cancel, False),
    Accrue: (_accrue, True),
    Repay: (_repay, True),
    RepayDue: (_repay_due, True),
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


def _applied(loan: Loan, event_id: str) -> bool:
    """Whether ``event_id`` (or a part of it, ``<event_id>~...``) is in the loan's history: one
    pass over it, the history being read for every event (the daily accrual too)."""
    parts = f"{event_id}~"
    for txn in loan.history:  # bounded by HISTORY_MAX
        if txn.event_id == event_id or txn.event_id.startswith(parts):
            return True
    return False


def apply(loan: Loan, product: LoanProduct, event: ServicingEvent) -> Outcome:
    """``event`` applied to ``loan`` under ``product`` (see the module docstring)."""
    if not isinstance(loan, Loan):
        raise InvalidInput("loan", loan, "expected a Loan")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise InvalidInput("event", event, "not a servicing event")
    check_product(loan, product)
    amount = getattr(event, "amount", None)
    if amount is not None and amount.currency != loan.currency:
        raise InvalidInput("amount", amount, f"expected {loan.currency}, the loan's currency")
    if _applied(loan, event.event_id):
        raise reject(RejectionCode.EVENT_ALREADY_APPLIED, event.event_id)
    if event.as_of < loan.last_date:
        raise reject(RejectionCode.EVENT_BEFORE_LAST, f"{event.as_of} is before {loan.last_date}")
    function, needs_active = handler
    after_payoff = loan.status is LoanStatus.PAID_OFF and isinstance(event, (Accrue, ChargeFee))
    if needs_active and loan.status is not LoanStatus.ACTIVE and not after_payoff:
        raise reject(RejectionCode.LOAN_NOT_ACTIVE, f"loan is {loan.status.value}")
    outcome = function(loan, product, event)
    if outcome.loan.last_date == event.as_of:  # a dated event's catch-up set it
        return outcome
    return attrs.evolve(outcome, loan=attrs.evolve(outcome.loan, last_date=event.as_of))
