"""The whole settlement cycle booked into a real (memory) ledger: orders, a refund after payout,
a failed payout retried, confirmations, and every step posted twice to show it books once."""

from __future__ import annotations

import datetime

import pytest
from settlement_support import at, t1

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.calendar import BusinessCalendar
from loancore.errors import IdempotencyConflict
from loancore.ledger import default_chart
from loancore.ledger.entries import JournalEntry, Leg
from loancore.postings import DEFAULT_MAPPING, MerchantDisbursement, entries_for
from loancore.services import Ledger
from loancore.settlement import (
    Capture,
    Deduction,
    parse_result_csv,
    reconcile,
    run_settlement,
)
from loancore.testing.settlement import cny

D = datetime.date
M = DEFAULT_MAPPING
TERMS = {"M1": t1("M1")}


def book(ledger: Ledger, entries: tuple[JournalEntry, ...]) -> None:
    ledger.post(*entries)
    ledger.post(*entries)  # a re-run or a re-imported file: the keys make it a no-op


def loan_booked(ledger: Ledger, order: Capture) -> None:
    event = MerchantDisbursement(
        event_id=f"loan:{order.order_id}", accounting_date=order.captured_at.date(),
        dimensions={"loan": order.order_id, "merchant": order.merchant_id}, principal=order.amount,
    )  # fmt: skip
    ledger.post(*entries_for(event))


def refund_booked(ledger: Ledger, refund: Deduction) -> None:
    """Servicing's entry for a refund (the loan cancelled, the merchant owes it back); written
    out here because that template belongs to servicing."""
    dims = {"loan": refund.order_id, "merchant": refund.merchant_id}
    ledger.post(
        JournalEntry(
            entry_id=f"refund:{refund.deduction_id}",
            idempotency_key=f"refund:{refund.deduction_id}",
            accounting_date=refund.occurred_at.date(),
            legs=(
                Leg.debit(M.merchant_payable, refund.amount, dims),
                Leg.credit(M.principal, refund.amount, dims),
            ),
        )
    )


def payable(ledger: Ledger, day: datetime.date) -> int:
    """What the lender owes M1 on 2202 (credit-normal: positive is owed)."""
    return ledger.balance(
        M.merchant_payable, "CNY", as_of=day, dimensions={"merchant": "M1"}
    ).minor_units


def test_settlement_cycle_in_the_ledger(cn: BusinessCalendar) -> None:
    ledger = Ledger(MemoryLedgerStore(default_chart()))
    o1 = Capture(order_id="O1", merchant_id="M1", amount=cny(100_000), captured_at=at(2025, 10, 13))
    loan_booked(ledger, o1)
    run1 = run_settlement(D(2025, 10, 14), channel="c", calendar=cn, terms=TERMS, captures=[o1])
    book(ledger, run1.entries)
    day1 = D(2025, 10, 14)
    assert payable(ledger, day1) == 0
    # 3001 is debit-normal: the payout in transit is a credit until the channel answers.
    assert ledger.balance(M.clearing, "CNY", as_of=day1).minor_units == -99_400
    file1 = "batch_id,line_id,amount,status\nc:2025-10-14,c:2025-10-14:M1,994.00,FAILED\n"
    rec1 = reconcile(run1.batch, parse_result_csv(file1), booked_on=D(2025, 10, 15))
    book(ledger, rec1.entries)
    assert payable(ledger, D(2025, 10, 15)) == 99_400  # owed again
    # O1 refunded after it was (to be) paid; O2 captured; the failed payout retried.
    refund = Deduction(
        deduction_id="R1", kind="refund", merchant_id="M1", order_id="O1", amount=cny(100_000),
        occurred_at=at(2025, 10, 14, 16),
    )  # fmt: skip
    refund_booked(ledger, refund)
    o2 = Capture(order_id="O2", merchant_id="M1", amount=cny(30_000), captured_at=at(2025, 10, 14))
    loan_booked(ledger, o2)
    run2 = run_settlement(
        D(2025, 10, 15), channel="c", calendar=cn, terms=TERMS, captures=[o2],
        deductions=[refund], retries=rec1.retries,
    )  # fmt: skip
    book(ledger, run2.entries)
    (line,) = run2.batch.lines
    # 994.00 retried + 300.00 captured - 1.80 fee - 1,000.00 refunded = 292.20
    assert line.payment == cny(29_220) and run2.carry_forward == ()
    file2 = "batch_id,line_id,amount,status\nc:2025-10-15,c:2025-10-15:M1,292.20,SUCCESS\n"
    book(ledger, reconcile(run2.batch, parse_result_csv(file2), booked_on=D(2025, 10, 16)).entries)
    end = D(2025, 10, 16)
    assert payable(ledger, end) == 0
    assert ledger.balance(M.clearing, "CNY", as_of=end).minor_units == 0
    assert ledger.balance(M.bank, "CNY", as_of=end).minor_units == -29_220
    assert ledger.balance(M.fee_income, "CNY", as_of=end).minor_units == 600 + 180
    assert ledger.audit() == []


def test_a_second_run_of_a_date_with_other_inputs_is_refused_by_the_ledger(
    cn: BusinessCalendar,
) -> None:
    ledger = Ledger(MemoryLedgerStore(default_chart()))
    o1 = Capture(order_id="O1", merchant_id="M1", amount=cny(100_000), captured_at=at(2025, 10, 13))
    o2 = Capture(order_id="O2", merchant_id="M1", amount=cny(5_000), captured_at=at(2025, 10, 13))
    day = D(2025, 10, 14)
    ledger.post(*run_settlement(day, channel="c", calendar=cn, terms=TERMS, captures=[o1]).entries)
    other = run_settlement(day, channel="c", calendar=cn, terms=TERMS, captures=[o1, o2])
    with pytest.raises(IdempotencyConflict):
        ledger.post(*other.entries)
