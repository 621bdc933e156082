"""Events beyond the main stories: payout retry, cancellation, interest-free plans, recognition
on the due date, compound interest, refusals, reconciliation that catches a difference."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loancore.errors import InvalidInput, RejectionCode
from loancore.money import Money
from loancore.postings import DiscountTreatment, SubjectMapping
from loancore.servicing import (
    Accrue,
    Cancel,
    ChargeFee,
    Disburse,
    InterestRecognition,
    LoanStatus,
    MerchantRefund,
    Outcome,
    PayOff,
    PayoutFailed,
    Penalty,
    Prepay,
    PrepaymentRules,
    QuotaEffectKind,
    RefundCredit,
    Repay,
    ReversePayment,
    ServicingRejected,
    Waive,
    apply,
    payoff_amount,
    reconcile,
)
from loancore.testing.servicing import Harness, clinic_product, ledger_net_debits

START = date(2026, 1, 15)


def cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def legs(outcome: Outcome) -> dict[str, list[tuple[str, str, str]]]:
    return {
        e.entry_id: [(leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in e.legs]
        for e in outcome.entries
    }


def test_failed_card_payout_is_retried_to_another_card_without_a_second_loan() -> None:
    harness = Harness.booked(clinic_product(origination_fee_rate=Decimal("0.01")), payee="card")
    first = harness.apply(Disburse(event_id="pay1", as_of=START, card="card-A"))
    assert legs(first) == {
        "disbursement.card:pay1": [
            ("1303.01", "debit", "12000.00"),
            ("1002", "credit", "12000.00"),
        ],
        "fee.charged:pay1.origination": [
            ("1221", "debit", "120.00"),
            ("6021.01", "credit", "120.00"),
        ],
    }
    failed = harness.apply(PayoutFailed(event_id="bounce", as_of=date(2026, 1, 16)))
    assert [(e.entry_id, e.reverses) for e in failed.entries] == [
        ("disbursement.card:pay1.reversed", "disbursement.card:pay1"),
        ("fee.charged:pay1.origination.reversed", "fee.charged:pay1.origination"),
    ]
    assert harness.loan.status is LoanStatus.PENDING_DISBURSEMENT
    harness.apply(Disburse(event_id="pay2", as_of=date(2026, 1, 16), card="card-B"))
    assert harness.loan.status is LoanStatus.ACTIVE
    assert harness.loan.loan_id == "L1"
    assert [t.reference for t in harness.loan.history if t.reference] == ["card-A", "card-B"]
    assert harness.loan.principal_disbursed == 1200000


def test_cancel_before_disbursement_releases_the_hold() -> None:
    harness = Harness.booked(clinic_product())
    outcome = harness.apply(Cancel(event_id="cancel", as_of=START))
    assert outcome.entries == ()
    assert [(q.kind, q.amount) for q in outcome.quota_effects] == [
        (QuotaEffectKind.RELEASE, cny("12000.00"))
    ]
    assert harness.loan.status is LoanStatus.CANCELLED
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(Disburse(event_id="late", as_of=START))
    assert refused.value.code is RejectionCode.LOAN_NOT_PENDING


def test_interest_free_plan_shows_merchant_subsidy_as_interest_income() -> None:
    product = clinic_product(
        annual_rate=Decimal(0),
        merchant_discount_rate=Decimal("0.06"),
        mapping=SubjectMapping(discount_treatment=DiscountTreatment.INTEREST_ADJUSTMENT),
    )
    harness = Harness.booked(product)
    paid = harness.apply(Disburse(event_id="pay", as_of=START))
    assert legs(paid) == {
        "disbursement.merchant:pay": [
            ("1303.01", "debit", "12000.00"),
            ("2202", "credit", "11280.00"),
            ("1303.02", "credit", "720.00"),
        ]
    }
    first = harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 15), amount=cny("1000.00")))
    assert legs(first)["interest.adjustment:r1.adjust"] == [
        ("1303.02", "debit", "60.00"),
        ("6011", "credit", "60.00"),
    ]
    for k in range(1, 12):
        day = harness.loan.installments[k].due_date
        harness.apply(Repay(event_id=f"r{k + 1}", as_of=day, amount=cny("1000.00")))
    income = -ledger_net_debits(harness.store, "L1").get("6011", 0)
    assert income == 72000  # the whole subsidy, over the loan's life
    assert harness.loan.status is LoanStatus.PAID_OFF


def test_recognition_on_due_date_books_no_interest_before_it() -> None:
    harness = Harness.booked(clinic_product(recognition=InterestRecognition.ON_DUE_DATE))
    harness.apply(Disburse(event_id="pay", as_of=START))
    assert harness.apply(Accrue(event_id="a1", as_of=date(2026, 2, 14))).entries == ()
    due = harness.apply(Accrue(event_id="a2", as_of=date(2026, 2, 15)))
    assert legs(due) == {
        "interest.accrued:a2.accrue": [
            ("1303.03", "debit", "180.00"),
            ("6011", "credit", "180.00"),
        ],
        "interest.due:a2.due": [("1132", "debit", "180.00"), ("1303.03", "credit", "180.00")],
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda usd: Repay(event_id="x", as_of=START, amount=usd),
        lambda usd: Prepay(event_id="x", as_of=START, amount=usd),
        lambda usd: PayOff(event_id="x", as_of=START, amount=usd),
        lambda usd: MerchantRefund(event_id="x", as_of=START, amount=usd),
        lambda usd: RefundCredit(event_id="x", as_of=START, amount=usd),
        lambda usd: ChargeFee(event_id="x", as_of=START, amount=usd),
        lambda usd: Waive(event_id="x", as_of=START, component="interest", amount=usd),
    ],
    ids=["repay", "prepay", "payoff", "refund", "refund_credit", "charge_fee", "waive"],
)
def test_an_amount_in_another_currency_is_refused_naming_the_amount(make) -> None:
    # A USD 10.00 payment on a CNY loan was booked as 10.00 CNY: now refused, nothing changes.
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    before = harness.loan
    usd = Money(Decimal("10.00"), "USD")
    with pytest.raises(InvalidInput, match="expected CNY") as refused:
        apply(before, harness.product, make(usd))
    assert refused.value.field == "amount"
    assert harness.loan == before


def test_accrual_to_a_date_already_accrued_books_nothing() -> None:
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    assert harness.apply(Accrue(event_id="a1", as_of=date(2026, 1, 31))).entries != ()
    assert harness.apply(Accrue(event_id="a2", as_of=date(2026, 1, 31))).entries == ()


def test_compound_interest_runs_on_overdue_interest_after_grace() -> None:
    product = clinic_product(grace_days=3, penalty=Penalty(multiple=Decimal("1.5"), compound=True))
    harness = Harness.booked(product)
    harness.apply(Disburse(event_id="pay", as_of=START))
    within = harness.apply(Accrue(event_id="a1", as_of=date(2026, 2, 18)))
    assert not any(".penalty" in e.entry_id for e in within.entries)
    after = harness.apply(Accrue(event_id="a2", as_of=date(2026, 2, 25)))
    # ten days from the due date at 27% ACT/360: 920.16 -> 6.90, 180.00 -> 1.35
    assert legs(after)["interest.accrued:a2.penalty"] == [
        ("1132", "debit", "6.90"),
        ("6011", "credit", "6.90"),
    ]
    assert legs(after)["interest.accrued:a2.compound"] == [
        ("1132", "debit", "1.35"),
        ("6011", "credit", "1.35"),
    ]


def test_refusals_name_their_code_and_leave_the_loan_alone() -> None:
    harness = Harness.booked(
        clinic_product(prepayment=PrepaymentRules(lock_in_days=30)), payee="card"
    )
    harness.apply(Disburse(event_id="pay", as_of=START))
    loan = harness.loan
    cases = [
        (
            Prepay(event_id="p", as_of=date(2026, 1, 20), amount=cny("100")),
            "PREPAYMENT_NOT_ALLOWED",
        ),
        (MerchantRefund(event_id="m", as_of=START, amount=cny("1")), "REFUND_NOT_MERCHANT_LOAN"),
        (ReversePayment(event_id="v", as_of=START, payment_id="nope"), "PAYMENT_UNKNOWN"),
    ]
    for event, code in cases:
        with pytest.raises(ServicingRejected) as refused:
            apply(loan, harness.product, event)
        assert refused.value.code is RejectionCode[code]
    other = clinic_product(version=2)
    with pytest.raises(ServicingRejected) as refused:
        apply(loan, other, Accrue(event_id="a", as_of=START))
    assert refused.value.code is RejectionCode.PRODUCT_MISMATCH


def test_reversal_blocked_after_a_prepayment() -> None:
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    harness.apply(Repay(event_id="r1", as_of=date(2026, 2, 15), amount=cny("1100.16")))
    harness.apply(Prepay(event_id="p1", as_of=date(2026, 2, 20), amount=cny("1000.00")))
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(ReversePayment(event_id="v", as_of=date(2026, 2, 21), payment_id="r1"))
    assert refused.value.code is RejectionCode.REVERSAL_BLOCKED


def test_payoff_after_payoff_is_refused() -> None:
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    quote = payoff_amount(harness.loan, harness.product, date(2026, 2, 1))
    harness.apply(PayOff(event_id="off", as_of=date(2026, 2, 1), amount=quote))
    with pytest.raises(ServicingRejected) as refused:
        harness.apply(PayOff(event_id="off2", as_of=date(2026, 2, 1), amount=quote))
    assert refused.value.code is RejectionCode.LOAN_NOT_ACTIVE


def test_reconcile_finds_a_ledger_that_disagrees() -> None:
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="pay", as_of=START))
    balances = ledger_net_debits(harness.store, "L1")
    assert all(line.agrees for line in reconcile(harness.loan, harness.product, balances))
    balances["1303.01"] -= 1
    wrong = [line for line in reconcile(harness.loan, harness.product, balances) if not line.agrees]
    assert [(line.subject_code, line.expected, line.actual) for line in wrong] == [
        ("1303.01", 1200000, 1199999)
    ]


def test_event_ids_with_reserved_characters_are_refused() -> None:
    from loancore.errors import InvalidInput

    for bad in ("a.mgmt", "r1~v", ""):
        with pytest.raises(InvalidInput) as error:
            Repay(event_id=bad, as_of=START, amount=cny("1"))
        assert error.value.field == "event_id"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=6))
def test_accruing_twice_to_the_same_date_books_nothing(offsets: list[int]) -> None:
    harness = Harness.booked(
        clinic_product(penalty=Penalty(multiple=Decimal("1.5"), compound=True))
    )
    harness.apply(Disburse(event_id="pay", as_of=START))
    for index, offset in enumerate(sorted(offsets)):
        day = START + timedelta(days=offset)
        harness.apply(Accrue(event_id=f"a{index}", as_of=day))
        again = harness.apply(Accrue(event_id=f"b{index}", as_of=day))
        assert again.entries == ()
