"""The batch's machinery on every store: chunks and progress, a failing loan reported and retried
without stopping its chunk, the quota batch fed with the borrowers' records, events refused on a
non-accrual loan."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from eod_kit import START, assert_clean, book, cny, days, entries_of

from loancore.delinquency.daily import close_day
from loancore.errors import DelinquencyRejected, InvalidInput, RejectionCode
from loancore.ledger import JournalEntry, Leg
from loancore.ports import UnitOfWork
from loancore.quota import DefaultLimitPolicy, Hold, HoldStatus
from loancore.services import ChunkProgress, apply_event, close_business_day, end_of_day
from loancore.services.quota import Refusal
from loancore.servicing import Waive


def close_days(uow: UnitOfWork, first: date, last: date) -> None:
    for day in days(first, last):
        assert close_business_day(uow, day).failed == ()


def test_chunks_report_progress_and_every_loan_is_closed(uow: UnitOfWork) -> None:
    for n in range(7):
        book(uow, f"L{n}", principal="1000.00")
    seen: list[ChunkProgress] = []
    report = close_business_day(uow, START, chunk_size=3, progress=seen.append)
    assert [(p.chunk, p.chunk_loans, p.loans_closed) for p in seen] == [
        (1, 3, 3),
        (2, 3, 6),
        (3, 1, 7),
    ]
    assert (report.loans_closed, report.days_closed, report.failed) == (7, 7, ())
    with uow:
        standings = uow.loans.load_standings([f"L{n}" for n in range(7)])
    assert {s.closed_through for s in standings.values()} == {START}


def test_a_loan_that_fails_is_reported_and_retried_while_its_chunk_commits(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        book(uow, f"L{n}", principal="1000.00")

    def failing(loan, product, standing, rules, day):  # type: ignore[no-untyped-def]
        if loan.loan_id == "L1":
            raise InvalidInput("loan", loan.loan_id, "broken on purpose")
        return close_day(loan, product, standing, rules, day)

    monkeypatch.setattr(end_of_day, "close_day", failing)
    report = close_business_day(uow, START, chunk_size=10)
    assert report.loans_closed == 2
    (refusal,) = report.failed
    assert refusal.key == "L1" and refusal.code is RejectionCode.LOAN_CLOSE_FAILED
    assert "broken on purpose" in refusal.detail
    with uow:
        assert sorted(uow.loans.load_standings(["L0", "L1", "L2"])) == ["L0", "L2"]
    monkeypatch.undo()
    again = close_business_day(uow, START)
    assert (again.loans_closed, again.failed) == (1, ())
    assert_clean(uow)


def test_a_loan_whose_entries_the_ledger_refuses_is_left_out_and_the_rest_commit(
    uow: UnitOfWork,
) -> None:
    for n in range(3):
        book(uow, f"L{n}", principal="1000.00")
    close_business_day(uow, START)
    clash = "interest.accrued:eod20260116-L1.accrue"  # the key L1's accrual will use
    legs = [Leg.debit("1303.03", cny("9.99"), {"loan": "L1"}), Leg.credit("6011", cny("9.99"))]
    with uow:
        uow.ledger.post(
            [
                JournalEntry(
                    entry_id="clash",
                    idempotency_key=clash,
                    accounting_date=START,
                    memo="a different entry under the key",
                    legs=legs,
                )
            ]
        )
        uow.commit()
    report = close_business_day(uow, START + timedelta(days=1), chunk_size=10)
    assert report.loans_closed == 2
    assert [(r.key, r.code) for r in report.failed] == [("L1", RejectionCode.LOAN_CLOSE_FAILED)]
    assert "interest.accrued:eod20260116-L0.accrue" in entries_of(uow)
    assert "interest.accrued:eod20260116-L2.accrue" in entries_of(uow)


def test_the_quota_batch_expires_holds_and_freezes_a_late_borrower(uow: UnitOfWork) -> None:
    book(uow, "L1", principal="1000.00")
    with uow:
        uow.quota.apply(
            Hold(key="H-open", line_id="LINE1", amount=cny("100.00"), expires_on=date(2026, 1, 20)),
            as_of=START,
        )
        uow.commit()
    policy = DefaultLimitPolicy()
    reports = [
        close_business_day(uow, d, limit_policy=policy) for d in days(START, date(2026, 2, 19))
    ]
    with uow:
        assert uow.quota.hold("H-open").status is HoldStatus.EXPIRED
        assert uow.quota.line("LINE1").frozen_whole
    keys = [r.key for report in reports for r in report.quota.applied]
    assert keys == ["eod-20260121:expire-holds:LINE1", "policy:freeze:LINE1:2026-02-15"]
    assert all(report.quota.refused == () for report in reports)


def test_a_waiver_on_a_non_accrual_loan_is_refused(uow: UnitOfWork) -> None:
    book(uow, "L1")
    close_days(uow, START, date(2026, 5, 17))
    waiver = Waive(event_id="w1", as_of=date(2026, 5, 18), component="penalty", amount=cny("1.00"))
    with pytest.raises(DelinquencyRejected) as refused:
        apply_event(uow, "L1", waiver)
    assert refused.value.code is RejectionCode.NON_ACCRUAL_EVENT_REFUSED
    assert_clean(uow)


def test_refusal_is_the_quota_batch_value() -> None:
    assert end_of_day._refusal("L9", InvalidInput("x", 1, "bad")) == Refusal(
        "L9", RejectionCode.LOAN_CLOSE_FAILED, "InvalidInput: x: bad (got 1)"
    )
