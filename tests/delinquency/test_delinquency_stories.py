"""Stories of the 12,000.00 CNY clinic loan (12 x 1,100.16 at 18%, first due 2026-02-15, grace 3
days) left unpaid: the standing, and every entry and memo posting to the fen, posted into the
ledger (whose posting rules check them).

Hand checks, on 2026-05-26 (100 days after the first due date): interest receivable of the four
installments due: 180.00 + 166.20 + 152.19 + 137.97 = 636.36; installment 5 accrued for 11 of its
31 days: 123.54 x 11 / 31 = 43.84; penalty 1.5 x 18% = 27% a year, ACT/360, on each unpaid
principal from its due date: 920.16 x 0.27 x 100/360 = 69.01, 933.96 x 0.27 x 72/360 = 50.43,
947.97 x 0.27 x 41/360 = 29.15, 962.19 x 0.27 x 11/360 = 7.94, together 156.53. So 836.73 of
interest is on the books (680.20 contract interest income, 156.53 penalty).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from loancore.delinquency import (
    STAGE_RATES,
    Booking,
    ClassificationHistory,
    DelinquencyPolicy,
    RiskClass,
    classify,
    classify_day,
    exposure,
    income_on_receipt,
    interest_paid_by,
    loan_provision,
    non_accrual_move,
    overdue_installments,
    recover,
    sell,
    write_off,
)
from loancore.errors import DelinquencyRejected, RejectionCode
from loancore.ledger.entries import MemoRegister
from loancore.money import Money, Rounding
from loancore.postings import Stage
from loancore.servicing import Repay, apply
from loancore.testing.delinquency import post, unpaid_clinic_loan, written_off_as_servicing_will

DAY_100 = date(2026, 5, 26)
POLICY = DelinquencyPolicy(grace_days=3)
LOAN = {"loan": "L1"}


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def legs(booking: Booking) -> dict[str, list[tuple[str, str, str]]]:
    return {
        e.entry_id: [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in e.legs]
        for e in booking.entries
    }


def memos(booking: Booking) -> list[tuple[str, str, str, str]]:
    return [
        (m.posting_id, m.register.value, m.direction.value, str(m.amount.amount))
        for m in booking.memo_postings
    ]


def test_100_days_late_goes_non_accrual_then_is_cured_and_the_ledger_agrees_with_the_loan() -> None:
    harness = unpaid_clinic_loan(DAY_100)
    late = classify(harness.loan, DAY_100, POLICY)
    assert (late.dpd, late.bucket, late.risk_class, late.stage, late.non_accrual) == (
        100,
        "M4",
        RiskClass.SUBSTANDARD,
        Stage.THREE,
        True,
    )
    suspended = non_accrual_move(None, late, harness.loan, event_id="na-L1-20260526")
    assert legs(suspended) == {
        "interest.due:na-L1-20260526.due.back": [
            ("1132", "credit", "636.36"),
            ("1303.03", "debit", "636.36"),
        ],
        "interest.accrued:na-L1-20260526.interest.back": [
            ("1303.03", "credit", "680.20"),
            ("6011", "debit", "680.20"),
        ],
        "interest.accrued:na-L1-20260526.penalty.back": [
            ("1132", "credit", "156.53"),
            ("6011", "debit", "156.53"),
        ],
    }
    assert memos(suspended) == [
        ("memo.interest.suspended:na-L1-20260526", "off_balance_interest", "increase", "836.73")
    ]
    post(harness, suspended)
    store = harness.store
    assert store.balance("1132", "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00")
    assert store.balance("1303.03", "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00")

    # The borrower pays every installment past due (principal, interest, penalty): 4,557.17.
    owed = sum(i.outstanding() for i in overdue_installments(harness.loan, DAY_100))
    assert owed == 455717
    repaid = apply(
        harness.loan, harness.product, Repay(event_id="r1", as_of=DAY_100, amount=cny("4557.17"))
    )
    paid = interest_paid_by(repaid.loan.history[-1])
    received = income_on_receipt(harness.loan, paid, as_of=DAY_100, event_id="r1.income")
    assert legs(received) == {
        "interest.accrued:r1.income.interest": [
            ("1303.03", "debit", "636.36"),
            ("6011", "credit", "636.36"),
        ],
        "interest.due:r1.income.due": [
            ("1132", "debit", "636.36"),
            ("1303.03", "credit", "636.36"),
        ],
        "interest.accrued:r1.income.penalty": [
            ("1132", "debit", "156.53"),
            ("6011", "credit", "156.53"),
        ],
    }
    assert memos(received) == [
        ("memo.interest.received:r1.income", "off_balance_interest", "decrease", "792.89")
    ]
    post(harness, received)
    harness.store.post(repaid.entries)  # servicing's own: Dr 3001 4,557.17, Cr 1303.01, Cr 1132
    harness.loan = repaid.loan

    cured = classify(harness.loan, DAY_100, POLICY)
    assert (cured.dpd, cured.risk_class, cured.stage, cured.non_accrual) == (
        0,
        RiskClass.NORMAL,
        Stage.ONE,
        False,
    )
    back = non_accrual_move(late, cured, harness.loan, event_id="cure-L1-20260526")
    assert legs(back) == {
        "interest.accrued:cure-L1-20260526.interest": [
            ("1303.03", "debit", "43.84"),
            ("6011", "credit", "43.84"),
        ]
    }
    assert memos(back) == [
        ("memo.interest.reinstated:cure-L1-20260526", "off_balance_interest", "decrease", "43.84")
    ]
    post(harness, back)
    register = MemoRegister.OFF_BALANCE_INTEREST
    assert store.memo_balance(register, "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00")
    # Interest income ends where accrual would have left it: 680.20 + 156.53 recognised.
    assert store.balance("6011", "CNY", as_of=DAY_100, dimensions=LOAN) == cny("836.73")
    harness.check()  # every subject of the loan equals servicing's own figures again


def test_written_off_then_partly_recovered_and_the_next_run_releases_the_allowance() -> None:
    harness = unpaid_clinic_loan(DAY_100, late_fee=True)  # 4 late fees of 50.00 (capped)
    store = harness.store
    late = classify(harness.loan, DAY_100, POLICY)
    post(harness, non_accrual_move(None, late, harness.loan, event_id="na"))
    provided = loan_provision(
        harness.loan,
        late,
        current={},
        rates=STAGE_RATES,
        rounding=Rounding.HALF_UP,
        event_id="prov-20260526",
    )
    # Exposure off non-accrual: principal 12,000.00 + fees 200.00; stage 3 at 50%.
    assert legs(provided) == {
        "provision.charged:prov-20260526.stage3": [
            ("6702", "debit", "6100.00"),
            ("1304.03", "credit", "6100.00"),
        ]
    }
    post(harness, provided)
    allowance = store.balance("1304.03", "CNY", as_of=DAY_100, dimensions=LOAN)
    written = write_off(
        harness.loan, allowance=allowance, interest_suspended=True, as_of=DAY_100, event_id="wo-L1"
    )
    assert legs(written) == {
        "provision.charged:wo-L1.topup": [
            ("6702", "debit", "6100.00"),
            ("1304.03", "credit", "6100.00"),
        ],
        "write_off:wo-L1": [
            ("1304.03", "debit", "12200.00"),
            ("1303.01", "credit", "12000.00"),
            ("1221", "credit", "200.00"),
        ],
    }
    assert memos(written) == [
        ("memo.write_off:wo-L1", "written_off_loans", "increase", "12200.00"),
        ("memo.write_off.interest:wo-L1", "off_balance_interest", "decrease", "836.73"),
        ("memo.write_off.interest:wo-L1.in", "written_off_loans", "increase", "836.73"),
    ]
    post(harness, written)
    for code in ("1303.01", "1221", "1132", "1303.03", "1304.03"):
        assert store.balance(code, "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00"), code
    pursued = store.memo_balance(
        MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=DAY_100, dimensions=LOAN
    )
    assert pursued == cny("13036.73")

    later = date(2026, 7, 1)
    recovered = recover(
        harness.loan, cny("2000.00"), written_off_balance=pursued, as_of=later, event_id="rec-1"
    )
    assert legs(recovered) == {
        "recovery:rec-1": [("3001", "debit", "2000.00"), ("1304.03", "credit", "2000.00")]
    }
    assert memos(recovered) == [("memo.recovery:rec-1", "written_off_loans", "decrease", "2000.00")]
    post(harness, recovered)
    assert store.memo_balance(
        MemoRegister.WRITTEN_OFF_LOANS, "CNY", as_of=later, dimensions=LOAN
    ) == cny("11036.73")

    gone = written_off_as_servicing_will(harness.loan)
    assert exposure(gone, non_accrual=True) == 0
    current = {Stage.THREE: store.balance("1304.03", "CNY", as_of=later, dimensions=LOAN)}
    released = loan_provision(
        gone, late, current=current, rates=STAGE_RATES, rounding=Rounding.HALF_UP, event_id="p2"
    )
    assert legs(released) == {
        "provision.released:p2.stage3": [
            ("1304.03", "debit", "2000.00"),
            ("6702", "credit", "2000.00"),
        ]
    }
    post(harness, released)
    # The loss in the end: 12,200.00 written off less 2,000.00 recovered.
    assert store.balance("6702", "CNY", as_of=later, dimensions=LOAN) == cny("10200.00")

    with pytest.raises(DelinquencyRejected) as refused:
        recover(
            harness.loan,
            cny("11036.74"),
            written_off_balance=cny("11036.73"),
            as_of=later,
            event_id="rec-2",
        )
    assert refused.value.code is RejectionCode.RECOVERY_EXCEEDS_WRITTEN_OFF


def test_sold_at_30_percent_of_principal_books_the_loss_the_allowance_did_not_cover() -> None:
    harness = unpaid_clinic_loan(DAY_100, late_fee=True)
    late = classify(harness.loan, DAY_100, POLICY)
    provided = loan_provision(
        harness.loan, late, current={}, rates=STAGE_RATES, rounding=Rounding.HALF_UP, event_id="p1"
    )
    post(harness, provided)  # non-accrual exposure 12,200.00 x 50%
    allowance = harness.store.balance("1304.03", "CNY", as_of=DAY_100, dimensions=LOAN)
    assert allowance == cny("6100.00")
    sold = sell(
        harness.loan,
        cny("3600.00"),
        risk_class=late.risk_class,
        allowance=allowance,
        interest_suspended=False,
        as_of=DAY_100,
        event_id="sale-L1",
    )
    assert legs(sold) == {
        "interest.due:sale-L1.suspend.due.back": [
            ("1132", "credit", "636.36"),
            ("1303.03", "debit", "636.36"),
        ],
        "interest.accrued:sale-L1.suspend.interest.back": [
            ("1303.03", "credit", "680.20"),
            ("6011", "debit", "680.20"),
        ],
        "interest.accrued:sale-L1.suspend.penalty.back": [
            ("1132", "credit", "156.53"),
            ("6011", "debit", "156.53"),
        ],
        # 3,600.00 + 6,100.00 - 12,200.00 = -2,500.00: a loss.
        "loan.sold:sale-L1": [
            ("1002", "debit", "3600.00"),
            ("1304.03", "debit", "6100.00"),
            ("6702", "debit", "2500.00"),
            ("1303.01", "credit", "12000.00"),
            ("1221", "credit", "200.00"),
        ],
    }
    assert memos(sold) == [
        ("memo.interest.suspended:sale-L1.suspend", "off_balance_interest", "increase", "836.73"),
        ("memo.loan.sold.interest:sale-L1", "off_balance_interest", "decrease", "836.73"),
    ]
    post(harness, sold)
    store = harness.store
    for code in ("1303.01", "1221", "1132", "1303.03", "1304.03"):
        assert store.balance(code, "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00"), code
    # Everything lost on the loan: 12,200.00 lent and charged less 3,600.00 received.
    assert store.balance("6702", "CNY", as_of=DAY_100, dimensions=LOAN) == cny("8600.00")
    assert store.balance("6011", "CNY", as_of=DAY_100, dimensions=LOAN) == cny("0.00")


def test_classification_history_of_a_loan_going_m1_to_m4_then_cured_day_by_day() -> None:
    harness = unpaid_clinic_loan()  # disbursed on 2026-01-15, nothing paid
    history = ClassificationHistory(loan_id="L1")
    day = date(2026, 2, 1)
    while day <= DAY_100:  # 115 daily runs
        history = classify_day(history, harness.loan, day, POLICY)
        assert classify_day(history, harness.loan, day, POLICY) is history  # idempotent
        day += timedelta(days=1)
    repaid = apply(
        harness.loan, harness.product, Repay(event_id="r1", as_of=DAY_100, amount=cny("4557.17"))
    )
    history = classify_day(history, repaid.loan, DAY_100, POLICY)  # the same day, after payment
    history = classify_day(history, repaid.loan, DAY_100 + timedelta(days=1), POLICY)
    assert [(c.as_of, c.reason) for c in history.changes] == [
        (
            date(2026, 2, 19),
            "bucket M0 -> M1, class 正常 -> 关注 (dpd 4; dpd 4 > 0: at least 关注)",
        ),
        (date(2026, 3, 18), "bucket M1 -> M2, stage 1 -> 2 (dpd 31; dpd 31 > 0: at least 关注)"),
        (date(2026, 4, 17), "bucket M2 -> M3 (dpd 61; dpd 61 > 0: at least 关注)"),
        (
            date(2026, 5, 17),
            (
                "bucket M3 -> M4, class 关注 -> 次级, stage 2 -> 3, non-accrual "
                "(dpd 91; dpd 91 > 90: at least 次级; dpd 91 > 90: non-accrual)"
            ),
        ),
        (
            DAY_100,
            "bucket M4 -> M0, class 次级 -> 正常, stage 3 -> 1, accrual resumed (dpd 0)",
        ),
    ]
    assert history.through == DAY_100 + timedelta(days=1)
    assert history.on(date(2026, 5, 20)) == history.changes[3].classification
    assert history.on(date(2026, 2, 18)) is None  # before the first change: 正常, M0
    with pytest.raises(DelinquencyRejected) as refused:
        classify_day(history, repaid.loan, DAY_100, POLICY)
    assert refused.value.code is RejectionCode.CLASSIFICATION_BEFORE_LAST
