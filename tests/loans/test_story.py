"""The 12-installment clinic order through the services on every store, reconciled after every
step: booked and disbursed to the merchant, two repayments on time, one late (penalty and late
fee), a prepayment, a merchant refund."""

from __future__ import annotations

from datetime import date

import pytest
from loans_kit import DAY, assert_clean, cny, state

from loancore.errors import QuotaRejected, ServicingRejected
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.services import Applied, apply_batch, apply_event, book_order
from loancore.servicing import LoanStatus, MerchantRefund, Prepay, Repay


def book(uow: UnitOfWork, loan_id: str = "L1", principal: str = "6000.00") -> Applied:
    return book_order(
        uow,
        order_id=f"order-{loan_id}",
        loan_id=loan_id,
        customer_id="C1",
        line_id="LINE",
        product_id="clinic-12",
        product_version=1,
        principal=cny(principal),
        installments=12,
        start_date=DAY,
        merchant_id="M1",
    )


def due_on(uow: UnitOfWork, loan_id: str, number: int) -> Money:
    with uow:
        loan = uow.loans.load(loan_id)
    return loan.money(loan.installments[number - 1].outstanding())


def test_clinic_story_reconciles_after_every_step(uow: UnitOfWork) -> None:
    booked = book(uow)
    assert booked.loan.status is LoanStatus.ACTIVE
    assert_clean(uow, "L1")
    with uow:
        assert uow.quota.balance("LINE").used_minor == 600_000
    for number, day in ((1, date(2026, 2, 15)), (2, date(2026, 3, 16))):
        apply_event(
            uow,
            "L1",
            Repay(event_id=f"repay-{number}", as_of=day, amount=due_on(uow, "L1", number)),
        )
        assert_clean(uow, "L1")
    late = apply_event(
        uow, "L1", Repay(event_id="repay-3", as_of=date(2026, 4, 27), amount=cny("600.00"))
    )
    assert late.outcome is not None
    assert any("penalty" in entry.entry_id for entry in late.outcome.entries)
    assert_clean(uow, "L1")
    apply_event(
        uow, "L1", Prepay(event_id="prepay-1", as_of=date(2026, 6, 1), amount=cny("1000.00"))
    )
    assert_clean(uow, "L1")
    refund = apply_event(
        uow,
        "L1",
        MerchantRefund(event_id="refund-1", as_of=date(2026, 6, 20), amount=cny("500.00")),
    )
    assert refund.outcome is not None and refund.outcome.merchant_clawback is not None
    result = assert_clean(uow)
    (line,) = result.lines
    assert line.used_minor == refund.loan.principal_outstanding() > 0


def test_replayed_event_returns_the_stored_loan_and_posts_nothing_twice(uow: UnitOfWork) -> None:
    book(uow)
    event = Repay(event_id="repay-1", as_of=date(2026, 2, 15), amount=due_on(uow, "L1", 1))
    first = apply_event(uow, "L1", event)
    before = state(uow)
    again = apply_event(uow, "L1", event)
    assert again.replayed and again.outcome is None and again.loan == first.loan
    assert state(uow) == before
    replayed_booking = book(uow)
    assert replayed_booking.replayed and state(uow) == before


def test_replayed_event_returns_the_first_outcome_even_after_later_events(
    uow: UnitOfWork,
) -> None:
    book(uow)
    event = Repay(event_id="late-1", as_of=date(2026, 2, 25), amount=cny("700.00"))
    first = apply_event(uow, "L1", event)
    assert first.outcome is not None and first.record is not None
    record = first.record
    assert record.entry_ids == tuple(e.entry_id for e in first.outcome.entries)
    assert record.quota_effects == first.outcome.quota_effects
    assert record.allocation == first.loan.history[-1].lines != ()
    assert record.amount == cny("700.00") and record.merchant_clawback is None
    apply_event(uow, "L1", Repay(event_id="next", as_of=date(2026, 3, 20), amount=cny("900.00")))
    before = state(uow)
    again = apply_event(uow, "L1", event)
    assert again.replayed and again.record == record  # the first outcome, not the loan's now
    assert state(uow) == before
    with uow:
        posted = [uow.ledger.get_entry(entry_id) for entry_id in record.entry_ids]
    assert posted == list(first.outcome.entries)


def test_replayed_refund_returns_its_clawback_and_quota_effects(uow: UnitOfWork) -> None:
    book(uow)
    refund = MerchantRefund(event_id="refund-1", as_of=date(2026, 2, 1), amount=cny("500.00"))
    first = apply_event(uow, "L1", refund)
    assert first.record is not None and first.outcome is not None
    assert first.record.merchant_clawback == first.outcome.merchant_clawback is not None
    assert first.record.quota_effects == first.outcome.quota_effects != ()
    again = apply_event(uow, "L1", refund)
    assert again.replayed and again.record == first.record


def test_batch_reports_each_event_record_and_a_replay_its_first_one(uow: UnitOfWork) -> None:
    book(uow, "L1")
    book(uow, "L2")
    items = [
        ("L1", Repay(event_id="a1", as_of=date(2026, 2, 15), amount=cny("100.00"))),
        ("L2", Repay(event_id="b1", as_of=date(2026, 2, 15), amount=cny("70.00"))),
        ("L1", Repay(event_id="a2", as_of=date(2026, 2, 16), amount=cny("50.00"))),
    ]
    result = apply_batch(uow, items)
    records = {event_id: result.record(event_id) for event_id in result.applied}
    assert records["a2"].amount == cny("50.00") and records["b1"].entry_ids
    single = apply_event(uow, "L1", items[0][1])
    assert single.replayed and single.record == records["a1"]
    again = apply_batch(uow, items)
    assert again.replayed == ("a1", "b1", "a2")
    assert {event_id: again.record(event_id) for event_id in again.replayed} == records


def test_refused_event_changes_nothing(uow: UnitOfWork) -> None:
    book(uow)
    apply_event(uow, "L1", Repay(event_id="repay-1", as_of=date(2026, 2, 15), amount=cny("10.00")))
    before = state(uow)
    with pytest.raises(ServicingRejected):  # dated before the loan's last event
        apply_event(uow, "L1", Repay(event_id="early", as_of=date(2026, 2, 1), amount=cny("1.00")))
    assert state(uow) == before


def test_booking_refused_by_quota_stores_no_loan(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(QuotaRejected):
        book(uow, principal="60000.00")
    assert state(uow) == before


def test_batch_applies_in_one_unit_of_work_and_skips_refused_and_replayed(
    uow: UnitOfWork,
) -> None:
    book(uow, "L1")
    book(uow, "L2")
    first = Repay(event_id="a1", as_of=date(2026, 2, 15), amount=cny("100.00"))
    apply_event(uow, "L1", first)
    items = [
        ("L1", first),  # replayed
        ("L1", Repay(event_id="a2", as_of=date(2026, 2, 16), amount=cny("50.00"))),
        ("L2", Repay(event_id="b1", as_of=date(2026, 2, 15), amount=cny("70.00"))),
        ("L1", Repay(event_id="a3", as_of=date(2026, 2, 1), amount=cny("1.00"))),  # back-dated
        ("L1", Repay(event_id="a4", as_of=date(2026, 2, 20), amount=cny("30.00"))),
    ]
    result = apply_batch(uow, items)
    assert result.applied == ("a2", "b1", "a4")
    assert result.replayed == ("a1",)
    assert [event_id for event_id, _ in result.refused] == ["a3"]
    assert_clean(uow)
    before = state(uow)
    again = apply_batch(uow, items)
    assert again.applied == () and state(uow) == before
