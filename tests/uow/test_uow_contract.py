"""The unit of work contract (loancore.ports, "UnitOfWork contract") on memory, SQLite and
PostgreSQL: commit keeps every store's writes; an exception, a refusal or leaving the block
without commit leaves every store exactly as it was; the lock order is enforced."""

from __future__ import annotations

import pytest
from uow_kit import DAY, cny, draw_entry, state, unbalanced_entry

from loancore.errors import InvariantViolation, PostingRejected, Rejected
from loancore.ports import UnitOfWork
from loancore.quota import Hold, LineBalance, Void


class InjectedFailure(Exception):
    """A crash between the quota step and the ledger step."""


def draw(uow: UnitOfWork, n: int, amount: str = "100.00") -> None:
    """The use case: hold the quota, then book the loan (quota before ledger: the lock order)."""
    uow.quota.apply(Hold(key=f"h-{n}", line_id="S", amount=cny(amount), expires_on=DAY), as_of=DAY)
    uow.ledger.post([draw_entry(n, amount)])


def test_a_committed_unit_of_work_keeps_both_stores(uow: UnitOfWork) -> None:
    with uow:
        draw(uow, 1)
        uow.commit()
    with uow:
        assert uow.quota.balance("S") == LineBalance(
            used_minor=0, held_minor=10_000, frozen_minor=0
        )
        assert uow.ledger.get_entry("E-1") == draw_entry(1)
        assert uow.ledger.balance("1303", "CNY", as_of=DAY) == cny("100.00")


def test_a_failure_between_quota_and_ledger_changes_neither(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(InjectedFailure), uow:
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
        raise InjectedFailure
    assert state(uow) == before


def test_a_refusal_by_the_ledger_after_the_quota_step_changes_neither(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(PostingRejected), uow:
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
        uow.ledger.post([unbalanced_entry(1)])
        uow.commit()  # never reached
    assert state(uow) == before


def test_leaving_without_commit_changes_nothing(uow: UnitOfWork) -> None:
    before = state(uow)
    with uow:
        draw(uow, 1)
    assert state(uow) == before


def test_an_explicit_rollback_undoes_and_closes_the_stores(uow: UnitOfWork) -> None:
    before = state(uow)
    with uow:
        draw(uow, 1)
        uow.rollback()
        with pytest.raises(InvariantViolation):
            uow.quota.balance("S")
    assert state(uow) == before


def test_a_quota_write_after_a_ledger_write_is_refused_and_undone(uow: UnitOfWork) -> None:
    before = state(uow)
    with pytest.raises(InvariantViolation, match="lock order"), uow:
        uow.ledger.post([draw_entry(1)])
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
    assert state(uow) == before


def test_reads_may_come_in_any_order(uow: UnitOfWork) -> None:
    with uow:
        uow.ledger.balance("1303", "CNY", as_of=DAY)
        draw(uow, 1)  # quota write after a ledger read: fine
        assert uow.quota.balance("S").held_minor == 10_000  # quota read after a ledger write
        uow.commit()


def test_a_refusal_caught_inside_undoes_only_itself(uow: UnitOfWork) -> None:
    """A batch catches Rejected per item and commits the items that were accepted."""
    with uow:
        uow.quota.apply(
            Hold(key="h-1", line_id="S", amount=cny("100.00"), expires_on=DAY), as_of=DAY
        )
        uow.quota.apply(
            Hold(key="h-2", line_id="S", amount=cny("200.00"), expires_on=DAY), as_of=DAY
        )
        for entry in (draw_entry(1), unbalanced_entry(2), draw_entry(3)):
            try:
                uow.ledger.post([entry])
            except Rejected:
                continue
        uow.commit()
    with uow:
        assert [e.entry_id for e in uow.ledger.entries()] == ["E-1", "E-3"]
        assert uow.quota.balance("S").held_minor == 30_000


def test_the_stores_refuse_use_after_commit_and_outside_the_block(uow: UnitOfWork) -> None:
    with uow:
        ledger = uow.ledger
        uow.commit()
        with pytest.raises(InvariantViolation, match="committed"):
            ledger.entries()
        with pytest.raises(InvariantViolation, match="already committed"):
            uow.commit()
    with pytest.raises(InvariantViolation, match="no unit of work is open"):
        uow.quota.balance("S")


def test_a_nested_with_on_the_same_unit_of_work_is_refused(uow: UnitOfWork) -> None:
    before = state(uow)
    with uow:
        draw(uow, 1)
        with pytest.raises(InvariantViolation, match="already open"), uow:
            pass
    assert state(uow) == before


def test_each_with_opens_a_new_transaction(uow: UnitOfWork) -> None:
    for n in range(3):
        with uow:
            draw(uow, n)
            uow.commit()
    with uow:
        uow.quota.apply(Void(key="v-1", hold_id="h-1"), as_of=DAY)
        uow.ledger.reverse("E-1", reversal_id="R-1", idempotency_key="rev:1", accounting_date=DAY)
        uow.commit()
    with uow:
        assert uow.quota.balance("S").held_minor == 20_000
        assert uow.ledger.balance("1303", "CNY", as_of=DAY) == cny("200.00")
