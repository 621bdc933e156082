"""A partial merchant refund claws back the platform's commission (助贷) in proportion to the
principal refunded, cumulatively: partial refunds summing to the whole claw back exactly what a
full refund does. Pure core first, then through servicing on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
import stored_kit
from hypothesis import given
from hypothesis import strategies as st

from loancore.errors import InvalidInput
from loancore.money import Money, Rounding
from loancore.ports import UnitOfWork
from loancore.services import apply_event, book_order
from loancore.services import settlement as svc
from loancore.servicing import MerchantRefund
from loancore.settlement import (
    CommissionBasis,
    CommissionState,
    CommissionTerms,
    LoanActivity,
    LoanActivityKind,
    accrue_commissions,
    loan_activities,
)
from loancore.testing.settlement import cny

D = datetime.date
K = LoanActivityKind
ON_PRINCIPAL = CommissionTerms(
    platform_id="P", basis="principal_disbursed", rate="0.01", rounding=Rounding.HALF_UP
)
ON_INTEREST = CommissionTerms(
    platform_id="P", basis="interest_collected", rate="0.2", rounding=Rounding.HALF_UP
)
FIXED = CommissionTerms(
    platform_id="P", basis="fixed_per_loan", fixed=cny(5_000), rounding=Rounding.HALF_UP
)


def step(n: int, kind: LoanActivityKind, fen: int) -> LoanActivity:
    return LoanActivity(
        activity_id=f"A{n}", loan_id="L", kind=kind, on=D(2026, 1, 1 + n), amount=cny(fen)
    )


def amounts(terms: CommissionTerms, items: list[LoanActivity]) -> list[Money]:
    accruals, _state = accrue_commissions(terms, items, CommissionState())
    return [a.amount for a in accruals]


def test_partial_refunds_of_a_principal_commission_claw_back_in_proportion() -> None:
    items = [
        step(0, K.DISBURSED, 1_200_000),  # 1% of 12,000.00 = 120.00
        step(1, K.PRINCIPAL_REFUNDED, 300_000),  # 9,000.00 left: 90.00
        step(2, K.PRINCIPAL_REFUNDED, 100_000),  # 8,000.00 left: 80.00
        step(3, K.PRINCIPAL_REFUNDED, 800_000),  # nothing left
    ]
    assert amounts(ON_PRINCIPAL, items) == [cny(12_000), cny(-3_000), cny(-1_000), cny(-8_000)]


def test_a_fixed_fee_is_clawed_back_in_proportion_rounded_once() -> None:
    items = [
        step(0, K.DISBURSED, 600_000),
        step(1, K.PRINCIPAL_REFUNDED, 100_000),  # 50.00 x 5/6 = 41.666.. -> 41.67
        step(2, K.PRINCIPAL_REFUNDED, 500_000),
    ]
    assert amounts(FIXED, items) == [cny(5_000), cny(-833), cny(-4_167)]


def test_interest_collected_after_a_partial_refund_is_shrunk_only_by_later_refunds() -> None:
    items = [
        step(0, K.DISBURSED, 1_000_000),
        step(1, K.INTEREST_COLLECTED, 10_000),  # 20% of 100.00 = 20.00
        step(2, K.PRINCIPAL_REFUNDED, 250_000),  # basis 75.00 -> 15.00: -5.00
        step(3, K.INTEREST_COLLECTED, 3_333),  # basis 108.33 -> 21.666 -> 21.67: +6.67
        step(4, K.PRINCIPAL_REFUNDED, 250_000),  # 5,000 of 7,500 left: 72.22 -> 14.44: -7.23
    ]
    assert amounts(ON_INTEREST, items) == [cny(2_000), cny(-500), cny(667), cny(-723)]
    _accruals, state = accrue_commissions(ON_INTEREST, items, CommissionState())
    assert state.earned("L", "CNY") == cny(1_444)


def test_refunding_more_principal_than_stands_is_refused_naming_the_amount() -> None:
    items = [step(0, K.DISBURSED, 100_000), step(1, K.PRINCIPAL_REFUNDED, 60_000)]
    with pytest.raises(InvalidInput) as raised:
        accrue_commissions(
            ON_PRINCIPAL, [*items, step(2, K.PRINCIPAL_REFUNDED, 40_001)], CommissionState()
        )
    assert raised.value.field == "activity.amount"


TERMS = st.sampled_from([ON_PRINCIPAL, ON_INTEREST, FIXED]).flatmap(
    lambda t: st.sampled_from(list(Rounding)).map(
        lambda r: CommissionTerms(
            platform_id="P", basis=t.basis, rate=t.rate or "0.137", rounding=r, fixed=t.fixed
        )
    )
)


@st.composite
def cuts(draw: st.DrawFn, whole: int) -> list[int]:
    """``whole`` cut into 1 to 8 positive pieces."""
    points = draw(st.lists(st.integers(1, whole - 1), max_size=7, unique=True)) if whole > 1 else []
    edges = [0, *sorted(points), whole]
    return [b - a for a, b in itertools.pairwise(edges)]


@given(
    terms=TERMS,
    principal=st.integers(1, 10**9),
    interest=st.lists(st.integers(0, 10**7), max_size=5),
    data=st.data(),
)
def test_partial_refunds_summing_to_the_whole_claw_back_what_a_full_refund_does(
    terms: CommissionTerms, principal: int, interest: list[int], data: st.DataObject
) -> None:
    before = [step(0, K.DISBURSED, principal)]
    before += [step(1 + i, K.INTEREST_COLLECTED, m) for i, m in enumerate(interest)]
    pieces = data.draw(cuts(principal))
    partial = [step(10 + i, K.PRINCIPAL_REFUNDED, m) for i, m in enumerate(pieces)]
    full = [step(10, K.REFUNDED, 0)]
    earned = sum(amounts(terms, before), cny(0))
    clawed_partial = sum(amounts(terms, [*before, *partial]), cny(0)) - earned
    clawed_full = sum(amounts(terms, [*before, *full]), cny(0)) - earned
    assert clawed_partial == clawed_full == -earned


@given(
    terms=TERMS,
    principal=st.integers(2, 10**9),
    interest=st.integers(0, 10**7),
    data=st.data(),
)
def test_partial_claw_back_is_cumulative_however_the_refund_is_cut(
    terms: CommissionTerms, principal: int, interest: int, data: st.DataObject
) -> None:
    refunded = data.draw(st.integers(1, principal - 1))
    before = [step(0, K.DISBURSED, principal), step(1, K.INTEREST_COLLECTED, interest)]
    pieces = data.draw(cuts(refunded))
    cut = [step(10 + i, K.PRINCIPAL_REFUNDED, m) for i, m in enumerate(pieces)]
    whole = [step(10, K.PRINCIPAL_REFUNDED, refunded)]
    assert sum(amounts(terms, [*before, *cut]), cny(0)) == sum(
        amounts(terms, [*before, *whole]), cny(0)
    )
    # ... and it is the commission on what stands, rounded once
    basis = {
        CommissionBasis.PRINCIPAL_DISBURSED: Decimal(principal),
        CommissionBasis.INTEREST_COLLECTED: Decimal(interest),
        CommissionBasis.FIXED_PER_LOAN: Decimal(5_000),
    }[terms.basis]
    rate = Decimal(1) if terms.basis is CommissionBasis.FIXED_PER_LOAN else terms.rate
    exact = basis * rate * (principal - refunded) / principal / 100
    expected = Money.of(exact, "CNY", rounding=terms.rounding)
    assert sum(amounts(terms, [*before, *whole]), cny(0)) == expected


# -- through servicing ---------------------------------------------------------------------------


def payable(uow: UnitOfWork, platform: str) -> Money:
    with uow:
        return uow.ledger.balance(
            "2241.03", "CNY", as_of=D(2030, 12, 31), dimensions={"partner": platform}
        )


def test_a_partial_merchant_refund_claws_back_in_proportion_through_servicing(
    uow: UnitOfWork,
) -> None:
    stored_kit.set_up_servicing(uow)
    for loan_id in ("LP", "LF"):
        book_order(
            uow, order_id=f"order-{loan_id}", loan_id=loan_id, customer_id="C1", line_id="LINE",
            product_id="clinic-12", product_version=1, principal=cny(600_000), installments=12,
            start_date=D(2026, 1, 15), merchant_id="M1",
        )  # fmt: skip
    rate = CommissionTerms(
        platform_id="P2", basis=CommissionBasis.PRINCIPAL_DISBURSED, rate="0.01",
        rounding=Rounding.HALF_UP,
    )  # fmt: skip
    fixed = CommissionTerms(
        platform_id="P3", basis=CommissionBasis.FIXED_PER_LOAN, rounding=Rounding.HALF_UP,
        fixed=cny(5_000),
    )  # fmt: skip
    svc.assign_commission(uow, "LP", rate)
    svc.assign_commission(uow, "LF", fixed)
    for loan_id in ("LP", "LF"):
        refund = MerchantRefund(event_id=f"rf-{loan_id}", as_of=D(2026, 1, 20), amount=cny(150_000))
        apply_event(uow, loan_id, refund)
    # 60.00 x 4,500/6,000 = 45.00 and 50.00 x 3/4 = 37.50
    assert (payable(uow, "P2"), payable(uow, "P3")) == (cny(4_500), cny(3_750))
    with uow:
        loan = uow.loans.load("LP")
        entry = uow.ledger.get_entry("commission.clawed_back:commission:P2:LP:rf-LP")
    assert [a.kind for a in loan_activities(loan)] == [K.DISBURSED, K.PRINCIPAL_REFUNDED]
    assert {(leg.subject_code, leg.side.value, leg.amount) for leg in entry.legs} == {
        ("2241.03", "debit", cny(1_500)),
        ("6421", "credit", cny(1_500)),
    }
