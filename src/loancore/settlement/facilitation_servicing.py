"""A traffic platform's commission (助贷) on a servicing loan: the loan's history as the
:class:`~loancore.settlement.facilitation.LoanActivity` values commission follows (pure).

- the first disbursement: ``DISBURSED`` of the principal disbursed (a payout that failed and
  was made again counts once);
- every repayment, prepayment, payoff and credit applied: ``INTEREST_COLLECTED`` of the
  contract interest it paid (its allocation lines; penalty and compound interest are not
  interest the platform earns on);
- a payment reversed: ``INTEREST_REVERSED`` of the interest it had paid (its replays, ``~``
  ids, are collections of their own);
- a merchant refund that cancelled the loan (the loan's last refund, the loan cancelled):
  ``REFUNDED``, which claws back everything accrued;
- any other merchant refund: ``PRINCIPAL_REFUNDED`` of the principal it took back, which claws
  back in proportion (:mod:`loancore.settlement.facilitation`).

Activity ids are ``<loan id>:<servicing event id>`` (``.reversed`` for a reversal), so the
accruals of :func:`~loancore.settlement.facilitation.accrue_commissions` over the same history
have the same ids, amounts and keys: the services post them all after each event and the
ledger books each once.
"""

from __future__ import annotations

import datetime

from loancore.money import Money
from loancore.servicing.loan import HISTORY_MAX, Loan, LoanStatus, Transaction, TransactionKind
from loancore.settlement.facilitation import LoanActivity, LoanActivityKind
from loancore.settlement.joint_servicing import COLLECTION_KINDS

__all__ = ["loan_activities"]


def _interest(txn: Transaction) -> int:
    return sum(minor for _n, value, minor in txn.lines if value == "interest")


def _activity(
    loan: Loan, event_id: str, on: datetime.date, kind: LoanActivityKind, minor: int
) -> LoanActivity:
    return LoanActivity(
        activity_id=f"{loan.loan_id}:{event_id}",
        loan_id=loan.loan_id,
        kind=kind,
        on=on,
        amount=Money.from_minor(minor, loan.currency),
    )


def loan_activities(loan: Loan) -> tuple[LoanActivity, ...]:
    """What commission follows in ``loan``'s history, in order (module docstring)."""
    history = loan.history
    if len(history) > HISTORY_MAX:  # a Loan checks it too; the loop below relies on it
        return ()
    activities: list[LoanActivity] = []
    disbursed = False
    refunds = [t for t in history if t.kind is TransactionKind.MERCHANT_REFUND]
    for txn in history:  # bounded above
        if txn.kind is TransactionKind.DISBURSED and not disbursed:
            disbursed = True
            kind, minor = LoanActivityKind.DISBURSED, loan.principal_disbursed
            activities.append(_activity(loan, txn.event_id, txn.as_of, kind, minor))
        elif txn.kind in COLLECTION_KINDS and _interest(txn):
            kind, minor = LoanActivityKind.INTEREST_COLLECTED, _interest(txn)
            activities.append(_activity(loan, txn.event_id, txn.as_of, kind, minor))
        elif txn.kind is TransactionKind.PAYMENT_REVERSED:
            kind = LoanActivityKind.INTEREST_REVERSED
            activities += [
                _activity(loan, f"{undone.event_id}.reversed", txn.as_of, kind, _interest(undone))
                for undone in history  # the payments it undid, in their order
                if undone.reversed_by == txn.event_id and _interest(undone)
            ]
        elif txn.kind is TransactionKind.MERCHANT_REFUND:
            cancelled = loan.status is LoanStatus.CANCELLED and txn is refunds[-1]
            kind = LoanActivityKind.REFUNDED if cancelled else LoanActivityKind.PRINCIPAL_REFUNDED
            minor = 0 if cancelled else txn.amount
            activities.append(_activity(loan, txn.event_id, txn.as_of, kind, minor))
    return tuple(activities)
