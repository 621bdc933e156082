"""A hypothesis state machine interleaving servicing events, end-of-day runs (some days skipped),
write-offs and recoveries on a memory book, checking after every step that the books reconcile:

- ``reconcile`` is clean: the trial balance balances, every loan's figures equal the ledger's
  (a non-accrual loan's interest is off the books), every quota line's use equals its loans';
- per loan, 表外应收未收利息 holds the loan's interest exactly while it is non-accrual (else 0),
  已核销贷款 holds what the standing says, and the allowance in 1304.01-03 equals the standing's;
- no loan is closed twice: every standing's watermark is the last business date run (or the
  day the loan left the book).
"""

from __future__ import annotations

from datetime import date, timedelta

from eod_kit import START, cny, set_up
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.delinquency import interest_on_books
from loancore.errors import Rejected
from loancore.ledger.entries import MemoRegister
from loancore.services import (
    apply_event,
    book_order,
    close_business_day,
    reconcile,
    recover_loan,
    write_off_loan,
)
from loancore.servicing import LoanStatus, Repay

LATER = date(2031, 1, 1)
LOANS_MAX = 3


class EndOfDayMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.uow = MemoryUnitOfWork()
        set_up(self.uow)
        self.today = START  # the business day open; everything before it is closed
        self.loans: list[str] = []
        self.events = 0

    def _id(self, prefix: str) -> str:
        self.events += 1
        return f"{prefix}{self.events}"

    @precondition(lambda self: len(self.loans) < LOANS_MAX)
    @rule(principal=st.sampled_from(["1000.00", "2400.00", "12000.00"]))
    def book(self, principal: str) -> None:
        loan_id = f"L{len(self.loans)}"
        book_order(
            self.uow,
            order_id=f"order-{loan_id}",
            loan_id=loan_id,
            customer_id="C1",
            line_id="LINE1",
            product_id="story" if len(self.loans) % 2 == 0 else "clinic-12",
            product_version=1,
            principal=cny(principal),
            installments=12,
            start_date=self.today,
            merchant_id="M1",
        )
        self.loans.append(loan_id)

    @rule(skipped=st.sampled_from([0, 0, 0, 2, 9, 29, 60]))
    def close_day(self, skipped: int) -> None:
        """Close today (after ``skipped`` days no batch ran), open the next day."""
        self.today += timedelta(days=skipped)
        report = close_business_day(self.uow, self.today, chunk_size=2)
        assert report.failed == ()
        self.today += timedelta(days=1)

    @precondition(lambda self: self.loans)
    @rule(
        which=st.integers(0, LOANS_MAX - 1), amount=st.sampled_from(["50.00", "400.00", "3000.00"])
    )
    def repay(self, which: int, amount: str) -> None:
        loan_id = self.loans[which % len(self.loans)]
        try:
            apply_event(
                self.uow,
                loan_id,
                Repay(event_id=self._id("r"), as_of=self.today, amount=cny(amount)),
            )
        except Rejected:
            pass  # paid off or written off: refused, nothing changed

    @precondition(lambda self: self.loans)
    @rule(which=st.integers(0, LOANS_MAX - 1))
    def write_off(self, which: int) -> None:
        loan_id = self.loans[which % len(self.loans)]
        try:
            write_off_loan(self.uow, loan_id, as_of=self.today, event_id=self._id("wo"))
        except Rejected:
            pass

    @precondition(lambda self: self.loans)
    @rule(which=st.integers(0, LOANS_MAX - 1), amount=st.sampled_from(["10.00", "500.00"]))
    def recover(self, which: int, amount: str) -> None:
        loan_id = self.loans[which % len(self.loans)]
        try:
            recover_loan(self.uow, loan_id, cny(amount), as_of=self.today, event_id=self._id("rc"))
        except Rejected:
            pass

    @invariant()
    def books_reconcile(self) -> None:
        result = reconcile(self.uow)
        assert result.clean, result.problems()

    @invariant()
    def registers_and_allowances_agree_with_the_standings(self) -> None:
        with self.uow:
            loans = self.uow.loans.load_many(self.loans)
            standings = self.uow.loans.load_standings(self.loans)
            for loan_id, standing in standings.items():
                loan = loans[loan_id]
                dims = {"loan": loan_id}
                off = self.uow.ledger.memo_balance(
                    MemoRegister.OFF_BALANCE_INTEREST, "CNY", as_of=LATER, dimensions=dims
                ).minor_units
                wanted = interest_on_books(loan).total if standing.interest_suspended else 0
                assert off == wanted, (loan_id, off, wanted)
                written = self.uow.ledger.memo_balance(
                    MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=LATER, dimensions=dims
                ).minor_units
                assert written == standing.written_off
                allowance = tuple(
                    self.uow.ledger.balance(code, "CNY", as_of=LATER, dimensions=dims).minor_units
                    for code in ("1304.01", "1304.02", "1304.03")
                )
                assert allowance == standing.allowance, (loan_id, allowance, standing.allowance)
                if loan.status is LoanStatus.ACTIVE and standing.closed_through is not None:
                    assert standing.closed_through < self.today


TestEndOfDayMachine = EndOfDayMachine.TestCase
TestEndOfDayMachine.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
