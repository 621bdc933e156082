"""The loan store's credit-line methods on every store: what is saved comes back equal, a stale
version or a recorded event id writes nothing, reads of unknown ids say NotFound, and line
writes take the loans position of the lock order."""

from __future__ import annotations

from datetime import date

import attrs
import pytest
from lines_kit import LINE_PRODUCT_TOML, OPENED, open_a1

from loancore.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidInput,
    InvariantViolation,
    NotFound,
)
from loancore.ports import LineRecord, UnitOfWork
from loancore.quota import Draw as QuotaDraw


def _record(event_id: str, version: int) -> LineRecord:
    return LineRecord(
        event_id=event_id,
        as_of=OPENED,
        kind="accrue",
        version=version,
        entry_ids=(),
        quota_effects=(),
        statements=(),
    )


def test_a_stale_or_recorded_write_changes_nothing(uow: UnitOfWork) -> None:
    account = open_a1(uow)
    moved = attrs.evolve(account, last_date=date(2026, 3, 3), applied_on_last_date=("x1",))
    with uow:
        uow.loans.update_line(moved, expected_version=1, record=_record("x1", 2))
        uow.commit()
    with uow:
        with pytest.raises(ConcurrentUpdate):
            uow.loans.update_line(moved, expected_version=1, record=_record("x2", 2))
        with pytest.raises(IdempotencyConflict):
            uow.loans.update_line(moved, expected_version=2, record=_record("x1", 3))
        with pytest.raises(InvalidInput):
            uow.loans.update_line(moved, expected_version=2, record=_record("x3", 9))
        with pytest.raises(NotFound):
            uow.loans.update_line(
                attrs.evolve(moved, account_id="A9"), expected_version=1, record=_record("y", 2)
            )
        stored = uow.loans.load_line("A1")
        assert (stored.account, stored.version, stored.customer_id) == (moved, 2, "C1")
        assert uow.loans.line_record("A1", "x1") == _record("x1", 2)
        assert uow.loans.line_record("A1", "x2") is None
        assert uow.loans.lines_to_close(date(2026, 3, 3)) == ()
        assert uow.loans.lines_to_close(date(2026, 3, 4)) == ("A1",)
        assert uow.loans.load_lines(["A1", "A1"]) == {"A1": stored}
        with pytest.raises(NotFound):
            uow.loans.load_lines(["A1", "A9"])
        with pytest.raises(NotFound):
            uow.loans.load_line("A9")
        with pytest.raises(IdempotencyConflict):
            uow.loans.add_line(attrs.evolve(account, statement_day=11), customer_id="C1")
        uow.loans.add_line(moved, customer_id="C1")  # the stored account again: a no-op
        with pytest.raises(IdempotencyConflict):
            uow.loans.save_line_product(LINE_PRODUCT_TOML.replace('"0.10"', '"0.20"'))


def test_a_line_write_after_a_quota_write_breaks_the_lock_order(uow: UnitOfWork) -> None:
    account = open_a1(uow)
    with uow:
        uow.quota.apply(QuotaDraw(key="q1", line_id="Q1", amount=account.money(100)), as_of=OPENED)
        with pytest.raises(InvariantViolation, match="lock order"):
            uow.loans.update_line(account, expected_version=1, record=_record("x1", 2))
    with uow:
        assert uow.loans.load_line("A1").version == 1
        assert uow.quota.balance("Q1").used_minor == 0  # the unit of work was left: rolled back


def test_a_batch_of_line_updates_is_written_all_or_nothing(uow: UnitOfWork) -> None:
    first = open_a1(uow)
    second = open_a1(uow, account_id="A2")
    day = date(2026, 3, 3)
    moved = [attrs.evolve(a, last_date=day) for a in (first, second)]
    with uow:
        uow.loans.update_line(moved[1], expected_version=1, record=_record("x0", 2))
        uow.commit()
    for bad in (
        [(moved[0], 1, _record("x1", 2), ()), (moved[1], 1, _record("x1", 2), ())],  # stale
        [(moved[0], 1, _record("x1", 2), ()), (moved[1], 2, _record("x0", 3), ())],  # recorded
    ):
        with uow:
            with pytest.raises((ConcurrentUpdate, IdempotencyConflict)):
                uow.loans.update_lines(bad)
            assert uow.loans.load_line("A1").version == 1  # the first update was undone too
            assert uow.loans.line_record("A1", "x1") is None
    with uow:
        uow.loans.update_lines(
            [(moved[0], 1, _record("x1", 2), ()), (moved[1], 2, _record("x2", 3), ())]
        )
        uow.commit()
    with uow:
        assert [uow.loans.load_line(i).version for i in ("A1", "A2")] == [2, 3]
