"""Non-accrual of a credit line through the loans' rules, and its days closed one at a time, on
every store: 10,000.00 drawn on 03-02 and nothing paid (``_late_line``: the first minimum of
1,040.00 due 03-30) is 91 days past due on 06-29, its interest leaves income for 表外应收未收利息,
accrues only there, is income when cash comes, and the cured line accrues on the books again. A
gap caught up in one run leaves the book five daily closes leave; an event for a line behind
closes its days first."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lines_kit import cny, make_uow
from test_line_delinquency import _late_line, _standing
from test_line_story import entries_of_day

from loancore.checks import DATE_MAX
from loancore.delinquency import RiskClass, line_interest
from loancore.errors import DelinquencyRejected, RejectionCode
from loancore.ledger.entries import MemoRegister
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import apply_line_event, close_lines_day, reconcile
from loancore.servicing import Repay, ReversePayment, Waive

Legs = list[tuple[str, str, str]]


def _register(uow: UnitOfWork) -> Money:
    """What 表外应收未收利息 holds for the line."""
    with uow:
        return uow.ledger.memo_balance(
            MemoRegister.OFF_BALANCE_INTEREST, "CNY", as_of=DATE_MAX, dimensions={"loan": "A1"}
        )


def _account_interest(uow: UnitOfWork) -> int:
    with uow:
        return line_interest(uow.loans.load_line("A1").account).total


def _assert_clean(uow: UnitOfWork) -> None:
    result = reconcile(uow)
    assert result.clean, result.problems()


def _memos_of(uow: UnitOfWork, event_id: str) -> list[tuple[str, str]]:
    with uow:
        return [
            (m.posting_id, str(m.amount.amount))
            for m in uow.ledger.memo_postings()
            if m.posting_id.endswith(f":{event_id}")
        ]


def test_a_line_100_days_late_goes_non_accrual_and_is_cured(uow: UnitOfWork) -> None:
    _late_line(uow)
    close_lines_day(uow, date(2026, 6, 28))  # 90 days past due: still accruing, 关注, stage 2
    standing = _standing(uow)
    assert (standing.dpd, standing.interest_suspended, standing.allowance) == (
        90,
        False,
        (0, 21548, 0),
    )
    assert _register(uow) == cny("0")

    # 06-29, 91 days: 次级, stage 3, non-accrual. On the books: accrued 90.00 + 5.00 today,
    # billed 500.00, penalty 33.76 = 628.76, reversed out of income (the due move first) and
    # registered; the allowance moves to stage 3: 25% of principal 10,000.00 + fees 150.00
    close_lines_day(uow, date(2026, 6, 29))
    assert entries_of_day(uow, "eod20260629-A1") == {
        "interest.accrued:eod20260629-A1.accrue": [
            ("1303.03", "debit", "5.00"),
            ("6011", "credit", "5.00"),
        ],
        "interest.due:eod20260629-A1.due.back": [
            ("1132", "credit", "500.00"),
            ("1303.03", "debit", "500.00"),
        ],
        "interest.accrued:eod20260629-A1.interest.back": [
            ("1303.03", "credit", "595.00"),
            ("6011", "debit", "595.00"),
        ],
        "interest.accrued:eod20260629-A1.penalty.back": [
            ("1132", "credit", "33.76"),
            ("6011", "debit", "33.76"),
        ],
        "provision.released:eod20260629-A1.stage2": [
            ("1304.02", "debit", "215.48"),
            ("6702", "credit", "215.48"),
        ],
        "provision.charged:eod20260629-A1.stage3": [
            ("6702", "debit", "2537.50"),
            ("1304.03", "credit", "2537.50"),
        ],
    }
    assert _memos_of(uow, "eod20260629-A1") == [
        ("memo.interest.suspended:eod20260629-A1", "628.76")
    ]
    standing = _standing(uow)
    current = standing.history.current
    assert current is not None and current.non_accrual and standing.interest_suspended
    assert (current.as_of, current.risk_class, current.stage) == (
        date(2026, 6, 29),
        RiskClass.SUBSTANDARD,
        3,
    )
    _assert_clean(uow)

    # from then on interest accrues in the register only: 06-30 books nothing, 5.00 registered
    close_lines_day(uow, date(2026, 6, 30))
    assert entries_of_day(uow, "eod20260630-A1") == {}
    assert _memos_of(uow, "eod20260630-A1") == [("memo.interest.accrued:eod20260630-A1", "5.00")]
    close_lines_day(uow, date(2026, 7, 8))  # 100 days past due; statement 5 closed off books
    assert _standing(uow).dpd == 100
    assert _register(uow).minor_units == _account_interest(uow) > 62876
    _assert_clean(uow)

    # 07-09: 4,000.00 received. Its catch-up interest (5.00 + 3.51 penalty) is registered; the
    # interest it pays (billed 500.00, accrued 145.00 made receivable, penalty 51.32) is income
    # when received, booked just before the repayment entry; the register empties
    paid = apply_line_event(
        uow, "A1", Repay(event_id="r1", as_of=date(2026, 7, 9), amount=cny("4000.00"))
    )
    assert paid.outcome is not None
    assert {
        e.entry_id: [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in e.legs]
        for e in paid.outcome.entries
    } == {
        "interest.accrued:r1.interest": [
            ("1303.03", "debit", "645.00"),
            ("6011", "credit", "645.00"),
        ],
        "interest.due:r1.due": [("1132", "debit", "500.00"), ("1303.03", "credit", "500.00")],
        "interest.accrued:r1.penalty": [("1132", "debit", "51.32"), ("6011", "credit", "51.32")],
        "interest.due:r1.forward": [("1132", "debit", "145.00"), ("1303.03", "credit", "145.00")],
        "repayment:r1": [
            ("3001", "debit", "4000.00"),
            ("1303.01", "credit", "3103.68"),
            ("1132", "credit", "696.32"),
            ("1221", "credit", "200.00"),
        ],
    }
    assert _memos_of(uow, "r1") == [
        ("memo.interest.accrued:r1", "8.51"),
        ("memo.interest.received:r1", "696.32"),
    ]
    assert _register(uow) == cny("0") and _account_interest(uow) == 0
    _assert_clean(uow)

    # the oldest minimums paid: 9 days past due on 07-09, cured (关注, stage 1): nothing is left
    # to reinstate, the stage-3 allowance is released and 2% of 6,896.32 charged in stage 1
    close_lines_day(uow, date(2026, 7, 9))
    assert entries_of_day(uow, "eod20260709-A1") == {
        "provision.charged:eod20260709-A1.stage1": [
            ("6702", "debit", "137.93"),
            ("1304.01", "credit", "137.93"),
        ],
        "provision.released:eod20260709-A1.stage3": [
            ("1304.03", "debit", "2550.00"),
            ("6702", "credit", "2550.00"),
        ],
    }
    standing = _standing(uow)
    assert (standing.dpd, standing.interest_suspended, standing.allowance) == (
        9,
        False,
        (13793, 0, 0),
    )
    # accruing on the books again: 07-10 closes statement 5's cycle on 1303.03 and 6011
    close_lines_day(uow, date(2026, 7, 10))
    assert entries_of_day(uow, "eod20260710-A1")["interest.accrued:eod20260710-A1.s5.accrue"] == [
        ("1303.03", "debit", "3.45"),
        ("6011", "credit", "3.45"),
    ]
    assert _memos_of(uow, "eod20260710-A1") == []
    _assert_clean(uow)


def test_a_waiver_or_reversal_of_a_non_accrual_line_is_refused(uow: UnitOfWork) -> None:
    _late_line(uow)
    apply_line_event(uow, "A1", Repay(event_id="r1", as_of=date(2026, 3, 20), amount=cny("10")))
    close_lines_day(uow, date(2026, 7, 1))
    assert _standing(uow).interest_suspended
    waive = Waive(event_id="w1", as_of=date(2026, 7, 2), component="fee", amount=cny("10.00"))
    reverse = ReversePayment(event_id="v1", as_of=date(2026, 7, 2), payment_id="r1")
    for event in (waive, reverse):
        with pytest.raises(DelinquencyRejected) as refused:
            apply_line_event(uow, "A1", event)
        assert refused.value.code is RejectionCode.NON_ACCRUAL_EVENT_REFUSED
    _assert_clean(uow)


def _book(uow: UnitOfWork) -> tuple[object, ...]:
    """The line's book: entries and memo postings by id, the account, the standing."""
    with uow:
        return (
            sorted((e.entry_id, e.accounting_date, e.legs) for e in uow.ledger.entries()),
            sorted((m.posting_id, m.accounting_date, m.amount) for m in uow.ledger.memo_postings()),
            uow.loans.load_line("A1").account,
            uow.loans.load_standings(["A1"])["A1"],
        )


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize(
    "last",
    [
        pytest.param(date(2026, 4, 5), id="into-special-mention"),  # 关注 from 04-03
        pytest.param(date(2026, 7, 1), id="into-non-accrual"),  # 次级, non-accrual from 06-29
    ],
)
def test_a_five_day_gap_caught_up_leaves_the_book_of_five_daily_closes(
    make: Callable[..., UnitOfWork], kind: str, last: date
) -> None:
    daily, caught_up = make(kind), make(kind)
    start = last - timedelta(days=5)
    for uow in (daily, caught_up):
        _late_line(uow)
        close_lines_day(uow, start)
    for n in range(1, 6):
        close_lines_day(daily, start + timedelta(days=n))
    closed = close_lines_day(caught_up, last)
    assert (closed.lines_closed, closed.days_closed) == (1, 5)
    assert _book(caught_up) == _book(daily)
    days = {c.classification.as_of for c in _standing(caught_up).history.changes}
    assert days & {start + timedelta(days=n) for n in range(1, 6)}  # a change inside the gap


