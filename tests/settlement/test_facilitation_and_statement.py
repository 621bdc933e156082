"""Platform commission (accrual, clawback, periodic statement) and the merchant statement."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from settlement_support import at, t1

from loancore.calendar import BusinessCalendar
from loancore.errors import InvalidInput, RejectionCode, SettlementRejected
from loancore.money import Rounding
from loancore.settlement import (
    Capture,
    CommissionBasis,
    CommissionState,
    CommissionTerms,
    Deduction,
    LoanActivity,
    LoanActivityKind,
    accrue_commissions,
    commission_statement,
    merchant_statement,
    parse_result_csv,
    reconcile,
    run_settlement,
)
from loancore.testing.settlement import cny

D = datetime.date
ON_INTEREST = CommissionTerms(
    platform_id="P", basis="interest_collected", rate="0.2", rounding=Rounding.HALF_UP
)


def activity(n: int, loan: str, kind: LoanActivityKind, fen: int, day: int = 1) -> LoanActivity:
    return LoanActivity(
        activity_id=f"A{n}", loan_id=loan, kind=kind, on=D(2025, 10, day), amount=cny(fen)
    )


def test_commission_on_interest_is_rounded_once_on_the_running_basis() -> None:
    # 20% of 0.03 is 0.006 each time: rounding each accrual would give 0.01 x 3 = 0.03;
    # rounding the running figure gives 0.01, 0.01, 0.02 -> accruals 0.01, 0.00, 0.01.
    items = [activity(i, "L1", LoanActivityKind.INTEREST_COLLECTED, 3) for i in range(3)]
    accruals, state = accrue_commissions(ON_INTEREST, items, CommissionState())
    assert [a.amount for a in accruals] == [cny(1), cny(1)]
    assert [a.accrual_id for a in accruals] == ["commission:P:A0", "commission:P:A2"]
    assert state.earned("L1", "CNY") == cny(2)


@given(st.lists(st.integers(0, 100_000), max_size=40))
def test_commission_to_date_is_the_rate_of_the_basis_rounded_once(collections: list[int]) -> None:
    items = [
        activity(i, "L", LoanActivityKind.INTEREST_COLLECTED, c) for i, c in enumerate(collections)
    ]
    accruals, _state = accrue_commissions(ON_INTEREST, items, CommissionState())
    total = sum((a.amount for a in accruals), cny(0))
    assert total == cny(sum(collections)).multiply("0.2", rounding=Rounding.HALF_UP)


def test_refund_claws_back_everything_and_stops_accruing() -> None:
    terms = CommissionTerms(
        platform_id="P", basis="principal_disbursed", rate="0.01", rounding="HALF_UP"
    )
    items = [
        activity(1, "L1", LoanActivityKind.DISBURSED, 1_200_000),
        activity(2, "L1", LoanActivityKind.REFUNDED, 0, day=5),
    ]
    accruals, state = accrue_commissions(terms, items, CommissionState())
    assert [a.amount for a in accruals] == [cny(12_000), cny(-12_000)]
    with pytest.raises(SettlementRejected) as raised:
        accrue_commissions(terms, [activity(3, "L1", LoanActivityKind.DISBURSED, 1)], state)
    assert raised.value.code is RejectionCode.COMMISSION_ALREADY_CLAWED_BACK


def test_statement_pays_a_positive_net_and_carries_a_negative_one() -> None:
    fixed = CommissionTerms(
        platform_id="P", basis=CommissionBasis.FIXED_PER_LOAN, fixed=cny(5_000), rounding="DOWN"
    )
    items = [
        activity(1, "L1", LoanActivityKind.DISBURSED, 100, day=1),
        activity(2, "L2", LoanActivityKind.DISBURSED, 100, day=2),
        activity(3, "L1", LoanActivityKind.REFUNDED, 0, day=3),
        activity(4, "L2", LoanActivityKind.REFUNDED, 0, day=20),
    ]
    accruals, _ = accrue_commissions(fixed, items, CommissionState())
    first = commission_statement(
        "P", D(2025, 10, 1), D(2025, 10, 15), accruals=accruals, carried_in=cny(0)
    )
    assert (first.earned, first.clawed_back, first.payable) == (cny(10_000), cny(5_000), cny(5_000))
    second = commission_statement(
        "P", D(2025, 10, 16), D(2025, 10, 31), accruals=accruals, carried_in=first.carried_out
    )
    assert (second.payable, second.carried_out) == (cny(0), cny(-5_000))
    assert second.statement_id == "commission:P:2025-10-16:2025-10-31"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("fixed", {"basis": "fixed_per_loan"}),
        ("fixed", {"basis": "interest_collected", "fixed": cny(1)}),
        ("rate", {"basis": "interest_collected", "rate": "2"}),
    ],
)
def test_bad_commission_terms_name_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as raised:
        CommissionTerms(platform_id="P", rounding="UP", **kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_merchant_statement_sums_captures_refunds_fees_and_payouts(cn: BusinessCalendar) -> None:
    terms = {"M1": t1("M1")}
    orders = [
        Capture(order_id="O1", merchant_id="M1", amount=cny(100_000), captured_at=at(2025, 10, 13)),
        Capture(order_id="O2", merchant_id="M1", amount=cny(50_000), captured_at=at(2025, 10, 14)),
    ]
    refund = Deduction(
        deduction_id="R1", kind="refund", merchant_id="M1", order_id="O1", amount=cny(20_000),
        occurred_at=at(2025, 10, 14),
    )  # fmt: skip
    run1 = run_settlement(D(2025, 10, 14), channel="c", calendar=cn, terms=terms, captures=orders)
    run2 = run_settlement(
        D(2025, 10, 15),
        channel="c",
        calendar=cn,
        terms=terms,
        captures=orders[1:],
        deductions=[refund],
    )
    file1 = "batch_id,line_id,amount,status\nc:2025-10-14,c:2025-10-14:M1,994.00,SUCCESS\n"
    file2 = "batch_id,line_id,amount,status\nc:2025-10-15,c:2025-10-15:M1,297.00,FAILED\n"
    recs = [
        reconcile(run1.batch, parse_result_csv(file1), booked_on=D(2025, 10, 15)),
        reconcile(run2.batch, parse_result_csv(file2), booked_on=D(2025, 10, 16)),
    ]
    statement = merchant_statement(
        "M1",
        D(2025, 10, 1),
        D(2025, 10, 31),
        batches=[run2.batch, run1.batch],
        reconciliations=recs,
    )
    assert [day for day, _line in statement.lines] == [D(2025, 10, 14), D(2025, 10, 15)]
    assert (statement.order_count, statement.captured, statement.refunded) == (
        2,
        cny(150_000),
        cny(20_000),
    )
    assert (statement.fees, statement.instructed) == (cny(900), cny(99_400 + 29_700))
    assert (statement.paid, statement.failed, statement.in_transit) == (
        cny(99_400),
        cny(29_700),
        cny(0),
    )
    with pytest.raises(InvalidInput, match="period_end"):
        merchant_statement("M1", D(2025, 10, 2), D(2025, 10, 1), batches=[])
