"""Hypothesis properties of servicing over random repayment sequences on one loan."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loancore.money import Money
from loancore.servicing import (
    Accrue,
    Disburse,
    LoanProduct,
    LoanStatus,
    MerchantRefund,
    Prepay,
    Repay,
    ReversePayment,
    ServicingEvent,
    ServicingRejected,
    TransactionKind,
)
from loancore.testing.servicing import Harness, clinic_product, loan_products
from loancore.waterfall import CIVIL_CODE_561, PRESETS

payments = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 300_000)), max_size=20)
policies = st.sampled_from(sorted(PRESETS))


@settings(max_examples=60, deadline=None)
@given(payments, policies)
def test_repayments_conserve_cash_and_principal(plan: list[tuple[int, int]], name: str) -> None:
    harness = Harness.booked(clinic_product(policy=PRESETS[name], grace_days=2))
    day = date(2026, 1, 15)
    harness.apply(Disburse(event_id="pay", as_of=day))
    cash = 0
    for index, (days, fen) in enumerate(plan):
        if harness.loan.status is not LoanStatus.ACTIVE:
            break
        day += timedelta(days=days)
        outcome = harness.apply(
            Repay(event_id=f"r{index}", as_of=day, amount=Money.from_minor(fen, "CNY"))
        )
        cash += fen
        for entry in outcome.entries:  # every outcome's entries balance
            assert sum(leg.signed_minor for leg in entry.legs) == 0
    loan = harness.loan
    allocated = sum(a for t in loan.history for _n, _c, a in t.lines)
    assert cash == allocated + loan.credit  # cash in == allocated + credit
    assert (
        loan.principal_outstanding()
        + loan.principal_repaid()
        + loan.principal_written_off()
        + loan.principal_refunded
        == loan.principal_disbursed
    )
    repaid = sum(t.principal_repaid for t in loan.history if t.kind is TransactionKind.REPAYMENT)
    assert repaid == loan.principal_repaid()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5_000_00))
def test_credit_policy_keeps_money_beyond_what_is_due(extra: int) -> None:
    harness = Harness.booked(clinic_product(policy=CIVIL_CODE_561))
    harness.apply(Disburse(event_id="pay", as_of=date(2026, 1, 15)))
    due = 110016
    harness.apply(
        Repay(event_id="r", as_of=date(2026, 2, 15), amount=Money.from_minor(due + extra, "CNY"))
    )
    assert harness.loan.credit == extra
    assert harness.loan.installments[1].principal.paid == 0


events = st.lists(
    st.tuples(
        st.sampled_from(["repay", "prepay", "refund", "accrue", "reverse"]),
        st.integers(0, 40),
        st.integers(1, 400_000),
    ),
    max_size=15,
)


@settings(max_examples=200, deadline=None)
@given(loan_products(), events)
def test_any_product_keeps_ledger_equal_to_loan(
    product: LoanProduct, plan: list[tuple[str, int, int]]
) -> None:
    harness = Harness.booked(product)  # Harness.apply checks ledger == loan after each event
    day = date(2026, 1, 15)
    harness.apply(Disburse(event_id="pay", as_of=day))
    for index, (kind, days, fen) in enumerate(plan):
        day += timedelta(days=days)
        amount = Money.from_minor(fen, "CNY")
        event: ServicingEvent
        if kind == "repay":
            event = Repay(event_id=f"e{index}", as_of=day, amount=amount)
        elif kind == "prepay":
            event = Prepay(event_id=f"e{index}", as_of=day, amount=amount)
        elif kind == "refund":
            event = MerchantRefund(event_id=f"e{index}", as_of=day, amount=amount)
        elif kind == "accrue":
            event = Accrue(event_id=f"e{index}", as_of=day)
        else:
            paid = [t.event_id for t in harness.loan.history if t.kind is TransactionKind.REPAYMENT]
            if not paid:
                continue
            event = ReversePayment(event_id=f"e{index}", as_of=day, payment_id=paid[0])
        try:
            harness.apply(event)
        except ServicingRejected:
            pass
