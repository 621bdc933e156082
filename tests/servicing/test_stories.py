"""Stories of a 12-installment 12,000 CNY clinic order at 18%: the loan's state and the exact
journal entries (subject, side, amount) of each event. Figures checked by hand: the level
installment of 12,000 at 1.5% a month over 12 months is 1,100.16; the first month's interest
12,000 x 1.5% = 180.00; penalty for 10 days on 920.16 at 1.5 x 18% on ACT/360 is 6.90."""

from datetime import date
from decimal import Decimal

import pytest

from loancore.amortization import amortize
from loancore.errors import RejectionCode
from loancore.money import Money
from loancore.postings import FeeKind
from loancore.servicing import (
    Accrue,
    ApplyCredit,
    ChargeFee,
    Disburse,
    LoanStatus,
    MerchantRefund,
    Outcome,
    PayOff,
    Prepay,
    QuotaEffectKind,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingRejected,
    Waive,
    payoff_amount,
)
from loancore.testing.servicing import Harness, clinic_product
from loancore.waterfall import CIVIL_CODE_561, Component


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def legs(outcome: Outcome) -> dict[str, list[tuple[str, str, str]]]:
    return {
        e.entry_id: [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in e.legs]
        for e in outcome.entries
    }


def disbursed(**overrides: object) -> Harness:
    harness = Harness.booked(clinic_product(merchant_discount_rate=Decimal("0.05"), **overrides))
    harness.apply(Disburse(event_id="pay", as_of=date(2026, 1, 15)))
    return harness


def installment_total(harness: Harness, index: int) -> Money:
    inst = harness.loan.installments[index]
    return Money.from_minor(inst.principal.outstanding + inst.interest.outstanding, "CNY")


def test_booking_captures_quota_and_disbursement_pays_merchant_less_discount() -> None:
    harness = Harness.booked(clinic_product(merchant_discount_rate=Decimal("0.05")))
    booked = harness.outcomes[0]
    assert harness.loan.status is LoanStatus.PENDING_DISBURSEMENT
    assert [(q.kind, q.amount) for q in booked.quota_effects] == [
        (QuotaEffectKind.CAPTURE, cny("12000.00"))
    ]
    outcome = harness.apply(Disburse(event_id="pay", as_of=date(2026, 1, 15)))
    assert legs(outcome) == {
        "disbursement.merchant:pay": [
            ("1303.01", "debit", "12000.00"),
            ("2202", "credit", "11400.00"),
            ("6021.09", "credit", "600.00"),
        ]
    }
    assert harness.loan.status is LoanStatus.ACTIVE
    assert len(harness.loan.installments) == 12


def test_paid_on_time_pays_off_with_exact_first_installment_entries() -> None:
    harness = disbursed()
    first = harness.apply(
        Repay(event_id="r1", as_of=date(2026, 2, 15), amount=installment_total(harness, 0))
    )
    assert legs(first) == {
        "interest.accrued:r1.accrue": [
            ("1303.03", "debit", "180.00"),
            ("6011", "credit", "180.00"),
        ],
        "interest.due:r1.due": [("1132", "debit", "180.00"), ("1303.03", "credit", "180.00")],
        "repayment:r1": [
            ("3001", "debit", "1100.16"),
            ("1303.01", "credit", "920.16"),
            ("1132", "credit", "180.00"),
        ],
    }
    assert [(q.kind, q.amount) for q in first.quota_effects] == [
        (QuotaEffectKind.RESTORE_REPAID, cny("920.16"))
    ]
    restored = first.quota_effects[0].amount
    for k in range(1, 12):
        inst = harness.loan.installments[k]
        out = harness.apply(
            Repay(event_id=f"r{k + 1}", as_of=inst.due_date, amount=installment_total(harness, k))
        )
        restored += out.quota_effects[0].amount
    assert harness.loan.status is LoanStatus.PAID_OFF
    assert restored == cny("12000.00")
    assert harness.loan.principal_outstanding() == 0
    schedule = amortize(harness.loan.terms)  # the calculator's own schedule, interest to the fen
    assert sum(i.interest.paid for i in harness.loan.installments) == sum(schedule.interest_minor)


