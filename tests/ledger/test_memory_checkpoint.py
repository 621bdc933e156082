"""MemoryLedgerStore's checkpoint and restore (what a unit of work rolls back with)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.errors import InvalidInput
from loancore.ledger import (
    JournalEntry,
    Leg,
    MemoDirection,
    MemoPosting,
    MemoRegister,
    Subject,
    default_chart,
)
from loancore.money import Money
from loancore.testing.ledger import journal_entries

CHART = default_chart()
D1, D2, D3 = date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)


def loan(n: int, day: date, minor: int = 1_000) -> JournalEntry:
    amount = Money.from_minor(minor, "CNY")
    return JournalEntry(
        entry_id=f"e{n}",
        idempotency_key=f"k{n}",
        accounting_date=day,
        legs=(Leg.debit("1303.01", amount, {"loan": f"L{n}"}), Leg.credit("1002", amount)),
    )


def memo(n: int, day: date) -> MemoPosting:
    return MemoPosting(
        posting_id=f"m{n}",
        idempotency_key=f"mk{n}",
        register=MemoRegister.OFF_BALANCE_INTEREST,
        accounting_date=day,
        direction=MemoDirection.INCREASE,
        amount=Money.from_minor(50, "CNY"),
        dimensions={"loan": f"L{n}"},
    )


def everything(store: MemoryLedgerStore) -> tuple[Any, ...]:
    """What the store holds and answers: its primary containers and its reads (which also bring
    the lazy indexes up to date)."""
    reads = (
        store.trial_balance(as_of=date(2026, 12, 31)),
        store.balance("1303", "CNY", as_of=D2),
        store.balance("1303", "CNY", as_of=D3, dimensions={"loan": "L1"}),
        store.general_ledger("1303", "CNY", start=D1, end=D3),
        store.memo_balance(MemoRegister.OFF_BALANCE_INTEREST, "CNY", as_of=D3),
    )
    return (
        tuple(store.entries()),
        tuple(store.memo_postings()),
        store.load_chart(),
        store.closed_through(),
        store.period_closes(),
        dict(store._by_id),
        dict(store._by_key),
        dict(store._reversed_by),
        dict(store._memo_by_id),
        dict(store._memo_by_key),
        dict(store._debit_totals),
        dict(store._memo_increase_totals),
        reads,
    )


def _busy_store() -> MemoryLedgerStore:
    store = MemoryLedgerStore(CHART)
    store.post([loan(1, D1), loan(2, D1)])
    store.post_memo([memo(1, D1)])
    store.close_period(D1)
    return store


def _more_work(store: MemoryLedgerStore, *, read_between: bool) -> None:
    store.post([loan(3, D2), loan(4, D3, 7)])
    if read_between:  # the lazy indexes take in the entries the restore must undo
        store.balance("1303", "CNY", as_of=D3, dimensions={"loan": "L3"})
        store.general_ledger("1303", "CNY", start=D1, end=D3)
    store.reverse("e1", reversal_id="r1", idempotency_key="rk1", accounting_date=D2)
    store.post_memo([memo(2, D2)])
    store.close_period(D2)
    store.save_chart(
        CHART.with_subjects(Subject("1221.09", "新", "New", "asset", parent_code="1221"))
    )


def test_a_restore_after_posts_memos_closes_and_chart_saves_leaves_the_store_as_it_was() -> None:
    for read_between in (False, True):
        store = _busy_store()
        before = everything(store)
        checkpoint = store._checkpoint()
        _more_work(store, read_between=read_between)
        assert everything(store) != before
        store._restore(checkpoint)
        assert everything(store) == before
        # and it carries on as if the undone work never happened: the same ids and keys are free
        _more_work(store, read_between=False)
        assert store.get_entry("r1").reverses == "e1"


def test_a_restore_with_nothing_done_changes_nothing() -> None:
    store = _busy_store()
    before = everything(store)
    store._restore(store._checkpoint())
    assert everything(store) == before


@settings(max_examples=25, deadline=None)
@given(
    first=st.lists(journal_entries(CHART), max_size=4),
    second=st.lists(journal_entries(CHART), min_size=1, max_size=4),
    read=st.booleans(),
)
def test_restore_undoes_any_batch(
    first: list[JournalEntry], second: list[JournalEntry], read: bool
) -> None:
    store = MemoryLedgerStore(CHART)
    store.post(first)
    before = everything(store)
    checkpoint = store._checkpoint()
    store.post(second)
    if read:
        everything(store)
    store._restore(checkpoint)
    assert everything(store) == before


def test_a_checkpoint_newer_than_the_state_is_refused_and_changes_nothing() -> None:
    store = _busy_store()
    older = store._checkpoint()
    _more_work(store, read_between=False)
    newer = store._checkpoint()
    store._restore(older)
    before = everything(store)
    with pytest.raises(InvalidInput):
        store._restore(newer)
    assert everything(store) == before
