"""Recoveries on a joint loan's loss (核销后收回, and a bad loan's sale price) split among the
funders in the shares of the loss, through one cumulative stream, so that every recovery sums
to the whole and, once everything written off is recovered, each funder has got back exactly
what it lost. The story: 10,000.00 funded 30% by the lender and 70% by a bank, 4,000.00 of
principal repaid, written off at 6,000.00 outstanding, then 1,000.00 and 333.33 recovered."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
import stored_kit
from hypothesis import given
from hypothesis import strategies as st
from stored_kit import balance, entry_count

from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import Component, LoanSold, WrittenOff
from loancore.services import (
    apply_event,
    close_business_day,
    recover_loan,
    sell_loan,
    write_off_loan,
)
from loancore.services import settlement as svc
from loancore.servicing import Prepay
from loancore.settlement import (
    FunderKind,
    FundingShare,
    JointLoan,
    ShareRule,
    recovery_entries,
    recovery_split,
    sale_splits,
    write_off_split,
    written_off_of,
)

D = datetime.date
FAR = D(2030, 12, 31)
SHARES = [
    FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.3"),
    FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.7"),
]
DIMS = {"loan": "LJ"}


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def legs(entry: JournalEntry) -> list[tuple[str, str, str]]:
    return sorted((leg.subject_code, leg.side.value, str(leg.amount.amount)) for leg in entry.legs)


def written_off_at_6000() -> JointLoan:
    joint = JointLoan.disburse("LJ", cny("10000.00"), SHARES)
    _parts, joint = joint.collect(Component.PRINCIPAL, cny("4000.00"))
    event = WrittenOff(
        event_id="wo-LJ", accounting_date=D(2026, 8, 1), dimensions=DIMS,
        principal=cny("6000.00"),
    )  # fmt: skip
    _lost, joint = write_off_split(joint, event)
    return joint


def test_recoveries_are_split_in_the_shares_of_the_loss_exactly() -> None:
    joint = written_off_at_6000()
    assert joint.lost == (cny("1800.00"), cny("4200.00"))
    first, joint = recovery_split(joint, "rc1", D(2026, 9, 1), cny("1000.00"))
    assert first.parts == (cny("300.00"), cny("700.00"))
    # 333.33 x 30% = 99.999: each step rounds toward zero (99.99 / 233.33) and the fen left
    # goes to the funder furthest behind its exact share of the running 1,333.33 (the lender:
    # 399.99 against 399.999), so the running totals are 400.00 / 933.33.
    second, joint = recovery_split(joint, "rc2", D(2026, 9, 2), cny("333.33"))
    assert second.parts == (cny("100.00"), cny("233.33"))
    assert joint.totals("recovered") == (cny("400.00"), cny("933.33"))
    (entry,) = recovery_entries(joint, second, DIMS)
    assert (entry.entry_id, entry.idempotency_key) == (
        "joint.recovered:rc2@bank",
        "joint.recovered:rc2@bank",
    )
    assert legs(entry) == [("2241.02", "credit", "233.33"), ("6702", "debit", "233.33")]
    assert dict(entry.legs[0].dimensions) == {"loan": "LJ", "partner": "bank"}
    # the rest recovered: each funder got back exactly what it lost
    _rest, joint = recovery_split(joint, "rc3", D(2026, 9, 3), cny("4666.67"))
    assert joint.totals("recovered") == joint.lost


def test_a_recovery_before_a_loss_or_a_loss_after_recoveries_is_refused() -> None:
    joint = JointLoan.disburse("LJ", cny("10000.00"), SHARES)
    with pytest.raises(InvalidInput) as nothing:
        joint.recover(cny("1.00"))
    assert nothing.value.field == "amount"
    _parts, recovering = written_off_at_6000().recover(cny("1.00"))
    with pytest.raises(InvalidInput) as late:
        recovering.write_off(Component.FEE, cny("1.00"))
    assert late.value.field == "amount"


def test_a_sale_loses_what_the_loan_carried_and_shares_the_price_in_the_same_shares() -> None:
    joint = JointLoan.disburse("LJ", cny("10000.00"), SHARES)
    _parts, joint = joint.collect(Component.PRINCIPAL, cny("4000.00"))
    sold = LoanSold(
        event_id="sale-LJ", accounting_date=D(2026, 9, 1), dimensions=DIMS,
        price=cny("1800.00"), principal=cny("6000.00"),
    )  # fmt: skip
    lost, recovered, joint = sale_splits(joint, sold, interest_off_books=cny("0.00"))
    assert lost.of(1) == {Component.PRINCIPAL: cny("4200.00")}
    assert recovered.parts == (cny("540.00"), cny("1260.00"))
    assert joint.totals("principal") == (cny("3000.00"), cny("7000.00"))


@st.composite
def losses(draw: st.DrawFn) -> JointLoan:
    """A joint loan of 2 to 4 funders with principal, interest and fees written off."""
    count = draw(st.integers(2, 4))
    points = sorted(draw(st.lists(st.integers(1, 99), min_size=count - 1, max_size=count - 1,
                                  unique=True)))  # fmt: skip
    edges = [0, *points, 100]
    shares = [
        FundingShare(
            funder_id=f"f{i}",
            kind=FunderKind.PARTNER if i else FunderKind.LENDER,
            ratio=Decimal(edges[i + 1] - edges[i]) / 100,
        )
        for i in range(count)
    ]
    principal = draw(st.integers(100, 10**9))
    joint = JointLoan.disburse("L", Money.from_minor(principal, "CNY"), shares, rule=_NO_MINIMUM)
    repaid = draw(st.integers(0, principal - 1))
    _parts, joint = joint.collect(Component.PRINCIPAL, Money.from_minor(repaid, "CNY"))
    event = WrittenOff(
        event_id="wo", accounting_date=D(2026, 8, 1), dimensions={"loan": "L"},
        principal=Money.from_minor(principal - repaid, "CNY"),
        fee=Money.from_minor(draw(st.integers(0, 10**7)), "CNY"),
    )  # fmt: skip
    interest = Money.from_minor(draw(st.integers(0, 10**7)), "CNY")
    _lost, joint = write_off_split(joint, event, interest_off_books=interest)
    return joint


_NO_MINIMUM = ShareRule(applies_to=frozenset())


@given(joint=losses(), data=st.data())
def test_recoveries_conserve_every_amount_and_stay_within_the_bound_of_the_exact_shares(
    joint: JointLoan, data: st.DataObject
) -> None:
    whole = sum(p.minor_units for p in joint.lost)
    weights = [p.minor_units for p in joint.lost]
    steps = data.draw(st.lists(st.integers(0, whole), min_size=1, max_size=30))
    total = 0
    for minor in steps:
        amount = Money.from_minor(minor, "CNY")
        parts, joint = joint.recover(amount)
        assert sum(parts, Money.zero("CNY")) == amount
        assert all(not p.is_negative() for p in parts)
        total += minor
        for got, weight in zip(joint.totals("recovered"), weights, strict=True):
            exact = Decimal(total) * weight / whole
            assert abs(got.minor_units - exact) <= len(weights) - 1


@given(joint=losses(), data=st.data())
def test_recovering_everything_written_off_gives_each_of_two_funders_back_exactly_its_loss(
    joint: JointLoan, data: st.DataObject
) -> None:
    whole = sum(p.minor_units for p in joint.lost)
    cuts = sorted(data.draw(st.lists(st.integers(0, whole), max_size=10)))
    edges = [0, *cuts, whole]
    for a, b in itertools.pairwise(edges):
        _parts, joint = joint.recover(Money.from_minor(b - a, "CNY"))
    got = joint.totals("recovered")
    assert sum(got, Money.zero("CNY")) == Money.from_minor(whole, "CNY")
    if len(got) == 2:
        assert got == joint.lost
    else:
        assert all(
            abs(g.minor_units - w.minor_units) <= len(got) - 1
            for g, w in zip(got, joint.lost, strict=True)
        )


def test_written_off_of_refuses_a_register_below_the_principal_written_off(
    uow: UnitOfWork,
) -> None:
    book_written_off(uow)
    with uow:
        loan = uow.loans.load("LJ")
    written, interest = written_off_of(loan, cny("6000.00"))
    assert (written.principal, written.fee, interest) == (cny("6000.00"), cny("0"), cny("0"))
    with pytest.raises(InvalidInput) as raised:
        written_off_of(loan, cny("5999.99"))
    assert raised.value.field == "registered"


# -- through the services ------------------------------------------------------------------------


def book_6000_left(uow: UnitOfWork) -> None:
    """The story's loan: booked and funded 30/70 on 2026-01-15, 4,000.00 prepaid the same day
    (4,040.00 with the 1% prepayment fee): 6,000.00 outstanding."""
    stored_kit.book_joint(uow, SHARES)
    apply_event(uow, "LJ", Prepay(event_id="p1", as_of=D(2026, 1, 15), amount=cny("4040.00")))


def book_written_off(uow: UnitOfWork) -> None:
    """The story's loan written off at 6,000.00 outstanding."""
    book_6000_left(uow)
    write_off_loan(uow, "LJ", as_of=D(2026, 1, 15), event_id="wo-LJ")


