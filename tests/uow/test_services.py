"""The services layer: the Ledger facade's look-ups, and the end-of-day batch going on past a
refusal raised by the store (the refusal convention: refusals are raised, batches catch them)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from uow_kit import DAY, LATER, cny, draw_entry

from loancore.adapters.memory.ledger import MemoryLedgerStore
from loancore.adapters.memory.quota import MemoryQuotaStore
from loancore.errors import InvalidInput, Rejected, RejectionCode
from loancore.ledger import default_chart
from loancore.quota import Command, CreditRecord, DefaultLimitPolicy, EventKind, Grant, QuotaResult
from loancore.services import Ledger, Refusal, run_end_of_day


def test_the_ledger_facade_finds_entries_by_key_and_lists_them() -> None:
    ledger = Ledger(MemoryLedgerStore(default_chart()))
    ledger.post(draw_entry(1), draw_entry(2))
    assert ledger.find_by_key("draw:2") == draw_entry(2)
    assert ledger.find_by_key("draw:3") is None
    assert ledger.get_entry("E-1") == draw_entry(1)
    assert list(ledger.entries()) == [draw_entry(1), draw_entry(2)]
    assert ledger.audit() == []


class RefusingStore:
    """A quota store that raises a refusal for one command key, as stores do (errors.py)."""

    def __init__(self, store: MemoryQuotaStore, refused_key: str) -> None:
        self._store = store
        self._refused_key = refused_key

    def apply(self, command: Command, *, as_of: Any) -> QuotaResult:
        if command.key == self._refused_key:
            raise Rejected(RejectionCode.QUOTA_LINE_CLOSED, f"refused {command.key}")
        return self._store.apply(command, as_of=as_of)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_end_of_day_reports_a_refusal_and_goes_on() -> None:
    inner = MemoryQuotaStore()
    for borrower in ("b1", "b2"):
        grant = Grant(
            key=f"g-{borrower}",
            line_id=f"M-{borrower}",
            borrower_id=borrower,
            limit=cny("10000.00"),
            starts_on=DAY,
            expires_on=LATER,
        )
        inner.apply(grant, as_of=DAY)
    store = RefusingStore(inner, "policy:raise:M-b1:1")
    records = {b: CreditRecord(borrower_id=b, on_time_repayments=6) for b in ("b1", "b2")}
    report = run_end_of_day(store, records, DefaultLimitPolicy(), as_of=DAY, key="eod")  # type: ignore[arg-type]
    assert report.refused == (
        Refusal(
            "policy:raise:M-b1:1", RejectionCode.QUOTA_LINE_CLOSED, "refused policy:raise:M-b1:1"
        ),
    )
    assert [r.key for r in report.applied] == ["policy:raise:M-b2:1"]
    assert report.applied[0].events[0].kind is EventKind.LIMIT_ADJUSTED
    assert inner.line("M-b1").limit_permanent_minor == 1_000_000  # refused: unchanged
    assert inner.line("M-b2").limit_permanent_minor == 1_100_000
    assert inner.result("policy:raise:M-b1:1") is None  # not recorded: the next run retries it


def test_the_ledger_facade_names_through_when_a_close_date_is_not_a_date() -> None:
    ledger = Ledger(MemoryLedgerStore(default_chart()))
    for bad in (datetime.datetime(2026, 1, 31, 0, 0), "2026-01-31", 20260131):
        with pytest.raises(InvalidInput) as info:
            ledger.close_period(bad)  # type: ignore[arg-type]
        assert info.value.field == "through"
    assert ledger.store.closed_through() is None