def test_paid_late_charges_penalty_then_cures() -> None:
    harness = disbursed()
    outcome = harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 25), amount=cny("1107.06")))
    assert legs(outcome) == {
        # 180.00 for February plus 10 of March's 28 days of 166.20
        "interest.accrued:r1.accrue": [
            ("1303.03", "debit", "239.36"),
            ("6011", "credit", "239.36"),
        ],
        "interest.due:r1.due": [("1132", "debit", "180.00"), ("1303.03", "credit", "180.00")],
        "interest.accrued:r1.penalty": [("1132", "debit", "6.90"), ("6011", "credit", "6.90")],
        "repayment:r1": [
            ("3001", "debit", "1107.06"),
            ("1303.01", "credit", "920.16"),
            ("1132", "credit", "186.90"),
        ],
    }
    first = harness.loan.installments[0]
    assert (first.penalty.due, first.penalty.paid) == (690, 690)
    assert harness.loan.installments[0].outstanding() == 0
    harness.apply(Accrue(event_id="a1", as_of=date(2026, 3, 10)))
    assert harness.loan.outstanding(Component.PENALTY) == 0  # cured: nothing overdue runs on


def _three_paid() -> Harness:
    harness = disbursed()
    for k in range(3):
        day = harness.loan.installments[k].due_date
        harness.apply(Repay(event_id=f"r{k + 1}", as_of=day, amount=installment_total(harness, k)))
    return harness


@pytest.mark.parametrize(
    ("mode", "count", "fourth_principal"),
    [("keep_term", 12, 64836), ("keep_installment", 9, 100719)],
)
def test_prepaid_in_month_four_reamortizes(mode: str, count: int, fourth_principal: int) -> None:
    harness = _three_paid()
    outcome = harness.apply(
        Prepay(event_id="p", as_of=date(2026, 5, 1), amount=cny("3000.00"), reamortization=mode)
    )
    assert legs(outcome) == {
        "interest.accrued:p.accrue": [("1303.03", "debit", "73.58"), ("6011", "credit", "73.58")],
        "repayment:p": [("3001", "debit", "3000.00"), ("1303.01", "credit", "3000.00")],
    }
    loan = harness.loan
    assert len(loan.installments) == count
    fourth = loan.installments[3]
    # 16 days accrued on 9,197.91 (73.58) + 14 of 30 days on 6,197.91 (43.39)
    assert (fourth.principal.due, fourth.interest.due) == (fourth_principal, 11697)
    assert loan.principal_outstanding() == 919791 - 300000
    assert loan.principal_prepaid == 300000


def test_paid_off_in_month_four_with_fee() -> None:
    harness = _three_paid()
    harness = Harness(
        clinic_product(
            merchant_discount_rate=Decimal("0.05"),
            prepayment=__import__(
                "loancore.servicing", fromlist=["PrepaymentRules"]
            ).PrepaymentRules(fee_rate=Decimal("0.01")),
        ),
        harness.loan,
        harness.store,
    )
    quote = payoff_amount(harness.loan, harness.product, date(2026, 5, 1))
    assert quote == cny("9197.91") + cny("73.58") + cny("91.98")
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(PayOff(event_id="x", as_of=date(2026, 5, 1), amount=cny("1.00")))
    assert refused.value.code is RejectionCode.PAYOFF_AMOUNT_MISMATCH
    outcome = harness.apply(PayOff(event_id="off", as_of=date(2026, 5, 1), amount=quote))
    assert legs(outcome) == {
        "interest.accrued:off.accrue": [("1303.03", "debit", "73.58"), ("6011", "credit", "73.58")],
        "interest.due:off.forward.due": [
            ("1132", "debit", "73.58"),
            ("1303.03", "credit", "73.58"),
        ],
        "fee.charged:off": [("1221", "debit", "91.98"), ("6021.04", "credit", "91.98")],
        "repayment:off": [
            ("3001", "debit", "9363.47"),
            ("1303.01", "credit", "9197.91"),
            ("1132", "credit", "73.58"),
            ("1221", "credit", "91.98"),
        ],
    }
    assert harness.loan.status is LoanStatus.PAID_OFF


