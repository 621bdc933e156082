"""Lines in the whole book: the business day closes the credit lines between the loans and the
quota, and the book-level ``reconcile`` covers every account (its ledger balances) and counts
the accounts' principal on a quota line shared with installment loans."""

from __future__ import annotations

from datetime import date

from lines_kit import cny, open_a1

from loancore.ledger.entries import JournalEntry, Leg
from loancore.ledger.subjects import Side
from loancore.ports import UnitOfWork
from loancore.services import (
    apply_line_event,
    book_order,
    close_business_day,
    line_statements,
    reconcile,
)
from loancore.servicing import Draw, Repay
from loancore.testing.servicing import CLINIC_PRODUCT_TOML


def _book_loan(uow: UnitOfWork) -> None:
    with uow:
        uow.loans.save_product(CLINIC_PRODUCT_TOML)
        uow.commit()
    book_order(
        uow,
        order_id="order-L1",
        loan_id="L1",
        customer_id="C1",
        line_id="Q1",  # the same quota line as the credit-line account
        product_id="clinic-12",
        product_version=1,
        principal=cny("6000.00"),
        installments=12,
        start_date=date(2026, 3, 1),
        merchant_id="M1",
    )


def _assert_clean(uow: UnitOfWork, loan_id: str | None = None) -> None:
    result = reconcile(uow, loan_id)
    assert result.clean, result.problems()


def test_the_business_day_closes_lines_and_reconcile_covers_loans_and_lines_on_one_quota_line(
    uow: UnitOfWork,
) -> None:
    _book_loan(uow)
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00")))
    _assert_clean(uow)
    report = close_business_day(uow, date(2026, 3, 11))
    assert report.lines is not None
    assert (report.lines.lines_closed, report.lines.statements, report.lines.failed) == (1, 1, ())
    assert report.lines.entries > 0
    assert [s.number for s in line_statements(uow, "A1")] == [1]
    with uow:
        assert uow.loans.load_line("A1").account.last_date == date(2026, 3, 11)
    result = reconcile(uow)
    assert result.clean, result.problems()
    assert {check.account_id for check in result.credit_lines} == {"A1"}
    (quota,) = result.lines
    assert quota.line_id == "Q1"
    assert quota.principal_outstanding == 600_000 + 90_000  # the loan's and the account's
    _assert_clean(uow, "L1")  # one loan: its quota line counts the account too
    again = close_business_day(uow, date(2026, 3, 11))
    assert again.lines is not None and (again.lines.lines_closed, again.lines.entries) == (0, 0)
    apply_line_event(uow, "A1", Repay(event_id="r1", as_of=date(2026, 3, 12), amount=cny("950.00")))
    _assert_clean(uow)


def test_reconcile_reports_a_ledger_entry_the_account_does_not_know(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("900.00")))
    stray = JournalEntry(
        entry_id="stray",
        idempotency_key="stray",
        accounting_date=date(2026, 3, 3),
        legs=(
            Leg("1303.01", Side.DEBIT, cny("1.00"), dimensions={"loan": "A1"}),
            Leg("1002", Side.CREDIT, cny("1.00")),
        ),
    )
    with uow:
        uow.ledger.post([stray])
        uow.commit()
    result = reconcile(uow)
    assert not result.clean
    expected = (
        "credit line LineBalanceCheck(account_id='A1', subject_code='1303.01', "
        "expected_minor=90000, ledger_minor=90100)"
    )
    assert result.problems() == [expected]
