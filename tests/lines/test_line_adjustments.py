"""Waivers and payment reversal on a credit line, through the services on every store, every
entry to the fen: a bounced repayment is undone with every later one replayed and ONE net entry
posted, the quota used again; a waiver books income against the receivable and never cash."""

from __future__ import annotations

from datetime import date

import pytest
from lines_kit import assert_clean, cny, open_a1, state
from test_line_story import apply, balance, used

from loancore.errors import InvalidInput, RejectionCode, ServicingRejected
from loancore.ports import UnitOfWork
from loancore.services import apply_line_event, close_lines_day
from loancore.servicing import (
    Draw,
    LineQuotaEffectKind,
    LineTransactionKind,
    RefundCredit,
    Repay,
    ReversePayment,
    Waive,
)

CASH = ("1002", "3001")


def test_a_bounced_repayment_is_undone_the_later_one_replayed_and_one_net_entry_posted(
    uow: UnitOfWork,
) -> None:
    open_a1(uow)
    apply(uow, Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("10000.00")))
    # 3 days x 10,000.00 x 0.0005 = 15.00 interest, 3,000.00 principal
    apply(uow, Repay(event_id="r1", as_of=date(2026, 3, 5), amount=cny("3015.00")))
    # 2 days x 7,000.00 = 7.00 interest, 1,000.00 principal
    apply(uow, Repay(event_id="r2", as_of=date(2026, 3, 7), amount=cny("1007.00")))
    assert used(uow) == 600_000

    # r1 bounced, reversed on 03-08. Without it r2 pays 5 days x 10,000.00 = 25.00 interest and
    # 982.00 principal; to 03-08 the cycle's interest is 25.00 + 9,018.00 x 0.0005 = 29.509 ->
    # 29.51 (4.51 accrued) against 25.00 (3.00 accrued) with r1: one net entry
    reversed_, legs = apply(
        uow, ReversePayment(event_id="rv1", as_of=date(2026, 3, 8), payment_id="r1")
    )
    assert legs == {
        "interest.accrued:rv1.accrue": [("1303.03", "debit", "3.00"), ("6011", "credit", "3.00")],
        "payment.reversed:rv1": [
            ("1303.01", "debit", "3018.00"),
            ("1303.03", "debit", "1.51"),
            ("3001", "credit", "3015.00"),
            ("6011", "credit", "4.51"),
        ],
    }
    account = reversed_.account
    assert (account.principal, account.interest_accrued, account.principal_repaid) == (
        901_800,
        451,
        98_200,
    )
    assert [(e.kind, e.amount) for e in reversed_.record.quota_effects] == [
        (LineQuotaEffectKind.DRAW, cny("3018.00"))
    ]
    assert used(uow) == 901_800
    assert [(t.event_id, t.kind, t.reversed_by) for t in account.history] == [
        ("d1", LineTransactionKind.DRAW, None),
        ("r1", LineTransactionKind.REPAY, "rv1"),
        ("r2", LineTransactionKind.REPAY, None),
    ]
    assert (balance(uow, "1303.01"), balance(uow, "3001")) == ("9018.00", "1007.00")

    before = state(uow)
    for payment_id, code in (
        ("r1", RejectionCode.PAYMENT_ALREADY_REVERSED),
        ("d1", RejectionCode.PAYMENT_UNKNOWN),
        ("nope", RejectionCode.PAYMENT_UNKNOWN),
    ):
        with pytest.raises(ServicingRejected) as refused:
            apply_line_event(
                uow,
                "A1",
                ReversePayment(event_id="rv2", as_of=date(2026, 3, 9), payment_id=payment_id),
            )
        assert refused.value.code is code
        assert state(uow) == before
    replay = apply_line_event(
        uow, "A1", ReversePayment(event_id="rv1", as_of=date(2026, 3, 8), payment_id="r1")
    )
    assert replay.replayed and state(uow) == before

    # the statement on 03-10 is the one the history without r1 gives: the cycle's 25.00 + 3
    # days x 9,018.00 x 0.0005 = 38.527 -> 38.53, 25.00 of it paid by r2: 13.53 billed
    close_lines_day(uow, date(2026, 3, 10))
    with uow:
        closed = uow.loans.load_line("A1").account
    assert closed.statement is not None and closed.statement.interest == cny("13.53")
    assert_clean(uow)