def test_recoveries_through_the_services_post_the_banks_parts_once(uow: UnitOfWork) -> None:
    book_written_off(uow)
    with uow:
        assert legs(uow.ledger.get_entry("write_off:wo-LJ")) == [
            ("1303.01", "credit", "6000.00"),
            ("1304.03", "debit", "6000.00"),
        ]
        assert legs(uow.ledger.get_entry("joint.loss:wo-LJ@bank")) == [
            ("2241.04", "debit", "4200.00"),
            ("6702", "credit", "4200.00"),
        ]
    recover_loan(uow, "LJ", cny("1000.00"), as_of=D(2026, 9, 1), event_id="rc1")
    recover_loan(uow, "LJ", cny("333.33"), as_of=D(2026, 9, 2), event_id="rc2")
    with uow:
        assert legs(uow.ledger.get_entry("joint.recovered:rc1@bank")) == [
            ("2241.02", "credit", "700.00"),
            ("6702", "debit", "700.00"),
        ]
        assert legs(uow.ledger.get_entry("joint.recovered:rc2@bank")) == [
            ("2241.02", "credit", "233.33"),
            ("6702", "debit", "233.33"),
        ]
    booked = entry_count(uow)
    recover_loan(uow, "LJ", cny("333.33"), as_of=D(2026, 9, 2), event_id="rc2")  # a replay
    assert entry_count(uow) == booked
    # the bank has lost 4,200.00 - 933.33; the lender keeps 1,000.00 + 333.33 - 933.33
    assert balance(uow, "6702", loan="LJ", partner="bank") == cny("-3266.67")
    statement = svc.partner_statement(uow, "bank", D(2026, 1, 1), D(2026, 12, 31))
    assert statement.recovered == cny("933.33")
    assert statement.principal_lost == cny("4200.00")
    # everything else recovered: the bank got back exactly what it lost, 6702 nets to nothing
    # for it, and the lender's own loss is gone too
    recover_loan(uow, "LJ", cny("4666.67"), as_of=D(2026, 9, 3), event_id="rc3")
    assert balance(uow, "6702", loan="LJ", partner="bank").is_zero()
    assert balance(uow, "2241.02", loan="LJ", partner="bank") == cny("2828.00") + cny("4200.00")
    with uow:
        assert uow.ledger.trial_balance(as_of=FAR).is_balanced()


