"""The memory unit of work: serialised across threads, and atomic over any sequence of units of
work that commit, crash between the quota and the ledger step, or are refused by the ledger."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uow_kit import DAY, cny, draw_entry, set_up, state, unbalanced_entry

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.errors import InvalidInput, InvariantViolation, PostingRejected
from loancore.quota import Hold
from loancore.services import audit

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
                    uow.quota.apply(Hold(f"h-{worker}-{i}", "S", cny("1.00"), DAY), as_of=DAY)
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


FATES = ("commit", "crash", "refused", "left")


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(1, 10_000), st.sampled_from(FATES)), max_size=30))
def test_only_committed_units_of_work_leave_a_trace(steps: list[tuple[int, str]]) -> None:
    """Whatever happens to each unit of work, the stores hold exactly the committed ones: held
    quota equals the committed amounts, the ledger the committed entries; both check clean."""
    uow = MemoryUnitOfWork()
    set_up(uow)
    committed: list[int] = []
    for n, (minor, fate) in enumerate(steps):
        amount = f"{minor // 100}.{minor % 100:02d}"
        try:
            with uow:
                uow.quota.apply(Hold(f"h-{n}", "S", cny(amount), DAY), as_of=DAY)
                if fate == "crash":
                    raise OSError("injected")
                uow.ledger.post(
                    [unbalanced_entry(n) if fate == "refused" else draw_entry(n, amount)]
                )
                if fate == "commit":
                    uow.commit()
                    committed.append(n)
        except (OSError, PostingRejected):
            pass
    with uow:
        held = sum(steps[n][0] for n in committed)
        assert uow.quota.balance("S").held_minor == held
        assert [e.entry_id for e in uow.ledger.entries()] == [f"E-{n}" for n in committed]
        assert uow.ledger.balance("1303", "CNY", as_of=DAY).minor_units == held
        assert uow.quota.check() == ()
        assert audit(uow.ledger) == []


def test_a_commit_that_fails_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    uow = MemoryUnitOfWork()
    set_up(uow)
    before = state(uow)

    def failing_commit(self: MemoryUnitOfWork, handle: object, written: object) -> None:
        raise OSError("injected: the commit failed")

    monkeypatch.setattr(MemoryUnitOfWork, "_commit", failing_commit)
    with pytest.raises(OSError, match="injected"), uow:
        uow.quota.apply(Hold("h-1", "S", cny("1.00"), DAY), as_of=DAY)
        uow.ledger.post([draw_entry(1, "1.00")])
        uow.commit()
    monkeypatch.undo()
    assert state(uow) == before
