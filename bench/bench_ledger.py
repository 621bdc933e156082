"""Ledger benchmarks: the memory store, and loancore beside beancount on the same entries.

Figures (``run()`` keys):

- ``ledger_memory_entries_per_s``: two-leg entries posted to MemoryLedgerStore in batches of
  1,000 with every posting rule checked (idempotency, balance, subjects, periods); entries are
  built beforehand, as a caller's would be. Best of 5 runs of 100,000.
- ``ledger_memory_indexed_entries_per_s``: the same, plus the first balance read, which brings
  the daily-totals index up to date (the memory store indexes lazily, per index, on the first
  read that needs it), i.e. posted AND queryable by balance.
- ``ledger_memory_balance_asof_1m_ms``: one subject's rolled-up balance as of a date over
  1,000,000 posted entries (mean of 100 queries at different dates, after the first read).
- ``ledger_vs_beancount_ratio``: loancore's post-and-validate rate (post with all checks, index,
  trial balance) over beancount's load-and-validate rate (``loader.load_string``: parse, book,
  validate, check balance assertions) for the same 100,000 entries, measured side by side.
- ``ledger_vs_beancount_with_build_ratio``: the same, but loancore's time also includes building
  the entry values from raw fields (the counterpart of beancount's parsing).
- ``ledger_beancount_entries_per_s``: beancount's rate, for reference.
"""

from __future__ import annotations

import gc
import time
from datetime import date, timedelta

from beancount import loader

from loancore.adapters.beancount_export import export_store
from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.ledger import JournalEntry, Leg, default_chart
from loancore.money import Money

START = date(2026, 1, 1)
DAYS = 365
PAIRS = ("1303.01", "1002"), ("1303.03", "6011"), ("2202", "1002"), ("1002", "1303.01")


def raw_entries(count: int) -> list[tuple[str, str, date, str, str, str, str]]:
    """(id, key, date, debit code, credit code, amount text, loan) in date order."""
    rows = []
    per_day = max(1, count // DAYS)
    for i in range(count):
        debit, credit = PAIRS[i % len(PAIRS)]
        amount = f"{100 + i % 9973}.{i % 100:02d}"
        day = START + timedelta(days=i // per_day)
        rows.append((f"e{i}", f"k{i}", day, debit, credit, amount, f"L{i % 5000}"))
    return rows


def build(rows: list[tuple[str, str, date, str, str, str, str]]) -> list[JournalEntry]:
    """Entry values from raw fields, as a caller builds them (one Money per entry, both legs)."""
    entries = []
    for entry_id, key, day, debit, credit, amount, loan in rows:
        money = Money(amount, "CNY")
        legs = (Leg.debit(debit, money, {"loan": loan}), Leg.credit(credit, money))
        entries.append(
            JournalEntry(entry_id=entry_id, idempotency_key=key, accounting_date=day, legs=legs)
        )
    return entries


def shared_legs_entries(count: int) -> list[JournalEntry]:
    """``count`` entries sharing 5,000 leg pairs (legs are immutable), to keep 1M in memory."""
    legs = [e.legs for e in build(raw_entries(5000))]
    per_day = max(1, count // DAYS)
    return [
        JournalEntry(
            entry_id=f"e{i}",
            idempotency_key=f"k{i}",
            accounting_date=START + timedelta(days=i // per_day),
            legs=legs[i % 5000],
        )
        for i in range(count)
    ]


def post_all(store: MemoryLedgerStore, entries: list[JournalEntry], batch: int = 1000) -> None:
    for start in range(0, len(entries), batch):
        store.post(entries[start : start + batch])


def _timed(action) -> float:
    begin = time.perf_counter()
    action()
    return time.perf_counter() - begin


def memory_rates(entries: list[JournalEntry]) -> tuple[float, float]:
    post_best = indexed_best = float("inf")
    for _ in range(5):
        gc.collect()
        store = MemoryLedgerStore(default_chart())
        post_seconds = _timed(lambda store=store: post_all(store, entries))
        index_seconds = _timed(lambda store=store: store.balance("1303", "CNY", as_of=START))
        post_best = min(post_best, post_seconds)
        indexed_best = min(indexed_best, post_seconds + index_seconds)
    return len(entries) / post_best, len(entries) / indexed_best


def balance_asof_1m_ms() -> float:
    entries = shared_legs_entries(1_000_000)
    store = MemoryLedgerStore(default_chart())
    post_all(store, entries, batch=10_000)
    store.balance("1303", "CNY", as_of=START)  # the first read indexes; timed separately above
    days = [START + timedelta(days=d * 3) for d in range(100)]
    seconds = _timed(lambda: [store.balance("1303", "CNY", as_of=day) for day in days])
    return seconds / len(days) * 1000


def loancore_vs_beancount() -> dict[str, float]:
    rows = raw_entries(100_000)
    entries = build(rows)
    store = MemoryLedgerStore(default_chart())
    post_all(store, entries)
    text = export_store(store, period_ends=())

    def loancore_run(with_build: bool) -> None:
        fresh = MemoryLedgerStore(default_chart())
        post_all(fresh, build(rows) if with_build else entries)
        if not fresh.trial_balance(as_of=date(2100, 1, 1)).is_balanced():
            raise AssertionError("trial balance does not balance")

    loancore_seconds = min(_timed(lambda: loancore_run(False)) for _ in range(2))
    built_seconds = _timed(lambda: loancore_run(True))
    beancount_errors: list = []
    beancount_seconds = _timed(lambda: beancount_errors.extend(loader.load_string(text)[1]))
    if beancount_errors:
        raise AssertionError(f"beancount found errors: {beancount_errors[:3]}")
    return {
        "ledger_vs_beancount_ratio": beancount_seconds / loancore_seconds,
        "ledger_vs_beancount_with_build_ratio": beancount_seconds / built_seconds,
        "ledger_beancount_entries_per_s": len(rows) / beancount_seconds,
    }


def run() -> dict[str, float]:
    gc.collect()
    posted, indexed = memory_rates(build(raw_entries(100_000)))
    results = {
        "ledger_memory_entries_per_s": posted,
        "ledger_memory_indexed_entries_per_s": indexed,
    }
    gc.collect()
    results["ledger_memory_balance_asof_1m_ms"] = balance_asof_1m_ms()
    gc.collect()
    results.update(loancore_vs_beancount())
    return {key: round(value, 3) for key, value in results.items()}


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
