"""MemoryQuotaStore as a unit of work uses it: a checkpoint and its restore put the whole store
back (balances, holds, journal, idempotency keys), and a shared outer lock serialises it."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest

from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.errors import InvalidInput, InvariantViolation, QuotaRejected
from loancore.money import Money
from loancore.quota import (
    AddTemporaryLimit,
    Capture,
    Close,
    Draw,
    Freeze,
    Grant,
    Hold,
    RepaymentParts,
    RestoreRepaid,
    Void,
)

DAY = datetime.date(2026, 3, 1)
LATER = datetime.date(2027, 3, 1)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def _grant(store: MemoryQuotaStore, line_id: str, master_id: str | None = None) -> None:
    command = Grant(
        key=f"g-{line_id}", line_id=line_id, borrower_id="b1", limit=cny("1000.00"),
        starts_on=DAY, expires_on=LATER, master_id=master_id,
    )  # fmt: skip
    store.apply(command, as_of=DAY)


def _state(store: MemoryQuotaStore, keys: list[str]) -> tuple[object, ...]:
    return (
        store.snapshot(),
        tuple(store.journal()),
        {key: store.result(key) for key in keys},
        store.open_holds("S"),
        store.lines(borrower_id="b1"),
    )


def test_a_restored_checkpoint_leaves_the_store_as_it_was() -> None:
    store = MemoryQuotaStore()
    _grant(store, "M")
    _grant(store, "S", master_id="M")
    store.apply(Hold(key="h1", line_id="S", amount=cny("10.00"), expires_on=LATER), as_of=DAY)
    store.apply(Draw(key="d1", line_id="S", amount=cny("100.00")), as_of=DAY)
    keys = ["g-M", "g-S", "h1", "d1", "h2", "c1", "v1", "r1", "t1", "f1", "g-T", "x1"]
    before = _state(store, keys)
    checkpoint = store._checkpoint()
    store.apply(Hold(key="h2", line_id="S", amount=cny("20.00"), expires_on=LATER), as_of=DAY)
    store.apply(Capture(key="c1", hold_id="h1"), as_of=DAY)
    store.apply(Void(key="v1", hold_id="h2"), as_of=DAY)
    store.apply(RestoreRepaid(key="r1", line_id="S", repaid=RepaymentParts(cny("5.00"))), as_of=DAY)
    temporary = AddTemporaryLimit(
        key="t1", line_id="M", amount=cny("5.00"), starts_on=DAY, ends_on=LATER
    )
    store.apply(temporary, as_of=DAY)
    store.apply(Freeze(key="f1", line_id="M", amount=cny("1.00")), as_of=DAY)
    _grant(store, "T", master_id="M")
    store.apply(Close(key="x1", line_id="S"), as_of=DAY)
    with pytest.raises(QuotaRejected):
        store.apply(Draw(key="d2", line_id="S", amount=cny("1.00")), as_of=DAY)
    assert _state(store, keys) != before
    store._restore(checkpoint)
    assert _state(store, keys) == before and store.check() == ()
    assert store.hold("h1").status.name == "OPEN"
    # The keys applied after the checkpoint are free again: applied afresh, not replayed.
    again = store.apply(Capture(key="c1", hold_id="h1"), as_of=DAY)
    assert not again.replayed and store.check() == ()
    store._restore(checkpoint)  # a checkpoint can be restored more than once
    assert _state(store, keys) == before


def test_a_checkpoint_belongs_to_its_store_and_its_past() -> None:
    store, other = MemoryQuotaStore(), MemoryQuotaStore()
    with pytest.raises(InvalidInput, match="checkpoint"):
        store._restore(other._checkpoint())
    with pytest.raises(InvalidInput, match="checkpoint"):
        store._restore("not a checkpoint")
    early = store._checkpoint()
    _grant(store, "M")
    late = store._checkpoint()
    store._restore(early)
    with pytest.raises(InvariantViolation):  # a future the store no longer has
        store._restore(late)
    assert store.lines() == () and tuple(store.journal()) == ()


def test_an_outer_lock_held_by_a_unit_of_work_serialises_the_store() -> None:
    lock = threading.RLock()
    store = MemoryQuotaStore(lock=lock)
    _grant(store, "M")
    done = threading.Event()

    def other_client() -> None:
        store.apply(Draw(key="d-other", line_id="M", amount=cny("1.00")), as_of=DAY)
        done.set()

    with lock:  # the unit of work's transaction: its own commands re-enter the lock
        store.apply(Draw(key="d-mine", line_id="M", amount=cny("1.00")), as_of=DAY)
        thread = threading.Thread(target=other_client)
        thread.start()
        assert not done.wait(0.2)  # the other client waits for the unit of work
        assert store.balance("M").used_minor == 100
    thread.join(timeout=10)
    assert done.is_set() and store.balance("M").used_minor == 200


def test_the_lock_must_be_a_lock() -> None:
    with pytest.raises(InvalidInput, match="lock"):
        MemoryQuotaStore(lock="not a lock")  # type: ignore[arg-type]
