"""The journal entries of settlement, built by the settlement posting templates.

| Step | Template | Dr | Cr |
|---|---|---|---|
| payout instructed (run) | ``payout.instructed`` | merchant payable (payment + fees) | clearing (payment); fee income (fees) |
| payout confirmed (channel file) | ``payout.confirmed`` | clearing | bank |
| payout failed (channel file) | ``payout.failed`` | clearing | merchant payable (owed again) |
| commission accrued (助贷) | ``commission.accrued`` | commission expense | commission payable |
| commission clawed back (refund) | ``commission.clawed_back`` | commission payable | commission expense |
| commission statement paid | ``commission.paid`` | commission payable | bank |

Each posting rule lives once, in :mod:`loancore.postings`; this module only turns settlement
values into events. Event ids are the line id (payouts), the accrual id or the statement id
(commission), so a re-run or a re-imported file derives the same keys and books nothing twice.
"""

from __future__ import annotations

import datetime

from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.money import Money
from loancore.postings import (
    DEFAULT_MAPPING,
    CommissionAccrued,
    CommissionClawedBack,
    CommissionPaid,
    PayoutConfirmed,
    PayoutFailed,
    PayoutInstructed,
    SubjectMapping,
    commission_accrued,
    commission_clawed_back,
    commission_paid,
    payout_confirmed,
    payout_failed,
    payout_instructed,
)
from loancore.settlement.facilitation import CommissionAccrual, CommissionStatement
from loancore.settlement.model import SettlementLine

__all__ = [
    "commission_accrual_entries",
    "commission_paid_entries",
    "confirmed_entries",
    "failed_entries",
    "instruction_entries",
]

Entries = tuple[JournalEntry, ...]


def instruction_entries(
    line: SettlementLine, run_date: datetime.date, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """Dr merchant payable (payment + fees); Cr clearing (payment), Cr fee income (fees).
    A line with neither payment nor fees books nothing."""
    event = PayoutInstructed(
        event_id=line.line_id,
        accounting_date=run_date,
        dimensions={"merchant": line.merchant_id},
        amount=line.payment,
        service_fee=line.fees,
    )
    return payout_instructed(event, mapping)


def confirmed_entries(
    line_id: str, merchant_id: str, day: datetime.date, amount: Money,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Entries:  # fmt: skip
    """The channel paid the merchant: Dr clearing, Cr bank."""
    event = PayoutConfirmed(
        event_id=line_id, accounting_date=day, dimensions={"merchant": merchant_id}, amount=amount
    )
    return payout_confirmed(event, mapping)


def failed_entries(
    line_id: str, merchant_id: str, day: datetime.date, amount: Money,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Entries:  # fmt: skip
    """The payout failed: Dr clearing, Cr merchant payable (owed again, paid in the next run)."""
    event = PayoutFailed(
        event_id=line_id, accounting_date=day, dimensions={"merchant": merchant_id}, amount=amount
    )
    return payout_failed(event, mapping)


def commission_accrual_entries(
    accrual: CommissionAccrual, mapping: SubjectMapping = DEFAULT_MAPPING
) -> Entries:
    """An accrual of :func:`~loancore.settlement.facilitation.accrue_commissions`: earned
    (positive) Dr commission expense, Cr commission payable; clawed back (negative) the other
    way round. Dimensions ``loan`` and ``partner`` (the platform)."""
    if not isinstance(accrual, CommissionAccrual):
        raise InvalidInput("accrual", accrual, "expected a CommissionAccrual")
    dimensions = {"loan": accrual.loan_id, "partner": accrual.platform_id}
    if accrual.amount.is_negative():
        back = CommissionClawedBack(
            event_id=accrual.accrual_id, accounting_date=accrual.on, dimensions=dimensions,
            amount=-accrual.amount,
        )  # fmt: skip
        return commission_clawed_back(back, mapping)
    earned = CommissionAccrued(
        event_id=accrual.accrual_id, accounting_date=accrual.on, dimensions=dimensions,
        amount=accrual.amount,
    )  # fmt: skip
    return commission_accrued(earned, mapping)


def commission_paid_entries(
    statement: CommissionStatement, paid_on: datetime.date,
    mapping: SubjectMapping = DEFAULT_MAPPING,
) -> Entries:  # fmt: skip
    """A statement's payable paid to the platform on ``paid_on``: Dr commission payable, Cr
    bank; a statement with nothing payable (its net carried forward) books nothing."""
    if not isinstance(statement, CommissionStatement):
        raise InvalidInput("statement", statement, "expected a CommissionStatement")
    event = CommissionPaid(
        event_id=statement.statement_id, accounting_date=paid_on,
        dimensions={"partner": statement.platform_id}, amount=statement.payable,
    )  # fmt: skip
    return commission_paid(event, mapping)