def test_refunded_in_full_before_any_repayment_cancels_the_loan() -> None:
    harness = disbursed()
    outcome = harness.apply(
        MerchantRefund(event_id="rf", as_of=date(2026, 1, 20), amount=cny("12000.00"))
    )
    assert legs(outcome) == {
        "interest.accrued:rf.accrue": [("1303.03", "debit", "29.03"), ("6011", "credit", "29.03")],
        "interest.due:rf.forward.due": [("1132", "debit", "29.03"), ("1303.03", "credit", "29.03")],
        "waiver.interest:rf.waive.interest": [
            ("6011", "debit", "29.03"),
            ("1132", "credit", "29.03"),
        ],
        "disbursement.merchant:rf.refund.back": [
            ("1303.01", "credit", "12000.00"),
            ("2202", "debit", "11400.00"),
            ("6021.09", "debit", "600.00"),
        ],
    }
    assert outcome.merchant_clawback == cny("11400.00")
    assert [(q.kind, q.amount) for q in outcome.quota_effects] == [
        (QuotaEffectKind.RESTORE_REFUNDED, cny("12000.00"))
    ]
    assert harness.loan.status is LoanStatus.CANCELLED
    assert harness.loan.principal_refunded == 1200000


def test_partly_refunded_reduces_principal_from_the_last_installments() -> None:
    harness = disbursed()
    outcome = harness.apply(
        MerchantRefund(event_id="rf", as_of=date(2026, 1, 20), amount=cny("3000.00"))
    )
    assert legs(outcome)["disbursement.merchant:rf.refund.back"] == [
        ("1303.01", "credit", "3000.00"),
        ("2202", "debit", "2850.00"),
        ("6021.09", "debit", "150.00"),
    ]
    assert outcome.merchant_clawback == cny("2850.00")
    loan = harness.loan
    assert len(loan.installments) == 9  # the installment kept, the term shortened
    assert loan.principal_outstanding() == 900000
    assert loan.status is LoanStatus.ACTIVE


def test_bounced_payment_reversed_and_replayed_across_two_later_payments() -> None:
    harness = disbursed()
    harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 15), amount=cny("1100.16")))
    harness.apply(Repay(event_id="r2", as_of=date(2026, 3, 15), amount=cny("1100.16")))
    harness.apply(Repay(event_id="r3", as_of=date(2026, 3, 20), amount=cny("500.00")))
    outcome = harness.apply(
        ReversePayment(event_id="bounce", as_of=date(2026, 3, 21), payment_id="r1")
    )
    ids = [e.entry_id for e in outcome.entries]
    assert ids[-5:] == [
        "repayment:r1.reversed",
        "repayment:r2.reversed",
        "repayment:r3.reversed",
        "repayment:r2~bounce",
        "repayment:r3~bounce",
    ]
    replayed = legs(outcome)
    # r2 now pays installment 1 (overdue), r3 the penalty and part of installment 2
    assert replayed["repayment:r2~bounce"] == [
        ("3001", "debit", "1100.16"),
        ("1303.01", "credit", "920.16"),
        ("1132", "credit", "180.00"),
    ]
    assert replayed["repayment:r1.reversed"] == [
        ("3001", "credit", "1100.16"),
        ("1303.01", "debit", "920.16"),
        ("1132", "debit", "180.00"),
    ]
    loan = harness.loan
    assert loan.transaction("r1").reversed_by == "bounce"
    assert loan.installments[0].outstanding() == 0
    assert loan.installments[1].principal.outstanding > 0
    net = [(q.kind, q.amount) for q in outcome.quota_effects]
    assert net[0][0] is QuotaEffectKind.REUSE


def test_bounced_payment_penalty_runs_from_the_reversal_not_from_the_due_date() -> None:
    # Paid on its due date, so installment 1 stood settled for 23 days: the reversal un-settles
    # it and penalty runs on from the reversal (3-10), not from the due date (2-15) or from the
    # last day penalty ran. 10 days on 920.16 at 1.5 x 18% ACT/360 is 6.90 (module docstring).
    harness = disbursed()
    harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 15), amount=cny("1100.16")))
    harness.apply(Accrue(event_id="a0", as_of=date(2026, 3, 1)))
    assert harness.loan.installments[0].penalty_through is None  # settled: no date to move
    harness.apply(ReversePayment(event_id="bounce", as_of=date(2026, 3, 10), payment_id="r1"))
    assert harness.loan.installments[0].penalty_through == date(2026, 3, 10)
    assert harness.loan.installments[1].penalty_through is None  # not due yet
    harness.apply(Accrue(event_id="a1", as_of=date(2026, 3, 20)))
    first = harness.loan.installments[0]
    assert (first.penalty.due, first.penalty_through) == (690, date(2026, 3, 20))


