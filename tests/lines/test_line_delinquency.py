"""Delinquency of a credit line on every store, through the loans' rules: days past due from the
oldest unpaid minimum (carried into later bills with its due date), the five-level class and
stage and the provision written into the line's standing by the day close, and a write-off
against the allowance with the loans' template; reconciled throughout."""

from __future__ import annotations

from datetime import date

import pytest
from lines_kit import cny, open_a1, state
from test_line_story import posted

from loancore.delinquency import RiskClass
from loancore.delinquency.daily import LoanStanding
from loancore.errors import DelinquencyRejected, RejectionCode, ServicingRejected
from loancore.ledger.entries import MemoRegister
from loancore.ports import UnitOfWork
from loancore.postings import Stage
from loancore.services import (
    apply_line_event,
    close_business_day,
    close_lines_day,
    reconcile,
    write_off_credit_line,
)
from loancore.services.end_of_day import credit_records
from loancore.servicing import Draw, Repay


def _standing(uow: UnitOfWork) -> LoanStanding:
    with uow:
        return uow.loans.load_standings(["A1"])["A1"]


def _assert_clean(uow: UnitOfWork) -> None:
    result = reconcile(uow)
    assert result.clean, result.problems()


def _late_line(uow: UnitOfWork) -> None:
    """10,000.00 drawn on 03-02 and nothing paid: bill 1 (03-10) has a minimum of 1,000.00 +
    8 days x 5.00 interest = 1,040.00 due 03-30; bill 2 (04-10) carries it and adds 1,210.46
    due 04-30 (1,000.00 principal, 155.00 interest, the 50.00 late fee, 5.46 penalty)."""
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("10000.00")))


def test_days_past_due_count_from_the_oldest_unpaid_minimum_and_classify_as_loans_do(
    uow: UnitOfWork,
) -> None:
    _late_line(uow)
    close_lines_day(uow, date(2026, 3, 10))
    standing = _standing(uow)
    # not due yet: 正常, stage 1, 1% of 10,040.00
    assert (standing.dpd, standing.history.current, standing.allowance) == (0, None, (10040, 0, 0))
    close_lines_day(uow, date(2026, 4, 10))
    with uow:
        account = uow.loans.load_line("A1").account
    assert account.minimums == ((date(2026, 3, 30), 104_000), (date(2026, 4, 30), 121_046))
    standing = _standing(uow)
    current = standing.history.current
    assert current is not None
    assert (standing.dpd, current.risk_class, current.stage) == (11, RiskClass.SPECIAL_MENTION, 1)
    close_lines_day(uow, date(2026, 5, 5))  # 36 days: stage 2 (more than 30), allowance moved
    standing = _standing(uow)
    assert standing.history.current is not None
    assert (standing.dpd, standing.history.current.stage) == (36, Stage.TWO)
    assert standing.allowance == (0, 20854, 0)
    _assert_clean(uow)

    # 1,100.00 pays the oldest minimum (1,040.00) and 60.00 of the next: due 04-30 now counts
    paid = apply_line_event(
        uow, "A1", Repay(event_id="r1", as_of=date(2026, 5, 6), amount=cny("1100.00"))
    )
    assert paid.account.minimums == ((date(2026, 4, 30), 115_046),)
    close_lines_day(uow, date(2026, 5, 7))
    standing = _standing(uow)
    assert standing.history.current is not None
    assert (standing.dpd, standing.history.current.stage, standing.allowance[0]) == (
        7,
        Stage.ONE,
        18679,
    )
    assert close_lines_day(uow, date(2026, 5, 7)).lines_closed == 0  # idempotent
    _assert_clean(uow)


