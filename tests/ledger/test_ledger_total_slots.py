"""The running totals' slots (schema 5): their caps add up to exactly the ledger's total limit,
and any total within it spreads over them without passing a cap; SQLite keeps one slot and dense
entry numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sql_stores import loan_entry, make_sql_ledger_store, small_chart

from loancore.adapters.sql.ledger_schema import TOTALS_SLOTS, slot_cap, slot_shares
from loancore.errors import InvalidInput
from loancore.ledger import TOTAL_MINOR_MAX


def test_the_slots_caps_add_up_to_exactly_the_total_limit() -> None:
    caps = [slot_cap(slot) for slot in range(TOTALS_SLOTS)]
    assert sum(caps) == TOTAL_MINOR_MAX
    assert max(caps) - min(caps) <= 1


@given(
    st.one_of(
        st.integers(0, TOTAL_MINOR_MAX),
        st.integers(TOTAL_MINOR_MAX - 10**6, TOTAL_MINOR_MAX),
        st.integers(0, 10**6),
    )
)
def test_a_total_spread_over_the_slots_conserves_it_within_every_cap(total: int) -> None:
    shares = slot_shares(total)
    assert len(shares) == TOTALS_SLOTS
    assert sum(shares) == total
    assert all(0 <= share <= slot_cap(slot) for slot, share in enumerate(shares))


@pytest.mark.parametrize("total", [-1, TOTAL_MINOR_MAX + 1])
def test_a_total_outside_the_limit_cannot_be_spread(total: int) -> None:
    with pytest.raises(InvalidInput) as info:
        slot_shares(total)
    assert info.value.field == "total_minor"


def test_sqlite_books_every_total_in_slot_0_with_dense_entry_numbers(tmp_path: Path) -> None:
    store = make_sql_ledger_store("sqlite", tmp_path, None)
    store.save_chart(small_chart())
    store.post([loan_entry(n) for n in range(3)])
    store.post([loan_entry(n) for n in range(3)])  # a replay: numbers nothing
    store.post([loan_entry(3, day=date(2026, 3, 2))])
    store.close_period(date(2026, 3, 2))
    with store.bind.connect() as connection:
        slots = set()
        for table in ("ledger_daily_balances", "ledger_daily_segment_balances",
                      "ledger_currency_totals"):  # fmt: skip
            slots |= set(connection.exec_driver_sql(f"SELECT slot FROM {table}").scalars())
        seqs = list(connection.exec_driver_sql("SELECT seq FROM ledger_entries").scalars())
        last_seq = connection.exec_driver_sql(
            "SELECT last_seq FROM ledger_period_closes"
        ).scalar_one()
    assert slots == {0}
    assert sorted(seqs) == [1, 2, 3, 4]
    assert last_seq == 4
    assert store.period_closes() == ((date(2026, 3, 2), 4),)
    store.bind.dispose()
