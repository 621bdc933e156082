"""Stories of the end-of-day batch on every store, with exact entries.

The loan: 12,000.00 CNY, 12 x 1,100.16 at 18% (equal installments), booked 2026-01-15, first due
2026-02-15, grace 3 days, penalty 1.5 x 18% = 27% a year ACT/360 on unpaid principal (product
``story`` of eod_kit), never paid. Hand checks for 2026-05-17, the first day more than 90 days
past due (DPD 91):

- contract interest receivable of installments 1-4: 180.00 + 166.20 + 152.19 + 137.97 = 636.36;
  installment 5 (123.54 over 31 days) accrued 2 days: 123.54 x 2 / 31 = 7.97; on the books
  644.33;
- penalty, closed day by day (each catch-up rounds): installment 1 (920.16): 4 days on 02-19
  920.16 x 0.27 x 4/360 = 2.76, then 0.69 a day for 87 days = 60.03, together 62.79;
  installment 2 (933.96): 2.80 + 0.70 x 59 = 44.10; installment 3 (947.97): 2.84 + 0.71 x 28 =
  22.72; installment 4 still in grace. 129.61 in all;
- so 773.94 leaves income into 表外应收未收利息.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from eod_kit import (
    START,
    assert_clean,
    balance,
    book,
    cny,
    days,
    entries_of,
    legs,
    memos_of,
)

from loancore.delinquency import RiskClass, overdue_installments
from loancore.ledger.entries import MemoRegister
from loancore.ports import UnitOfWork
from loancore.postings import Stage
from loancore.quota import LineStatus
from loancore.services import (
    apply_batch,
    apply_event,
    close_business_day,
    recover_loan,
    sell_loan,
    write_off_loan,
)
from loancore.servicing import LoanStatus, Repay
from loancore.servicing.accrual import catch_up

DPD_91 = date(2026, 5, 17)
DAY_100 = date(2026, 5, 26)


def close_days(uow: UnitOfWork, first: date, last: date) -> None:
    for day in days(first, last):
        report = close_business_day(uow, day)
        assert report.failed == ()


def memo(uow: UnitOfWork, register: MemoRegister, loan_id: str = "L1") -> str:
    with uow:
        amount = uow.ledger.memo_balance(
            register, "CNY", as_of=date(2031, 1, 1), dimensions={"loan": loan_id}
        )
    return str(amount.amount)


def standing(uow: UnitOfWork, loan_id: str = "L1"):  # type: ignore[no-untyped-def]
    with uow:
        return uow.loans.load_standings([loan_id])[loan_id]


def test_100_days_late_non_accrual_then_cured_books_every_entry_exactly(uow: UnitOfWork) -> None:
    book(uow, "L1")
    close_days(uow, START, DPD_91 - timedelta(days=1))
    # 1132 holds the interest receivable and the penalty: 636.36 + (129.61 - one day's 2.10)
    assert balance(uow, "1132", "L1") == cny("763.87")
    assert standing(uow).interest_suspended is False
    close_days(uow, DPD_91, DPD_91)
    assert legs(uow, "interest.due:eod20260517-L1.due.back") == [
        ("1132", "credit", "636.36"),
        ("1303.03", "debit", "636.36"),
    ]
    assert legs(uow, "interest.accrued:eod20260517-L1.interest.back") == [
        ("1303.03", "credit", "644.33"),
        ("6011", "debit", "644.33"),
    ]
    assert legs(uow, "interest.accrued:eod20260517-L1.penalty.back") == [
        ("1132", "credit", "129.61"),
        ("6011", "debit", "129.61"),
    ]
    assert memo(uow, MemoRegister.OFF_BALANCE_INTEREST) == "773.94"
    assert balance(uow, "1132", "L1") == cny("0.00")
    assert balance(uow, "1303.03", "L1") == cny("0.00")
    # 次级 at 25% of the exposure (principal only: the interest is off the books), in stage 3
    assert standing(uow).allowance == (0, 0, 300_000)
    assert balance(uow, "1304.03", "L1") == cny("3000.00")  # on its normal side, credit
    assert_clean(uow)

    # While non-accrual, interest accrues in the register only: 05-18 adds installment 5's day
    # (123.54 / 31 = 3.99, 7.97 -> 11.96) and the penalty day (0.69 + 0.70 + 0.71 = 2.10).
    close_days(uow, DPD_91 + timedelta(days=1), DPD_91 + timedelta(days=1))
    assert "interest.accrued:eod20260518-L1.accrue" not in entries_of(uow)
    assert memos_of(uow)["memo.interest.accrued:eod20260518-L1"] == (
        "off_balance_interest",
        "increase",
        399 + 210,
    )
    close_days(uow, DPD_91 + timedelta(days=2), DAY_100 - timedelta(days=1))

    # The borrower pays everything past due on day 100; cash for interest is income on receipt.
    with uow:
        stored = uow.loans.load("L1")
        product = uow.loans.product(stored.product_id, stored.product_version)
    loan, _entries = catch_up(stored, product, DAY_100, "probe")  # what day 100 will show
    owed = sum(i.outstanding() for i in overdue_installments(loan, DAY_100))
    paid = apply_event(uow, "L1", Repay(event_id="r1", as_of=DAY_100, amount=loan.money(owed)))
    assert paid.outcome is not None
    received = {e.entry_id for e in paid.outcome.entries}
    assert {"interest.accrued:r1.interest", "interest.due:r1.due", "repayment:r1"} <= received
    assert_clean(uow)
    close_days(uow, DAY_100, DAY_100)
    # Cured: the interest still owed (installment 5 accrued 11 days: 123.54 x 11 / 31 = 43.84)
    # comes back onto the books and the register falls to zero.
    assert legs(uow, "interest.accrued:eod20260526-L1.interest") == [
        ("1303.03", "debit", "43.84"),
        ("6011", "credit", "43.84"),
    ]
    assert memo(uow, MemoRegister.OFF_BALANCE_INTEREST) == "0.00"
    after = standing(uow)
    assert after.interest_suspended is False and after.dpd == 0
    reasons = [(c.as_of, c.reason.split(" (")[0]) for c in after.history.changes]
    assert reasons == [
        (date(2026, 2, 19), "bucket M0 -> M1, class 正常 -> 关注"),
        (date(2026, 3, 18), "bucket M1 -> M2, stage 1 -> 2"),
        (date(2026, 4, 17), "bucket M2 -> M3"),
        (DPD_91, "bucket M3 -> M4, class 关注 -> 次级, stage 2 -> 3, non-accrual"),
        (DAY_100, "bucket M4 -> M0, class 次级 -> 正常, stage 3 -> 1, accrual resumed"),
    ]
    assert after.allowance[2] == 0 and after.allowance[0] > 0
    assert_clean(uow)


def test_written_off_then_partly_recovered(uow: UnitOfWork) -> None:
    book(uow, "L1")
    close_days(uow, START, DAY_100)
    written = write_off_loan(uow, "L1", as_of=DAY_100 + timedelta(days=1), event_id="wo1")
    assert written.status is LoanStatus.WRITTEN_OFF
    assert written.principal_written_off() == 1_200_000
    assert sum(i.penalty.written_off for i in written.installments) > 0
    # the stage-3 allowance held 3,000.00 (25%); the write-off tops it up to the principal
    assert legs(uow, "provision.charged:wo1.topup") == [
        ("1304.03", "credit", "9000.00"),
        ("6702", "debit", "9000.00"),
    ]
    assert legs(uow, "write_off:wo1") == [
        ("1303.01", "credit", "12000.00"),
        ("1304.03", "debit", "12000.00"),
    ]
    off_balance = standing(uow).written_off - 1_200_000
    assert off_balance > 0 and memo(uow, MemoRegister.OFF_BALANCE_INTEREST) == "0.00"
    recover_loan(uow, "L1", cny("2000.00"), as_of=date(2026, 6, 30), event_id="rec1")
    assert legs(uow, "recovery:rec1") == [
        ("1304.03", "credit", "2000.00"),
        ("3001", "debit", "2000.00"),
    ]
    assert legs(uow, "provision.released:rec1.release.stage3") == [
        ("1304.03", "debit", "2000.00"),
        ("6702", "credit", "2000.00"),
    ]
    assert balance(uow, "6702", "L1") == cny("10000.00")
    for code in ("1304.01", "1304.02", "1304.03", "1303.01", "1303.03", "1132"):
        assert balance(uow, code, "L1") == cny("0.00"), code
    register = standing(uow).written_off
    assert memo(uow, MemoRegister.WRITTEN_OFF_LOANS) == str(
        cny("0").from_minor(register, "CNY").amount
    )
    assert register == 1_000_000 + off_balance
    assert_clean(uow)
    # the written-off loan is not closed again by the batch, and the write-off is not repeated
    report = close_business_day(uow, date(2026, 7, 1))
    assert report.loans_closed == 0
    again = write_off_loan(uow, "L1", as_of=DAY_100 + timedelta(days=1), event_id="wo1")
    assert again == written


def test_sold_at_30_percent_of_principal(uow: UnitOfWork) -> None:
    book(uow, "L1")
    close_days(uow, START, DAY_100)
    sold = sell_loan(uow, "L1", cny("3600.00"), as_of=DAY_100, event_id="sale1")
    assert sold.status is LoanStatus.SOLD
    assert legs(uow, "loan.sold:sale1") == [
        ("1002", "debit", "3600.00"),
        ("1303.01", "credit", "12000.00"),
        ("1304.03", "debit", "3000.00"),
        ("6702", "debit", "5400.00"),
    ]
    assert balance(uow, "6702", "L1") == cny("8400.00")  # 12,000.00 - 3,600.00
    assert memo(uow, MemoRegister.OFF_BALANCE_INTEREST) == "0.00"
    with uow:
        assert uow.quota.line("LINE1").status is LineStatus.CLOSED
    assert_clean(uow)


def _five_day_gap(kind: str, make: Callable[..., UnitOfWork], daily: bool) -> UnitOfWork:
    uow = make(kind)
    book(uow, "L1")
    book(uow, "L2", principal="3000.00", product="clinic-12")
    last = date(2026, 3, 1)  # crosses the first due date, into the penalty days
    close_days(uow, START, last - timedelta(days=5))
    if daily:
        close_days(uow, last - timedelta(days=4), last)
    else:
        report = close_business_day(uow, last)
        assert (report.loans_closed, report.days_closed) == (2, 10)
    return uow


def test_a_gap_of_5_days_is_caught_up_day_by_day(
    kind: str, make: Callable[..., UnitOfWork]
) -> None:
    daily = _five_day_gap(kind, make, daily=True)
    gap = _five_day_gap(kind, make, daily=False)
    assert entries_of(gap) == entries_of(daily)
    assert memos_of(gap) == memos_of(daily)
    assert "interest.accrued:eod20260227-L1.penalty" in entries_of(gap)
    assert standing(gap) == standing(daily)
    assert_clean(gap)


def _repay_on_day(
    kind: str, make: Callable[..., UnitOfWork], behind: int, *, batch: bool = False
) -> UnitOfWork:
    uow = make(kind)
    book(uow, "L1")
    day = date(2026, 2, 25)  # installment 1 is 10 days late
    close_days(uow, START, day - timedelta(days=1 + behind))
    repay = Repay(event_id="r1", as_of=day, amount=cny("1100.16"))
    if batch:
        assert apply_batch(uow, [("L1", repay)]).applied == ("r1",)
    else:
        apply_event(uow, "L1", repay)
    close_days(uow, day, day)
    return uow


@pytest.mark.parametrize("batch", [False, True], ids=["apply_event", "apply_batch"])
def test_a_repayment_for_a_loan_3_days_behind_first_closes_those_days(
    kind: str, make: Callable[..., UnitOfWork], batch: bool
) -> None:
    timely = _repay_on_day(kind, make, behind=0)
    behind = _repay_on_day(kind, make, behind=3, batch=batch)
    assert entries_of(behind) == entries_of(timely)
    for day in ("20260222", "20260223", "20260224"):
        assert f"interest.accrued:eod{day}-L1.penalty" in entries_of(behind)
    assert standing(behind) == standing(timely)
    assert_clean(behind)


def test_running_a_date_twice_posts_nothing(uow: UnitOfWork) -> None:
    book(uow, "L1")
    close_days(uow, START, date(2026, 2, 20))
    before = (entries_of(uow), memos_of(uow), standing(uow))
    again = close_business_day(uow, date(2026, 2, 20))
    assert (again.loans_closed, again.days_closed, again.entries) == (0, 0, 0)
    assert (entries_of(uow), memos_of(uow), standing(uow)) == before
    # the class the quota policy reads
    assert standing(uow).history.current is not None
    assert standing(uow).history.current.risk_class is RiskClass.SPECIAL_MENTION
    assert standing(uow).history.current.stage is Stage.ONE


def test_a_non_accrual_loan_paid_beyond_what_is_due_keeps_the_coming_interest_off_the_books(
    uow: UnitOfWork,
) -> None:
    """Day 100 of the loan above (non-accrual), the borrower pays everything past due and
    500.00 more, which goes to installment 5, not due yet. Paying its interest early accrues the
    rest of the period's interest ahead of time (``forward.accrue``) and moves it to receivable
    (``forward.due``); on a non-accrual loan both stay off the books: the interest accrued ahead
    is registered in 表外应收未收利息 with the day's, and all the interest paid is income on
    receipt, taken off the register. (Before, the early interest was booked as income on top of
    the income on receipt and the register was taken below zero: the ledger refused the payment,
    MEMO_BALANCE_INSUFFICIENT.)"""
    book(uow, "L1")
    close_days(uow, START, DAY_100 - timedelta(days=1))
    assert standing(uow).interest_suspended is True
    before = memo(uow, MemoRegister.OFF_BALANCE_INTEREST)
    with uow:
        stored = uow.loans.load("L1")
        product = uow.loans.product(stored.product_id, stored.product_version)
    loan, _entries = catch_up(stored, product, DAY_100, "probe")
    owed = sum(i.outstanding() for i in overdue_installments(loan, DAY_100))
    amount = loan.money(owed) + cny("500.00")
    paid = apply_event(uow, "L1", Repay(event_id="r1", as_of=DAY_100, amount=amount))
    assert paid.outcome is not None
    posted = {e.entry_id for e in paid.outcome.entries}
    assert {"interest.accrued:r1.forward.accrue", "interest.due:r1.forward.due"} & posted == set()
    memos = {m.posting_id: m for m in paid.outcome.memo_postings}
    accrued = memos["memo.interest.accrued:r1"].amount
    received = memos["memo.interest.received:r1"].amount
    # the day's accrual (3.99 + the penalty day 2.10) and the rest of installment 5's interest
    assert accrued > cny("6.09")
    income = {e.entry_id: e for e in paid.outcome.entries if e.entry_id.startswith("interest.")}
    booked = sum(
        (leg.amount for e in income.values() for leg in e.legs if leg.subject_code == "6011"),
        cny("0.00"),
    )
    assert booked == received  # income on receipt is exactly the interest paid
    assert cny(memo(uow, MemoRegister.OFF_BALANCE_INTEREST)) == cny(before) + accrued - received
    assert balance(uow, "1303.03", "L1") == cny("0.00")
    assert balance(uow, "1132", "L1") == cny("0.00")
    assert_clean(uow)
    close_days(uow, DAY_100, DAY_100)  # cured: what is still owed comes back onto the books
    assert standing(uow).interest_suspended is False
    assert memo(uow, MemoRegister.OFF_BALANCE_INTEREST) == "0.00"
    assert_clean(uow)