def test_a_reversal_of_a_payment_whose_credit_was_refunded_is_refused_and_changes_nothing(
    uow: UnitOfWork,
) -> None:
    open_a1(uow)
    apply(uow, Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("1000.00")))
    apply(uow, Repay(event_id="r1", as_of=date(2026, 3, 2), amount=cny("1500.00")))
    apply(uow, RefundCredit(event_id="f1", as_of=date(2026, 3, 3), amount=cny("500.00")))
    before = state(uow)
    with pytest.raises(ServicingRejected) as refused:
        apply_line_event(
            uow, "A1", ReversePayment(event_id="rv1", as_of=date(2026, 3, 4), payment_id="r1")
        )
    assert refused.value.code is RejectionCode.CREDIT_INSUFFICIENT
    assert state(uow) == before


def test_waivers_book_income_against_the_receivable_and_never_cash(uow: UnitOfWork) -> None:
    open_a1(uow)
    apply(uow, Draw(event_id="d1", as_of=date(2026, 3, 2), amount=cny("12000.00")))
    # 3 days x 6.00 = 18.00 accrued, none billed: 10.00 waived is made receivable first
    _w1, legs = apply(
        uow, Waive(event_id="w1", as_of=date(2026, 3, 5), component="interest", amount=cny("10.00"))
    )
    assert legs == {
        "interest.accrued:w1.accrue": [("1303.03", "debit", "18.00"), ("6011", "credit", "18.00")],
        "interest.due:w1.forward": [("1132", "debit", "10.00"), ("1303.03", "credit", "10.00")],
        "waiver.interest:w1.waive.interest": [
            ("6011", "debit", "10.00"),
            ("1132", "credit", "10.00"),
        ],
    }
    # statement 03-10: 8 days x 6.00 = 48.00, 10.00 waived: 38.00 billed; minimum 1,238.00;
    # late on 04-03: fee 50.00 (capped), penalty 2 days x 1,238.00 x 0.00075 = 1.857 -> 1.86
    close_lines_day(uow, date(2026, 4, 5))
    _w2, legs = apply(
        uow, Waive(event_id="w2", as_of=date(2026, 4, 5), component="fee", amount=cny("50.00"))
    )
    assert legs == {
        "waiver.fee:w2.waive.fee": [("6021.03", "debit", "50.00"), ("1221", "credit", "50.00")]
    }
    w3, legs = apply(
        uow, Waive(event_id="w3", as_of=date(2026, 4, 5), component="penalty", amount=cny("1.86"))
    )
    assert legs == {
        "waiver.penalty:w3.waive.penalty": [("6011", "debit", "1.86"), ("1132", "credit", "1.86")]
    }
    assert (w3.account.fees, w3.account.penalty, w3.account.minimum_unpaid) == (0, 0, 123_800)
    for entry_legs in legs.values():
        assert not {code for code, _side, _amount in entry_legs} & set(CASH)
    before = state(uow)
    for component, amount, code in (
        ("fee", "0.01", RejectionCode.WAIVER_EXCEEDS_OUTSTANDING),
        ("compound", "0.01", RejectionCode.WAIVER_EXCEEDS_OUTSTANDING),
        ("interest", "100000.00", RejectionCode.WAIVER_EXCEEDS_OUTSTANDING),
    ):
        with pytest.raises(ServicingRejected) as refused:
            apply_line_event(
                uow,
                "A1",
                Waive(
                    event_id="w9", as_of=date(2026, 4, 5), component=component, amount=cny(amount)
                ),
            )
        assert refused.value.code is code
    with pytest.raises(InvalidInput):
        apply_line_event(
            uow,
            "A1",
            Waive(
                event_id="w9",
                as_of=date(2026, 4, 5),
                component="fee",
                fee_kind="management",
                amount=cny("1.00"),
            ),
        )
    assert state(uow) == before
    assert_clean(uow)
