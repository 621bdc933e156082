"""Random ledger lifecycles (post, replay, reverse, close) against a trivially simple model.

The model is a list of booked entries, a set of reversed ids and a closed-through date; after
every step the store must agree with it on balances, and stay balanced and audit-clean.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.errors import PostingRejected, RejectionCode
from loancore.ledger import JournalEntry, Leg, default_chart, reversal_of
from loancore.money import Money
from loancore.services import audit
from loancore.testing.ledger import journal_entries

CHART = default_chart()
CODES = ("1303", "1002", "2202", "6011", "3001")


class LedgerLifecycle(RuleBasedStateMachine):
    booked = Bundle("booked")

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryLedgerStore(CHART)
        self.entries: list[JournalEntry] = []
        self.reversed: set[str] = set()
        self.closed: date | None = None
        self.counter = 0

    def _is_closed(self, day: date) -> bool:
        return self.closed is not None and day <= self.closed

    @rule(target=booked, batch=st.lists(journal_entries(CHART), min_size=1, max_size=3))
    def post(self, batch: list[JournalEntry]):
        if any(self._is_closed(e.accounting_date) for e in batch):
            with pytest.raises(PostingRejected) as info:
                self.store.post(batch)
            assert info.value.code is RejectionCode.PERIOD_CLOSED
            return multiple()
        assert self.store.post(batch) == tuple(batch)
        self.entries.extend(batch)
        return batch[0]

    @rule(entry=booked)
    def replay_returns_the_original(self, entry: JournalEntry) -> None:
        retry = JournalEntry(
            entry_id=f"retry-{self.counter}",
            idempotency_key=entry.idempotency_key,
            accounting_date=entry.accounting_date,
            legs=entry.legs,
            memo=entry.memo,
        )
        self.counter += 1
        assert self.store.post([retry]) == (entry,)

    @rule(entry=booked, day=st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    def reverse(self, entry: JournalEntry, day: date) -> None:
        self.counter += 1
        n = self.counter
        reversal = reversal_of(
            entry, entry_id=f"r{n}", idempotency_key=f"rk{n}", accounting_date=day
        )
        expected_ok = (
            entry.entry_id not in self.reversed
            and not self._is_closed(day)
            and day >= entry.accounting_date
        )
        if expected_ok:
            self.store.post([reversal])
            self.entries.append(reversal)
            self.reversed.add(entry.entry_id)
        else:
            with pytest.raises(PostingRejected):
                self.store.post([reversal])

    @rule(day=st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    def close(self, day: date) -> None:
        if self.closed is not None and day < self.closed:
            return
        self.store.close_period(day)
        self.closed = day

    @invariant()
    def balances_match_the_model(self) -> None:
        for as_of in (date(2026, 3, 31), date(2027, 12, 31)):
            assert self.store.trial_balance(as_of=as_of).is_balanced()
            for code in CODES:
                subtree = set(CHART.subtree_codes(code))
                net = sum(
                    leg.signed_minor
                    for e in self.entries
                    if e.accounting_date <= as_of
                    for leg in e.legs
                    if leg.subject_code in subtree
                )
                sign = 1 if CHART.get(code).normal_side.value == "debit" else -1
                expected = Money.from_minor(sign * net, "CNY")
                assert self.store.balance(code, "CNY", as_of=as_of) == expected

    @invariant()
    def the_store_audits_clean_and_holds_the_model(self) -> None:
        assert list(self.store.entries()) == self.entries
        assert audit(self.store) == []


LedgerLifecycle.TestCase.settings = settings(max_examples=40, stateful_step_count=15)
TestLedgerLifecycle = LedgerLifecycle.TestCase


def test_concurrent_writers_lose_nothing_and_duplicate_nothing() -> None:
    """Threads posting at once, half of their keys shared: every key booked exactly once."""
    store = MemoryLedgerStore(CHART)
    amount = Money("1.00", "CNY")

    def entry(key: str, writer: int) -> JournalEntry:
        legs = (Leg.debit("1303.01", amount), Leg.credit("1002", amount))
        return JournalEntry(
            entry_id=f"{key}-w{writer}",
            idempotency_key=key,
            accounting_date=date(2026, 5, 1),
            legs=legs,
        )

    def write(writer: int) -> None:
        for batch in range(20):
            shared = [f"shared-{batch}-{i}" for i in range(5)]
            keys = shared + [f"own-{writer}-{batch}-{i}" for i in range(5)]
            store.post([entry(key, writer) for key in keys])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [e.idempotency_key for e in store.entries()]
    assert len(keys) == len(set(keys)) == 20 * 5 + 4 * 20 * 5
    assert store.balance("1303", "CNY", as_of=date(2026, 5, 1)) == Money.from_minor(
        len(keys) * 100, "CNY"
    )
    assert store.trial_balance(as_of=date(2026, 5, 1)).is_balanced()
    assert audit(store) == []
