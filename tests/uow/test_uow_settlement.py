"""The settlement store in the unit of work (memory, SQLite, PostgreSQL): its writes commit and
roll back with the ledger's, and it takes its place in the lock order (after loans, before quota
and the ledger)."""

from __future__ import annotations

import datetime

import pytest
from uow_kit import DAY, cny, draw_entry, state, unbalanced_entry

from loancore.errors import InvariantViolation, PostingRejected
from loancore.money import Rounding
from loancore.ports import LOCK_ORDER, UnitOfWork
from loancore.quota import Hold
from loancore.settlement import Capture, MerchantTerms, ServiceFee, SettlementSchedule

TERMS = MerchantTerms(
    merchant_id="M1",
    schedule=SettlementSchedule.t_plus(1),
    fee=ServiceFee(rate="0.006", rounding=Rounding.HALF_UP, fee_min=cny("0.00")),
)
ORDER = Capture(
    order_id="O1",
    merchant_id="M1",
    amount=cny("100.00"),
    captured_at=datetime.datetime(2026, 3, 2, 10),
)


def test_settlement_sits_after_loans_and_before_quota_and_the_ledger() -> None:
    assert LOCK_ORDER == ("loans", "settlement", "quota", "ledger")


def test_a_capture_and_its_entry_commit_together(uow: UnitOfWork) -> None:
    with uow:
        uow.settlement.save_terms("up", TERMS)
        uow.settlement.add_captures([ORDER])
        uow.ledger.post([draw_entry(1)])
        uow.commit()
    with uow:
        assert uow.settlement.pending("up").captures == (ORDER,)
        assert uow.settlement.merchant_payable("M1", "CNY") == cny("100.00")


def test_a_ledger_refusal_after_the_settlement_step_changes_neither(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(PostingRejected), uow:
        uow.settlement.save_terms("up", TERMS)
        uow.settlement.add_captures([ORDER])
        uow.ledger.post([unbalanced_entry(1)])
        uow.commit()  # never reached
    assert state(uow) == before


def test_a_settlement_write_after_a_quota_write_is_refused_and_undone(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(InvariantViolation, match="lock order"), uow:
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
        uow.settlement.save_terms("up", TERMS)
    assert state(uow) == before


def test_a_settlement_write_after_a_ledger_write_is_refused_and_undone(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(InvariantViolation, match="lock order"), uow:
        uow.ledger.post([draw_entry(1)])
        uow.settlement.save_terms("up", TERMS)
    assert state(uow) == before
