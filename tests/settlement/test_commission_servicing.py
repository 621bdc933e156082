"""A traffic platform's commission (助贷) following servicing, end to end on memory, SQLite and
PostgreSQL: accrued as earned (on the interest collected, net of a reversed payment; on the
principal disbursed; a fixed fee), clawed back when a refund cancels the loan, each accrual
booked once, the payable on 2241.03."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
import stored_kit
from hypothesis import given
from hypothesis import strategies as st
from stored_kit import entry_count

from loancore.errors import IdempotencyConflict
from loancore.money import Money, Rounding
from loancore.ports import UnitOfWork
from loancore.services import apply_event, book_order
from loancore.services import settlement as svc
from loancore.servicing import MerchantRefund, Repay, ReversePayment
from loancore.settlement import (
    CommissionBasis,
    CommissionState,
    CommissionTerms,
    LoanActivity,
    LoanActivityKind,
    accrue_commissions,
)

D = datetime.date
FAR = D(2030, 12, 31)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def book(uow: UnitOfWork, loan_id: str, **payee: str) -> None:
    book_order(
        uow, order_id=f"order-{loan_id}", loan_id=loan_id, customer_id="C1", line_id="LINE",
        product_id="clinic-12", product_version=1, principal=cny("6000.00"), installments=12,
        start_date=D(2026, 1, 15), **payee,
    )  # fmt: skip


def payable(uow: UnitOfWork, platform: str) -> Money:
    with uow:
        return uow.ledger.balance("2241.03", "CNY", as_of=FAR, dimensions={"partner": platform})


def interest_collected(uow: UnitOfWork, loan_id: str) -> Decimal:
    with uow:
        loan = uow.loans.load(loan_id)
    minor = sum(
        m
        for t in loan.history
        if t.kind.value == "repayment" and t.reversed_by is None
        for _n, value, m in t.lines
        if value == "interest"
    )
    return Decimal(minor) / 100


def test_commission_on_interest_follows_collections_and_reversals(uow: UnitOfWork) -> None:
    stored_kit.set_up_servicing(uow)
    book(uow, "LC", card="6222-card")
    platform = CommissionTerms(
        platform_id="P1", basis=CommissionBasis.INTEREST_COLLECTED, rate="0.2",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    assert svc.assign_commission(uow, "LC", platform) == ()  # no interest collected yet
    apply_event(uow, "LC", Repay(event_id="r1", as_of=D(2026, 2, 15), amount=cny("550.07")))
    apply_event(uow, "LC", Repay(event_id="r2", as_of=D(2026, 3, 15), amount=cny("200.00")))
    apply_event(uow, "LC", Repay(event_id="r3", as_of=D(2026, 3, 16), amount=cny("300.00")))
    apply_event(uow, "LC", ReversePayment(event_id="rv", as_of=D(2026, 3, 20), payment_id="r2"))
    net = interest_collected(uow, "LC")
    assert net > 0
    exact = (net * Decimal("0.2")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert payable(uow, "P1") == Money(exact, "CNY")  # the rate of the net basis, rounded once
    booked = entry_count(uow)
    assert svc.assign_commission(uow, "LC", platform)  # a replay: the same entries, none new
    assert entry_count(uow) == booked
    other = CommissionTerms(
        platform_id="P1", basis=CommissionBasis.INTEREST_COLLECTED, rate="0.3",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    with pytest.raises(IdempotencyConflict):
        svc.assign_commission(uow, "LC", other)


def test_disbursement_commission_and_fixed_fee_are_clawed_back_by_a_full_refund(
    uow: UnitOfWork,
) -> None:
    stored_kit.set_up_servicing(uow)
    book(uow, "LP", merchant_id="M1")
    book(uow, "LF", merchant_id="M1")
    rate = CommissionTerms(
        platform_id="P2", basis=CommissionBasis.PRINCIPAL_DISBURSED, rate="0.01",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    fixed = CommissionTerms(
        platform_id="P3", basis=CommissionBasis.FIXED_PER_LOAN, rounding=Rounding.HALF_UP,
        fixed=cny("50.00"),
    )  # fmt: skip
    svc.assign_commission(uow, "LP", rate)
    svc.assign_commission(uow, "LF", fixed)
    assert (payable(uow, "P2"), payable(uow, "P3")) == (cny("60.00"), cny("50.00"))
    refund = MerchantRefund(event_id="rf", as_of=D(2026, 1, 20), amount=cny("6000.00"))
    apply_event(uow, "LP", refund)
    assert payable(uow, "P2").is_zero() and payable(uow, "P3") == cny("50.00")
    with uow:
        expense = uow.ledger.balance("6421", "CNY", as_of=FAR, dimensions={"loan": "LP"})
    assert expense.is_zero()


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 100_000)), max_size=40))
def test_commission_to_date_is_the_rate_of_the_net_interest_rounded_once(
    steps: list[tuple[bool, int]],
) -> None:
    terms = CommissionTerms(
        platform_id="P", basis=CommissionBasis.INTEREST_COLLECTED, rate="0.155",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    activities, collected = [], []
    for n, (reverse, minor) in enumerate(steps):
        if reverse and collected:
            kind, minor = LoanActivityKind.INTEREST_REVERSED, collected.pop()
        else:
            kind = LoanActivityKind.INTEREST_COLLECTED
            collected.append(minor)
        activities.append(
            LoanActivity(activity_id=f"a{n}", loan_id="L", kind=kind, on=D(2026, 1, 1),
                         amount=Money.from_minor(minor, "CNY"))
        )  # fmt: skip
    accruals, state = accrue_commissions(terms, activities, CommissionState())
    net = Decimal(sum(collected)) / 100
    exact = (net * Decimal("0.155")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert sum((a.amount for a in accruals), cny("0")) == Money(exact, "CNY")
    assert state.earned("L", "CNY") == Money(exact, "CNY")