def test_a_repayment_for_a_line_3_days_behind_closes_those_days_first(uow: UnitOfWork) -> None:
    _late_line(uow)
    close_lines_day(uow, date(2026, 4, 2))
    paid = apply_line_event(
        uow, "A1", Repay(event_id="r1", as_of=date(2026, 4, 6), amount=cny("100.00"))
    )
    assert paid.outcome is not None
    ids = [entry.entry_id for entry in paid.outcome.entries]
    assert "fee.charged:eod20260403-A1.s1.late" in ids  # the late fee on its own day
    assert ids[-1] == "repayment:r1"
    assert {i.split(":")[1].split(".")[0] for i in ids[:-1]} >= {
        "eod20260403-A1",
        "eod20260404-A1",
        "eod20260405-A1",
    }
    standing = _standing(uow)
    assert (standing.closed_through, standing.dpd) == (date(2026, 4, 5), 6)
    closed = close_lines_day(uow, date(2026, 4, 6))  # the event's own day is the batch's
    assert (closed.lines_closed, closed.days_closed) == (1, 1)
    _assert_clean(uow)


_FIRST, _LAST = date(2026, 3, 3), date(2026, 7, 15)
_DAYS = [_FIRST + timedelta(days=n) for n in range((_LAST - _FIRST).days + 1)]


def _closed_on(days: list[date]) -> tuple[object, ...]:
    """``_late_line`` with 1,100.00 repaid on 05-06, its days closed by runs on ``days`` (and on
    ``_FIRST``, so the batch knows the account before the repayment, and ``_LAST``), in memory:
    the book."""
    uow = make_uow("memory", None, None)
    _late_line(uow)
    repaid = False
    for day in sorted({*days, _FIRST, _LAST}):
        if not repaid and day >= date(2026, 5, 6):
            repay = Repay(event_id="r1", as_of=date(2026, 5, 6), amount=cny("1100.00"))
            apply_line_event(uow, "A1", repay)
            repaid = True
        close_lines_day(uow, day)
    return _book(uow)


@functools.lru_cache(maxsize=1)
def _daily() -> tuple[object, ...]:
    return _closed_on(_DAYS)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(_DAYS), max_size=8))
def test_any_cadence_of_day_closes_leaves_the_book_of_daily_closes(days: list[date]) -> None:
    """Whatever days the batch runs on (a repayment in between brings the line up to date
    first), the line ends with the entries, memo postings, account and standing of a close every
    day: through 90 days past due, non-accrual from 06-29 and on."""
    assert _closed_on(days) == _daily()
