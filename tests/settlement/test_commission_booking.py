"""A traffic platform's commission booked through the commission templates: accruals, the
clawback of a refunded loan and the statement's payment leave the platform's payable at what
the statement carries forward, and the expense at what was earned net of clawbacks."""

from __future__ import annotations

import datetime

import pytest

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.errors import InvalidInput
from loancore.ledger import default_chart
from loancore.money import Rounding
from loancore.services import Ledger
from loancore.settlement import (
    CommissionState,
    CommissionTerms,
    LoanActivity,
    LoanActivityKind,
    accrue_commissions,
    commission_accrual_entries,
    commission_paid_entries,
    commission_statement,
)
from loancore.testing.settlement import cny

D = datetime.date
TERMS = CommissionTerms(
    platform_id="P", basis="principal_disbursed", rate="0.02", rounding=Rounding.HALF_UP
)


def activity(n: int, loan: str, kind: LoanActivityKind, fen: int, day: int) -> LoanActivity:
    return LoanActivity(
        activity_id=f"A{n}", loan_id=loan, kind=kind, on=D(2025, 10, day), amount=cny(fen)
    )


def test_accruals_clawback_and_payment_leave_the_payable_at_the_statement_figures() -> None:
    books = Ledger(MemoryLedgerStore(default_chart()))
    accruals, _state = accrue_commissions(
        TERMS,
        [
            activity(1, "L1", LoanActivityKind.DISBURSED, 1_000_000, 1),  # 200.00
            activity(2, "L2", LoanActivityKind.DISBURSED, 500_000, 2),  # 100.00
            activity(3, "L2", LoanActivityKind.REFUNDED, 0, 3),  # -100.00
        ],
        CommissionState(),
    )
    for accrual in accruals:
        books.post(*commission_accrual_entries(accrual))
    kinds = [e.entry_id.split(":")[0] for a in accruals for e in commission_accrual_entries(a)]
    assert kinds == ["commission.accrued", "commission.accrued", "commission.clawed_back"]
    statement = commission_statement(
        "P", D(2025, 10, 1), D(2025, 10, 31), accruals=accruals, carried_in=cny(0)
    )
    books.post(*commission_paid_entries(statement, D(2025, 11, 5)))
    books.post(*commission_paid_entries(statement, D(2025, 11, 5)))  # replayed: booked once
    platform = {"partner": "P"}
    as_of = D(2025, 11, 30)
    assert books.balance("6421", "CNY", as_of=as_of, dimensions=platform) == cny(20_000)
    assert books.balance("2202", "CNY", as_of=as_of, dimensions=platform) == cny(0)
    assert books.balance("1002", "CNY", as_of=as_of) == cny(-20_000)


def test_a_statement_with_nothing_payable_books_nothing() -> None:
    accruals, _state = accrue_commissions(
        TERMS, [activity(1, "L1", LoanActivityKind.DISBURSED, 1_000_000, 1)], CommissionState()
    )
    statement = commission_statement(
        "P", D(2025, 10, 1), D(2025, 10, 31), accruals=accruals, carried_in=cny(-50_000)
    )
    assert commission_paid_entries(statement, D(2025, 11, 5)) == ()
    with pytest.raises(InvalidInput, match="statement"):
        commission_paid_entries(accruals[0], D(2025, 11, 5))  # type: ignore[arg-type]