def test_a_sale_through_the_services_closes_the_banks_funding_and_shares_the_price(
    uow: UnitOfWork,
) -> None:
    """The story's loan never paid after the prepayment, 次级 after 90 days, sold for 1,800.00:
    the bank's 4,200.00 of principal is lost (``joint.loss``) and it gets its share of the price
    (``joint.recovered``): 70% of it to the fen, as its loss is 70% of what the loan carried
    (6,000.00 principal, 110.00 late fees and the interest the buyer took)."""
    book_6000_left(uow)
    day = D(2026, 1, 16)
    while day <= D(2026, 5, 26):
        assert close_business_day(uow, day).failed == ()
        day += datetime.timedelta(days=1)
    sell_loan(uow, "LJ", cny("1800.00"), as_of=D(2026, 5, 26), event_id="sale-LJ")
    with uow:
        assert legs(uow.ledger.get_entry("joint.loss:sale-LJ@bank")) == [
            ("2241.04", "debit", "4200.00"),
            ("6702", "credit", "4200.00"),
        ]
        assert legs(uow.ledger.get_entry("joint.recovered:sale-LJ@bank")) == [
            ("2241.02", "credit", "1260.00"),
            ("6702", "debit", "1260.00"),
        ]
        assert uow.ledger.trial_balance(as_of=FAR).is_balanced()
    assert balance(uow, "2241.04", loan="LJ", partner="bank").is_zero()
    booked = entry_count(uow)
    sell_loan(uow, "LJ", cny("1800.00"), as_of=D(2026, 5, 26), event_id="sale-LJ")  # a replay
    assert entry_count(uow) == booked


def test_the_loss_rebuilt_for_recoveries_is_the_one_the_write_off_booked(uow: UnitOfWork) -> None:
    """Written off 100 days late (interest, penalty and late fees written off too), then all of
    it recovered in three steps: the bank gets back its principal lost (``joint.loss``) plus its
    part of the interest and fees lost, exactly what the write-off's split gave it."""
    book_6000_left(uow)
    day = D(2026, 1, 16)
    while day <= D(2026, 5, 26):
        assert close_business_day(uow, day).failed == ()
        day += datetime.timedelta(days=1)
    write_off_loan(uow, "LJ", as_of=D(2026, 5, 26), event_id="wo-LJ")
    with uow:
        loan = uow.loans.load("LJ")
        register = loan.money(uow.loans.load_standings(["LJ"])["LJ"].written_off)
    fee = loan.money(sum(i.fee.written_off for i in loan.installments))
    interest = register - cny("6000.00") - fee
    assert fee.is_positive() and interest.is_positive()
    fresh = JointLoan.disburse("LJ", cny("10000.00"), SHARES)
    (_l1, bank_interest), fresh = fresh.write_off(Component.INTEREST, interest)
    (_l2, bank_fee), _fresh = fresh.write_off(Component.FEE, fee)
    for n, amount in enumerate((cny("1000.00"), cny("333.33"))):
        recover_loan(uow, "LJ", amount, as_of=D(2026, 6, 1 + n), event_id=f"rc{n}")
    rest = register - cny("1333.33")
    recover_loan(uow, "LJ", rest, as_of=D(2026, 6, 5), event_id="rc-rest")
    statement = svc.partner_statement(uow, "bank", D(2026, 1, 1), D(2026, 12, 31))
    assert statement.principal_lost == cny("4200.00")
    assert statement.recovered == cny("4200.00") + bank_interest + bank_fee