def test_late_payment_bounced_charges_the_late_days_once_then_runs_from_the_reversal() -> None:
    harness = disbursed()
    harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 25), amount=cny("1107.06")))
    paid = harness.loan.installments[0]
    assert (paid.outstanding(), paid.penalty.due, paid.penalty_through) == (
        0,
        690,  # 2-15 to 2-25: 10 days on 920.16
        date(2026, 2, 25),
    )
    harness.apply(Accrue(event_id="a0", as_of=date(2026, 3, 5)))
    assert harness.loan.installments[0].penalty_through == date(2026, 2, 25)  # settled: kept
    harness.apply(ReversePayment(event_id="bounce", as_of=date(2026, 3, 10), payment_id="r1"))
    harness.apply(Accrue(event_id="a1", as_of=date(2026, 3, 20)))
    assert harness.loan.installments[0].penalty.due == 690 + 690  # and 3-10 to 3-20, not 2-25 on


def test_overpayment_kept_as_credit_then_used_and_refunded() -> None:
    harness = disbursed(policy=CIVIL_CODE_561)
    outcome = harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 15), amount=cny("1500.00")))
    assert legs(outcome)["repayment:r1"] == [
        ("3001", "debit", "1500.00"),
        ("1303.01", "credit", "920.16"),
        ("1132", "credit", "180.00"),
        ("2241.01", "credit", "399.84"),
    ]
    assert harness.loan.credit == 39984
    used = harness.apply(ApplyCredit(event_id="c1", as_of=date(2026, 3, 15)))
    assert legs(used)["credit.applied:c1"] == [
        ("2241.01", "debit", "399.84"),
        ("1303.01", "credit", "233.64"),
        ("1132", "credit", "166.20"),
    ]
    assert harness.loan.credit == 0
    harness.apply(Repay(event_id="r2", as_of=date(2026, 3, 16), amount=cny("1000.00")))
    refund = harness.apply(
        RefundCredit(
            event_id="back",
            as_of=date(2026, 3, 17),
            amount=Money.from_minor(harness.loan.credit, "CNY"),
        )
    )
    assert legs(refund)["overpayment.refunded:back"][0][0:2] == ("2241.01", "debit")
    assert harness.loan.credit == 0


def test_late_fee_waived() -> None:
    from loancore.servicing import LateFee

    harness = disbursed(late_fee=LateFee(fixed=cny("30.00")))
    outcome = harness.apply(Accrue(event_id="a1", as_of=date(2026, 2, 16)))
    assert legs(outcome)["fee.charged:a1.late"] == [
        ("1221", "debit", "30.00"),
        ("6021.03", "credit", "30.00"),
    ]
    waived = harness.apply(
        Waive(
            event_id="w1",
            as_of=date(2026, 2, 17),
            component=Component.FEE,
            amount=cny("30.00"),
            fee_kind=FeeKind.LATE,
        )
    )
    assert legs(waived)["waiver.fee:w1.waive.fee"] == [
        ("6021.03", "debit", "30.00"),  # the late fee's own income reversed
        ("1221", "credit", "30.00"),
    ]
    assert harness.loan.outstanding(Component.FEE) == 0
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(
            Waive(
                event_id="w2", as_of=date(2026, 2, 17), component=Component.FEE, amount=cny("1.00")
            )
        )
    assert refused.value.code is RejectionCode.WAIVER_EXCEEDS_OUTSTANDING


def test_refused_events_change_nothing() -> None:
    harness = disbursed()
    before = harness.loan
    for event, code in [
        (
            Repay(event_id="pay", as_of=date(2026, 2, 1), amount=cny("1.00")),
            RejectionCode.EVENT_ALREADY_APPLIED,
        ),
        (
            Repay(event_id="old", as_of=date(2026, 1, 1), amount=cny("1.00")),
            RejectionCode.EVENT_BEFORE_LAST,
        ),
        (ChargeFee(event_id="x", as_of=date(2026, 2, 1), amount=cny("1.00")), None),
    ]:
        if code is None:
            continue
        with pytest.raises(ServicingRejected) as refused:
            harness.apply(event)
        assert refused.value.code is code
    assert harness.loan is before
