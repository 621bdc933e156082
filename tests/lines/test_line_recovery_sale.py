"""Recovery after a line's write-off (核销后收回) and the sale of a bad line (不良资产转让) on every
store, through the loans' rules and templates: 10,000.00 drawn on 03-02 and nothing paid
(``_late_line``), non-accrual from 06-29."""

from __future__ import annotations

from datetime import date

import pytest
from lines_kit import cny, open_a1, state
from test_line_delinquency import _late_line, _standing
from test_line_story import posted

from loancore.checks import DATE_MAX
from loancore.errors import DelinquencyRejected, RejectionCode, ServicingRejected
from loancore.ledger.entries import MemoRegister
from loancore.ports import UnitOfWork
from loancore.quota import LineStatus
from loancore.services import (
    apply_line_event,
    close_lines_day,
    reconcile,
    recover_credit_line,
    sell_credit_line,
    write_off_credit_line,
)
from loancore.servicing import Draw, Repay


def _assert_clean(uow: UnitOfWork) -> None:
    result = reconcile(uow)
    assert result.clean, result.problems()


def _entries(uow: UnitOfWork, tag: str) -> dict[str, list[tuple[str, str, str]]]:
    """The entries whose event id starts with ``tag``."""
    with uow:
        ids = tuple(
            e.entry_id for e in uow.ledger.entries() if e.entry_id.split(":")[1].startswith(tag)
        )
    return posted(uow, ids)


def _memos(uow: UnitOfWork, tag: str) -> list[tuple[str, MemoRegister, str, str]]:
    with uow:
        return [
            (m.posting_id, m.register, m.direction.value, str(m.amount.amount))
            for m in uow.ledger.memo_postings()
            if m.posting_id.split(":")[1].startswith(tag)
        ]


def _register(uow: UnitOfWork, register: MemoRegister) -> str:
    with uow:
        balance = uow.ledger.memo_balance(
            register, "CNY", as_of=DATE_MAX, dimensions={"loan": "A1"}
        )
    return str(balance.amount)


def test_a_written_off_line_partly_recovered(uow: UnitOfWork) -> None:
    _late_line(uow)
    close_lines_day(uow, date(2026, 8, 10))
    write_off_credit_line(uow, "A1", as_of=date(2026, 8, 11), event_id="wo1")
    assert _standing(uow).written_off == 1_114_584  # principal, fees and the interest pursued
    assert _register(uow, MemoRegister.WRITTEN_OFF_LOANS) == "11145.84"

    # 1,000.00 recovered on 09-01: Dr 3001 Cr 1304.03, the allowance so restored released at
    # once (the line has nothing on the books), 已核销贷款 down by as much
    standing = recover_credit_line(
        uow, "A1", cny("1000.00"), as_of=date(2026, 9, 1), event_id="rc1"
    )
    assert _entries(uow, "rc1") == {
        "recovery:rc1": [("3001", "debit", "1000.00"), ("1304.03", "credit", "1000.00")],
        "provision.released:rc1.release.stage3": [
            ("1304.03", "debit", "1000.00"),
            ("6702", "credit", "1000.00"),
        ],
    }
    assert _memos(uow, "rc1") == [
        ("memo.recovery:rc1", MemoRegister.WRITTEN_OFF_LOANS, "decrease", "1000.00")
    ]
    assert (standing.allowance, standing.written_off) == ((0, 0, 0), 1_014_584)
    assert _standing(uow) == standing
    assert _register(uow, MemoRegister.WRITTEN_OFF_LOANS) == "10145.84"
    _assert_clean(uow)

    before = state(uow)
    again = recover_credit_line(uow, "A1", cny("1000.00"), as_of=date(2026, 9, 1), event_id="rc1")
    assert again == standing and state(uow) == before  # a replay changes nothing
    with pytest.raises(DelinquencyRejected) as refused:
        recover_credit_line(uow, "A1", cny("10145.85"), as_of=date(2026, 9, 2), event_id="rc2")
    assert refused.value.code is RejectionCode.RECOVERY_EXCEEDS_WRITTEN_OFF
    assert state(uow) == before


def test_a_line_100_days_late_sold_at_30_percent_of_its_principal(uow: UnitOfWork) -> None:
    _late_line(uow)
    close_lines_day(uow, date(2026, 7, 8))  # 100 days past due: 次级, stage 3, non-accrual
    assert _standing(uow).allowance == (0, 0, 255_000)  # 25% of 10,000.00 + 200.00 fees
    # 3,000.00 for principal 10,000.00 and fees 200.00 against the 2,550.00 allowance: a loss
    # of 4,650.00. The day's interest (8.51) goes to the register first; the buyer takes the
    # 696.32 of interest it holds. The quota line is closed.
    gone = sell_credit_line(uow, "A1", cny("3000.00"), as_of=date(2026, 7, 9), event_id="s1")
    assert _entries(uow, "s1") == {
        "loan.sold:s1": [
            ("1002", "debit", "3000.00"),
            ("1304.03", "debit", "2550.00"),
            ("6702", "debit", "4650.00"),
            ("1303.01", "credit", "10000.00"),
            ("1221", "credit", "200.00"),
        ]
    }
    off = MemoRegister.OFF_BALANCE_INTEREST
    assert _memos(uow, "s1") == [
        ("memo.interest.accrued:s1", off, "increase", "8.51"),
        ("memo.loan.sold.interest:s1", off, "decrease", "696.32"),
    ]
    assert _register(uow, off) == "0.00"
    assert _register(uow, MemoRegister.WRITTEN_OFF_LOANS) == "0.00"  # sold, not pursued
    assert (gone.owed(), gone.written_off_on, gone.principal_written_off) == (
        0,
        date(2026, 7, 9),
        1_000_000,
    )
    standing = _standing(uow)
    assert (standing.allowance, standing.interest_suspended, standing.written_off) == (
        (0, 0, 0),
        False,
        0,
    )
    with uow:
        assert uow.quota.line("Q1").status is LineStatus.CLOSED
        assert uow.loans.line_record("A1", "s1").kind == "sale"
    _assert_clean(uow)

    before = state(uow)
    assert (
        sell_credit_line(uow, "A1", cny("3000.00"), as_of=date(2026, 7, 9), event_id="s1") == gone
    )
    with pytest.raises(ServicingRejected) as refused:
        apply_line_event(uow, "A1", Repay(event_id="r9", as_of=date(2026, 7, 10), amount=cny("1")))
    assert refused.value.code is RejectionCode.LOAN_NOT_ACTIVE
    assert state(uow) == before


def test_a_performing_line_is_not_sold(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply_line_event(uow, "A1", Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("500")))
    close_lines_day(uow, date(2026, 3, 20))
    before = state(uow)
    with pytest.raises(DelinquencyRejected) as refused:
        sell_credit_line(uow, "A1", cny("100.00"), as_of=date(2026, 3, 21), event_id="s1")
    assert refused.value.code is RejectionCode.SALE_OF_PERFORMING_LOAN
    assert state(uow) == before
