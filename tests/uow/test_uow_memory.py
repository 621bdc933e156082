"""The memory unit of work: serialised across threads, one lock per store, a failed commit."""

from __future__ import annotations

import threading

import pytest
from uow_kit import DAY, cny, draw_entry, set_up, state

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.errors import InvalidInput, InvariantViolation
from loancore.quota import Hold

THREADS = 4
UNITS_PER_THREAD = 25


def test_threads_units_of_work_never_interleave() -> None:
    uow = MemoryUnitOfWork()  # one object shared by the threads
    set_up(uow)
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(UNITS_PER_THREAD):
                with uow:
                    before = len(list(uow.ledger.entries()))
                    uow.quota.apply(
                        Hold(
                            key=f"h-{worker}-{i}", line_id="S", amount=cny("1.00"), expires_on=DAY
                        ),
                        as_of=DAY,
                    )
                    threading.Event().wait(0.0005)  # give the other threads every chance
                    uow.ledger.post([draw_entry(f"{worker}-{i}", "1.00")])
                    seen.append((before, len(list(uow.ledger.entries()))))
                    uow.commit()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert all(after == before + 1 for before, after in seen)
    assert sorted(before for before, _ in seen) == list(range(THREADS * UNITS_PER_THREAD))


def test_two_units_of_work_over_the_same_stores_share_the_lock() -> None:
    ledger, quota = MemoryLedgerStore(), MemoryQuotaStore()
    first = MemoryUnitOfWork(ledger=ledger, quota=quota)
    second = MemoryUnitOfWork(ledger=ledger, quota=quota)
    with first, pytest.raises(InvariantViolation, match="already open in this thread"), second:
        pass


def test_a_store_without_checkpoints_is_refused() -> None:
    with pytest.raises(InvalidInput, match="ledger"):
        MemoryUnitOfWork(ledger=object())  # type: ignore[arg-type]


def test_a_commit_that_fails_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    uow = MemoryUnitOfWork()
    set_up(uow)
    before = state(uow)

    def failing_commit(self: MemoryUnitOfWork, handle: object, written: object) -> None:
        raise OSError("injected: the commit failed")

    monkeypatch.setattr(MemoryUnitOfWork, "_commit", failing_commit)
    with pytest.raises(OSError, match="injected"), uow:
        uow.quota.apply(Hold(key="h-1", line_id="S", amount=cny("1.00"), expires_on=DAY), as_of=DAY)
        uow.ledger.post([draw_entry(1, "1.00")])
        uow.commit()
    monkeypatch.undo()
    assert state(uow) == before
