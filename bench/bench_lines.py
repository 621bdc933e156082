"""The revolving credit lines' day close (``close_lines_day``) on SQLite and in memory.

    lines_close_day_sqlite_per_s     ACCOUNTS (2,000; ``LOANCORE_BENCH_LINE_ACCOUNTS`` to run
                                     fewer) accounts, each with 5,000.00 drawn and closed through
                                     the day before, closed for one ordinary day (accrual,
                                     classification, provision: two entries an account) on a
                                     SQLite file: accounts a second
    lines_close_day_memory_per_s     the same in memory
    lines_gap_5_days_sqlite_per_s    the same book five days behind, caught up day by day in one
                                     run: account-days a second
    lines_gap_vs_daily_ratio         that run's time / the time of five one-day runs over a copy
                                     of the same book (the same days, the same entries)
    lines_apply_repay_sqlite_ms      the median ``apply_line_event`` of a repayment on an account
                                     the day close keeps a standing for (its standing read, no
                                     day to close), a durable commit each

Run alone with ``python bench/bench_lines.py``; no test asserts these figures.
"""

from __future__ import annotations

import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.ledger import JournalEntry, default_chart
from loancore.money import Money
from loancore.ports import LineRecord, UnitOfWork
from loancore.quota import Grant
from loancore.services import apply_line_event, close_lines_day
from loancore.servicing import Draw, LineQuotaEffect, Repay, apply_line, open_line
from loancore.testing.servicing import CASH_LINE_PRODUCT_TOML

ACCOUNTS = int(os.environ.get("LOANCORE_BENCH_LINE_ACCOUNTS", "2000"))
OPENED = datetime.date(2026, 3, 1)
CLOSED = datetime.date(2026, 3, 3)  # the book is closed through this day before each figure
CHUNK = 500
REPAYS = 50
PER_LINE = 40  # accounts of 5,000.00 on a 200,000.00 quota line (the borrower cap)


def _cny(text: str) -> Money:
    return Money(Decimal(text), "CNY")


def _book(uow: UnitOfWork) -> None:
    """ACCOUNTS accounts, PER_LINE to a quota line, 5,000.00 drawn on 03-02 each, closed through 03-03."""
    with uow:
        product = uow.loans.save_line_product(CASH_LINE_PRODUCT_TOML)
        for line in range(-(-ACCOUNTS // PER_LINE)):  # bounded: a quota line per PER_LINE
            grant = Grant(
                key=f"g{line}",
                line_id=f"Q{line}",
                borrower_id=f"C{line}",
                limit=_cny("200000.00"),
                starts_on=OPENED,
                expires_on=datetime.date(2030, 1, 1),
            )
            uow.quota.apply(grant, as_of=OPENED)
        uow.ledger.save_chart(default_chart())
        uow.commit()
    for first in range(0, ACCOUNTS, CHUNK):
        with uow:
            entries: list[JournalEntry] = []
            effects: list[LineQuotaEffect] = []
            for n in range(first, min(first + CHUNK, ACCOUNTS)):
                account = open_line(
                    product,
                    account_id=f"A{n:07d}",
                    line_id=f"Q{n // PER_LINE}",
                    opened_on=OPENED,
                    statement_day=20,
                    dimensions={"customer": f"C{n // PER_LINE}"},
                )
                uow.loans.add_line(account, customer_id=f"C{n // PER_LINE}")
                draw = Draw(event_id=f"d{n}", as_of=OPENED.replace(day=2), amount=_cny("5000"))
                outcome = apply_line(account, product, draw)
                record = LineRecord(
                    event_id=draw.event_id,
                    as_of=draw.as_of,
                    kind="draw",
                    version=2,
                    entry_ids=tuple(e.entry_id for e in outcome.entries),
                    quota_effects=outcome.quota_effects,
                    statements=(),
                )
                uow.loans.update_line(outcome.account, expected_version=1, record=record)
                effects.extend(outcome.quota_effects)
                entries.extend(outcome.entries)
            for effect in effects:  # loans, then quota, then ledger: the lock order
                uow.quota.apply(effect.command(), as_of=OPENED.replace(day=2))
            uow.ledger.post(entries)
            uow.commit()
    close_lines_day(uow, CLOSED, chunk_size=CHUNK)


def _timed(uow: UnitOfWork, days: list[datetime.date]) -> float:
    started = time.perf_counter()
    for day in days:
        closed = close_lines_day(uow, day, chunk_size=CHUNK)
        assert closed.failed == () and closed.lines_closed == ACCOUNTS
    return time.perf_counter() - started


def _sqlite(path: Path) -> SqlUnitOfWork:
    return SqlUnitOfWork(create_engine(path))


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    memory = MemoryUnitOfWork()
    _book(memory)
    one_day = [CLOSED + datetime.timedelta(days=1)]
    figures["lines_close_day_memory_per_s"] = ACCOUNTS / _timed(memory, one_day)
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "book.sqlite"
        booked = _sqlite(base)
        _book(booked)
        booked.bind.dispose()  # type: ignore[attr-defined]
        copies = []
        for name in ("day", "gap", "daily"):
            shutil.copy(base, Path(directory) / f"{name}.sqlite")
            copies.append(_sqlite(Path(directory) / f"{name}.sqlite"))
        day, gap, daily = copies
        figures["lines_close_day_sqlite_per_s"] = ACCOUNTS / _timed(day, one_day)
        five = [CLOSED + datetime.timedelta(days=n) for n in range(1, 6)]
        gap_time = _timed(gap, five[-1:])
        daily_time = _timed(daily, five)
        figures["lines_gap_5_days_sqlite_per_s"] = 5 * ACCOUNTS / gap_time
        figures["lines_gap_vs_daily_ratio"] = gap_time / daily_time
        spent = []
        as_of = five[-1] + datetime.timedelta(days=1)
        closed = close_lines_day(day, as_of - datetime.timedelta(days=1), chunk_size=CHUNK)
        assert closed.failed == ()
        for n in range(REPAYS):
            repay = Repay(event_id=f"r{n}", as_of=as_of, amount=_cny("10"))
            started = time.perf_counter()
            apply_line_event(day, f"A{n:07d}", repay)
            spent.append(time.perf_counter() - started)
        figures["lines_apply_repay_sqlite_ms"] = statistics.median(spent) * 1000
        for uow in copies:
            uow.bind.dispose()  # type: ignore[attr-defined]
    return figures


def main(argv: list[str]) -> int:
    for name, value in run().items():
        print(f"{name:36} {value:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
