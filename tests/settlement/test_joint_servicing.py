"""A joint loan (联合贷款) on servicing, end to end on memory, SQLite and PostgreSQL: funded 70/30
by the lender and a bank, repaid once on time and once late (penalty), a payment reversed, then
written off by the delinquency core; every collection and the loss are shared to the fen, each
once, and at the end the bank has got back or lost exactly the principal it lent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import stored_kit
from stored_kit import balance, entry_count

from loancore.delinquency import write_off
from loancore.delinquency.nonaccrual import interest_on_books
from loancore.errors import IdempotencyConflict, RejectionCode, SettlementRejected
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import Component, WrittenOff
from loancore.services import apply_event, write_off_loan
from loancore.services import settlement as svc
from loancore.servicing import Accrue, LoanStatus, Repay, ReversePayment
from loancore.settlement import FunderKind, FundingShare

D = datetime.date
FAR = D(2030, 12, 31)
SHARES = [
    FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.7"),
    FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.3"),
]


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def due(uow: UnitOfWork, number: int) -> Money:
    with uow:
        loan = uow.loans.load("LJ")
    return loan.money(loan.installments[number - 1].outstanding())


def book_joint(uow: UnitOfWork) -> None:
    stored_kit.book_joint(uow, SHARES)


def test_joint_loan_repaid_late_and_written_off_shares_exact_to_the_fen(uow: UnitOfWork) -> None:
    book_joint(uow)
    assert balance(uow, "2241.04", loan="LJ", partner="bank") == cny("3000.00")
    on_time = Repay(event_id="r1", as_of=D(2026, 2, 15), amount=due(uow, 1))
    apply_event(uow, "LJ", on_time)
    apply_event(uow, "LJ", Repay(event_id="r2", as_of=D(2026, 4, 27), amount=cny("600.00")))
    apply_event(uow, "LJ", Repay(event_id="r3", as_of=D(2026, 4, 28), amount=cny("100.00")))
    apply_event(
        uow, "LJ", ReversePayment(event_id="back-r3", as_of=D(2026, 4, 29), payment_id="r3")
    )
    booked = entry_count(uow)
    assert apply_event(uow, "LJ", on_time).replayed and entry_count(uow) == booked

    with uow:  # what servicing collected, by component, as the loan's history says
        loan = uow.loans.load("LJ")
    collected = {c: 0 for c in Component}
    for txn in loan.history:
        if txn.kind.value in ("repayment", "credit_applied") and txn.reversed_by is None:
            for _n, value, minor in txn.lines:
                collected[Component(value)] += minor
    assert collected[Component.PENALTY] > 0  # the late installment paid penalty interest
    collected_for_bank = balance(uow, "2241.02", partner="bank")
    # The bank's payable is its part of every component collected (never a reversed one),
    # each stream within a fen of its exact 30%.
    income = sum(v for c, v in collected.items() if c is not Component.PRINCIPAL)
    exact = Decimal(collected[Component.PRINCIPAL] + income) * Decimal("0.3") / 100
    assert abs(collected_for_bank.amount - exact) <= Decimal("0.02")
    repaid_part = cny("3000.00") - balance(uow, "2241.04", loan="LJ", partner="bank")
    assert (
        abs(repaid_part.amount * 100 - Decimal(collected[Component.PRINCIPAL]) * Decimal("0.3"))
        <= 1
    )

    apply_event(uow, "LJ", Accrue(event_id="accrue-20260801", as_of=D(2026, 8, 1)))
    with uow:
        loan = uow.loans.load("LJ")
    booking = write_off(
        loan, allowance=Money.zero("CNY"), interest_suspended=False, as_of=D(2026, 8, 1),
        event_id="wo-LJ",
    )  # fmt: skip
    (event,) = [e for e in booking.events if isinstance(e, WrittenOff)]
    interest = loan.money(interest_on_books(loan).total)
    shared = svc.record_joint_write_off(
        uow, "LJ", event, interest_off_books=interest, entries=booking.entries,
        memo_postings=booking.memo_postings,
    )  # fmt: skip
    lost = shared.split.of(1)
    assert sum(shared.split.of(0).values(), cny("0")) + sum(lost.values(), cny("0")) == (
        event.principal + event.fee + interest
    )
    # The bank got back or lost exactly the 3,000.00 it lent: its funding account is closed.
    assert balance(uow, "2241.04", loan="LJ", partner="bank").is_zero()
    assert shared.joint.totals("principal") == (cny("7000.00"), cny("3000.00"))
    assert balance(uow, "6702", loan="LJ", partner="bank") == -lost[Component.PRINCIPAL]
    with uow:
        assert uow.ledger.trial_balance(as_of=FAR).is_balanced()
    booked = entry_count(uow)
    again = svc.record_joint_write_off(uow, "LJ", event, interest_off_books=interest)
    assert again.split == shared.split and entry_count(uow) == booked

    # The partner settlement run pays the bank what was collected for it, once.
    (payout,) = svc.pay_partner(uow, "bank", D(2026, 8, 3))
    assert payout.legs[0].amount == collected_for_bank
    assert svc.pay_partner(uow, "bank", D(2026, 8, 3)) == (payout,)
    assert svc.pay_partner(uow, "bank", D(2026, 8, 4)) == ()  # nothing left to pay
    statement = svc.partner_statement(uow, "bank", D(2026, 1, 1), D(2026, 12, 31))
    assert statement.funded == cny("3000.00") and statement.funding_closing.is_zero()
    assert statement.principal_collected + statement.principal_lost == cny("3000.00")
    assert statement.principal_lost == lost[Component.PRINCIPAL]
    assert statement.principal_collected + statement.income_collected == collected_for_bank
    assert statement.paid == collected_for_bank and statement.payable_closing.is_zero()


def test_funding_is_checked_stored_once_and_a_partner_under_thirty_percent_refused(
    uow: UnitOfWork,
) -> None:
    book_joint(uow)
    booked = entry_count(uow)
    svc.fund_joint_loan(uow, "LJ", SHARES, on=D(2026, 1, 15))  # the same again: a replay
    assert entry_count(uow) == booked
    other = [
        FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.6"),
        FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.4"),
    ]
    with pytest.raises(IdempotencyConflict):
        svc.fund_joint_loan(uow, "LJ", other, on=D(2026, 1, 15))
    thin = [
        FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.8"),
        FundingShare(funder_id="bank2", kind=FunderKind.PARTNER, ratio="0.2"),
    ]
    with pytest.raises(SettlementRejected) as refused:
        svc.fund_joint_loan(uow, "LJ", thin, on=D(2026, 1, 15))
    assert refused.value.code is RejectionCode.JOINT_SHARE_BELOW_MINIMUM
    assert entry_count(uow) == booked
    with uow:
        assert uow.settlement.joint_shares(["LJ", "nope"]) == {"LJ": tuple(SHARES)}


def test_the_batch_write_off_of_a_joint_loan_shares_the_loss_in_the_same_unit_of_work(
    uow: UnitOfWork,
) -> None:
    """``write_off_loan`` (the end-of-day path, not the settlement helper) books each partner's
    part of the loss with the write-off: the bank's funding account closes, its 30% of the
    principal lands on 6702 under its name, and a replay posts nothing more."""
    book_joint(uow)
    apply_event(uow, "LJ", Repay(event_id="r1", as_of=D(2026, 2, 15), amount=due(uow, 1)))
    repaid = cny("3000.00") - balance(uow, "2241.04", loan="LJ", partner="bank")
    gone = write_off_loan(uow, "LJ", as_of=D(2026, 8, 1), event_id="wo-LJ")
    assert gone.status is LoanStatus.WRITTEN_OFF
    assert balance(uow, "2241.04", loan="LJ", partner="bank").is_zero()
    assert balance(uow, "6702", loan="LJ", partner="bank") == -(cny("3000.00") - repaid)
    with uow:
        assert uow.ledger.trial_balance(as_of=FAR).is_balanced()
    booked = entry_count(uow)
    write_off_loan(uow, "LJ", as_of=D(2026, 8, 1), event_id="wo-LJ")
    assert entry_count(uow) == booked