def test_a_line_102_days_late_is_written_off_against_its_allowance(uow: UnitOfWork) -> None:
    _late_line(uow)
    apply_line_event(uow, "A1", Repay(event_id="r1", as_of=date(2026, 5, 6), amount=cny("1100")))
    for day in (date(2026, 6, 10), date(2026, 8, 10)):
        close_lines_day(uow, day)
    standing = _standing(uow)
    current = standing.history.current
    assert current is not None
    assert (standing.dpd, current.risk_class, current.stage) == (102, RiskClass.SUBSTANDARD, 3)
    assert standing.interest_suspended  # past 90 days: non-accrual since 07-30
    assert standing.allowance == (0, 0, 237_096)  # 25% of 9,333.84 + 150.00 (interest off books)

    gone = write_off_credit_line(uow, "A1", as_of=date(2026, 8, 11), event_id="wo1")
    with uow:
        ids = tuple(e.entry_id for e in uow.ledger.entries() if "wo1" in e.entry_id)
        memos = [
            (m.posting_id, m.register, m.amount)
            for m in uow.ledger.memo_postings()
            if "wo1" in m.posting_id
        ]
    assert posted(uow, ids) == {  # the day's interest stays off the books, as a loan's
        "provision.charged:wo1.topup": [
            ("6702", "debit", "7112.88"),
            ("1304.03", "credit", "7112.88"),
        ],
        "write_off:wo1": [
            ("1304.03", "debit", "9483.84"),
            ("1303.01", "credit", "9333.84"),
            ("1221", "credit", "150.00"),
        ],
    }
    off, written = MemoRegister.OFF_BALANCE_INTEREST, MemoRegister.WRITTEN_OFF_LOANS
    assert memos == [
        ("memo.interest.accrued:wo1", off, cny("4.67")),
        ("memo.write_off:wo1", written, cny("9483.84")),
        ("memo.write_off.interest:wo1", off, cny("501.03")),  # the interest pursued moves
        ("memo.write_off.interest:wo1.in", written, cny("501.03")),
    ]
    assert (gone.owed(), gone.principal_written_off, gone.written_off_on) == (
        0,
        933_384,
        date(2026, 8, 11),
    )
    standing = _standing(uow)
    assert (standing.allowance, standing.written_off) == ((0, 0, 0), 998_487)
    with uow:
        assert uow.quota.balance("Q1").used_minor == 933_384  # the debt stays used
    _assert_clean(uow)

    before = state(uow)
    assert write_off_credit_line(uow, "A1", as_of=date(2026, 8, 11), event_id="wo1") == gone
    with pytest.raises(DelinquencyRejected) as again:
        write_off_credit_line(uow, "A1", as_of=date(2026, 8, 12), event_id="wo2")
    assert again.value.code is RejectionCode.LOAN_NOT_ACTIVE
    with pytest.raises(ServicingRejected) as refused:
        apply_line_event(uow, "A1", Draw(event_id="d2", as_of=date(2026, 8, 12), amount=cny("1")))
    assert refused.value.code is RejectionCode.LOAN_NOT_ACTIVE
    assert state(uow) == before
    closed = close_lines_day(uow, date(2026, 9, 30))  # nothing accrues, nothing fails
    assert (closed.lines_closed, closed.entries, closed.failed) == (1, 0, ())
    with uow:  # no record a day for a written-off account: its standing alone moves
        assert uow.loans.load_line("A1").account == gone
        assert uow.loans.load_standings(["A1"])["A1"].closed_through == date(2026, 9, 30)
    _assert_clean(uow)


def test_a_line_owing_nothing_is_not_written_off(uow: UnitOfWork) -> None:
    open_a1(uow)
    before = state(uow)
    with pytest.raises(DelinquencyRejected) as refused:
        write_off_credit_line(uow, "A1", as_of=date(2026, 3, 5), event_id="wo1")
    assert refused.value.code is RejectionCode.NOTHING_TO_WRITE_OFF
    assert state(uow) == before


def test_a_line_s_standing_reaches_the_quota_policy_s_credit_record(uow: UnitOfWork) -> None:
    _late_line(uow)
    close_business_day(uow, date(2026, 4, 10))
    with uow:
        standings = uow.loans.standings()
    assert [s.loan_id for s in standings] == ["A1"]
    record = credit_records(standings)["C1"]
    assert (record.days_past_due, record.written_off) == (11, False)
