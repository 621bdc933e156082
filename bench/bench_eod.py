"""The end-of-day batch on SQLite: an ordinary day of a book of active loans.

    eod_sqlite_loans_per_s    LOANS (100,000; ``LOANCORE_BENCH_EOD_LOANS`` to run fewer) active
                              12-installment loans, each closed through the day before, closed
                              for one ordinary day (accrual, classification, provision: two
                              entries a loan) as ``loancore eod --workers 2`` closes it: WORKERS
                              worker processes (:class:`~loancore.adapters.process_batch.
                              ProcessBatch`, started before), chunks of CHUNK, on a SQLite
                              file (synchronous=FULL); the faster of two days
    eod_sqlite_1_process_loans_per_s  the same book's day closed by ``close_business_day`` in
                              this process (the faster of two days, closed alternately with the
                              processes' days and the summary book's)
    eod_sqlite_processes_ratio  worker processes' rate / one process's rate
    eod_ledger_post_per_s     the same day's entries posted straight into a fresh SQLite ledger,
                              one unit of work per CHUNK loans' entries, in one process (SQLite
                              has one writer) (loans a second)
    eod_vs_ledger_ratio       end-of-day time (worker processes) / ledger posting time of the
                              same entries
    eod_1_process_vs_ledger_ratio   the same, the end of day in one process
    eod_1m_loans_s            the time 1,000,000 loans would take at the measured rate
    eod_sqlite_entries_per_s  the entries that day posted, a second of end of day

    eod_sqlite_summary_loans_per_s    the same days of the same book, its product posting
                                      summaries (``gl_granularity = "summary"``): one entry per
                                      product, day and event kind per chunk (the faster day, in
                                      one process)
    eod_sqlite_summary_entries_per_s  the summary entries posted, a second
    eod_sqlite_summary_loan_entries_per_s   the loan-level entries they sum, a second
    eod_sqlite_summary_entries_ratio  summary entries / loan-level entries of the day
    eod_sqlite_summary_vs_loan_ratio  summary loans a second / loan-level loans a second (both
                                      in one process)

Both the end of day and the ledger posting it is compared with run under the batch entry
points' collector policy (:func:`loancore.app.gc_policy.batch_gc`), as ``loancore eod`` does.

Run alone with ``python bench/bench_eod.py``; no test asserts these figures.
"""

from __future__ import annotations

import datetime
import functools
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from book_kit import book_many, open_book

from loancore.adapters.process_batch import ProcessBatch
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.app.gc_policy import batch_gc
from loancore.ledger import JournalEntry
from loancore.services import close_business_day
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

LOANS = int(os.environ.get("LOANCORE_BENCH_EOD_LOANS", "100000"))
WORKERS = 2  # this machine's cores: ``loancore eod --workers 2``
CHUNK = 1_000
START = datetime.date(2026, 1, 15)
LINES = 2000  # at 100,000 loans 50 loans of 3,000.00 a line of 200,000.00


def _product_toml(granularity: str) -> str:
    head, sep, tail = CLINIC_PRODUCT_TOML.partition('currency = "CNY"\n')
    return f'{head}{sep}gl_granularity = "{granularity}"\n{tail}'


def _set_up(uow: Any, lines: int, granularity: str = "loan") -> None:
    open_book(uow, _product_toml(granularity), lines, START)


def _book_many(uow: Any, loan_ids: Sequence[str]) -> None:
    """Set-up only: loans booked and disbursed, CHUNK a unit of work (book_order's steps)."""
    book_many(uow, loan_ids, lines=LINES, start=START, chunk=CHUNK)


def _entries_of_day(uow: Any, day: datetime.date) -> list[JournalEntry]:
    with uow:
        return [e for e in uow.ledger.entries() if e.accounting_date == day]


def _book_of(path: Path, loans: int, granularity: str) -> Any:
    """The book of ``loans`` set up and closed through START (every loan current)."""
    uow = SqlUnitOfWork(create_engine(path))
    _set_up(uow, LINES, granularity)
    _book_many(uow, [f"L{n:07d}" for n in range(loans)])
    close_business_day(uow, START, chunk_size=CHUNK)
    return uow


def _close_day(
    uow: Any, loans: int, day: datetime.date, processes: ProcessBatch | None = None
) -> tuple[float, list[JournalEntry]]:
    """``day`` closed over the book (in this process, or by ``processes``): its time and the
    entries it posted."""
    started = time.perf_counter()
    with batch_gc():  # the batch entry points' collector policy (loancore.app.gc_policy)
        if processes is None:
            report = close_business_day(uow, day, chunk_size=CHUNK)
        else:
            report = processes.close_business_day(uow, day, chunk_size=CHUNK)
    eod_s = time.perf_counter() - started
    assert report.loans_closed == loans and not report.failed, report.failed[:3]
    entries = _entries_of_day(uow, day)
    assert report.entries == len(entries), (report.entries, len(entries))
    return eod_s, entries


_DAYS = (
    ("loan", 0),
    ("loan", WORKERS),
    ("summary", 0),
    ("summary", 0),
    ("loan", WORKERS),
    ("loan", 0),
)
"""The days closed, in order: (book, worker processes; 0 this process). Each way runs twice,
alternately, so that the load of the shared machine falls on every way; each keeps its faster
day."""


def _days_closed(
    directory: Path, loans: int
) -> dict[tuple[str, int], tuple[float, list[JournalEntry]]]:
    """Both books set up, then the ``_DAYS`` closed."""
    paths = {g: directory / f"{g}.sqlite" for g in ("loan", "summary")}
    books = {g: _book_of(path, loans, g) for g, path in paths.items()}
    best: dict[tuple[str, int], tuple[float, list[JournalEntry]]] = {}
    opener = functools.partial(create_engine, paths["loan"])
    with ProcessBatch(opener, workers=WORKERS) as processes:
        closed_days = dict.fromkeys(books, 0)  # each book's days: one ordinary day at a time
        for way in _DAYS:
            granularity, workers = way
            closed_days[granularity] += 1
            closed = _close_day(
                books[granularity],
                loans,
                START + datetime.timedelta(days=closed_days[granularity]),
                processes if workers else None,
            )
            if way not in best or closed[0] < best[way][0]:
                best[way] = closed
    for uow in books.values():
        uow.bind.dispose()
    return best


def ordinary_day(
    directory: Path,
    loans: int,
    closed: tuple[float, list[JournalEntry]],
    in_processes: tuple[float, list[JournalEntry]],
) -> dict[str, float]:
    one_s, entries = closed
    eod_s = in_processes[0]
    ledger_engine = create_engine(directory / "ledger.sqlite")
    ledger_uow = SqlUnitOfWork(ledger_engine)
    _set_up(ledger_uow, 0)
    per_chunk = max(1, len(entries) * CHUNK // loans)
    started = time.perf_counter()
    with batch_gc():  # the same collector policy as the end of day it is compared with
        for first in range(0, len(entries), per_chunk):
            with ledger_uow:
                ledger_uow.ledger.post(entries[first : first + per_chunk])
                ledger_uow.commit()
    ledger_s = time.perf_counter() - started
    ledger_engine.dispose()
    rate, one_rate = loans / eod_s, loans / one_s
    print(
        f"   {loans:,} loans: end of day {eod_s:.1f} s on {WORKERS} worker processes "
        f"({rate:,.0f} loans/s, {len(entries):,} entries), {one_s:.1f} s in one process "
        f"({one_rate:,.0f} loans/s); ledger posting {ledger_s:.1f} s; "
        f"1,000,000 loans at this rate: {1_000_000 / rate:,.0f} s",
        flush=True,
    )
    return {
        "eod_sqlite_loans_per_s": rate,
        "eod_sqlite_entries_per_s": len(entries) / eod_s,
        "eod_sqlite_1_process_loans_per_s": one_rate,
        "eod_sqlite_processes_ratio": rate / one_rate,
        "eod_ledger_post_per_s": loans / ledger_s,
        "eod_vs_ledger_ratio": eod_s / ledger_s,
        "eod_1_process_vs_ledger_ratio": one_s / ledger_s,
        "eod_1m_loans_s": 1_000_000 / rate,
    }


def summary_day(
    loans: int, closed: tuple[float, list[JournalEntry]], loan_level: dict[str, float]
) -> dict[str, float]:
    """The same day with the product posting summaries; compared with ``loan_level``."""
    eod_s, entries = closed
    loan_entries = (
        loan_level["eod_sqlite_entries_per_s"] * loans / loan_level["eod_sqlite_loans_per_s"]
    )
    rate = loans / eod_s
    print(
        f"   {loans:,} loans, summary: end of day {eod_s:.1f} s ({rate:,.0f} loans/s, "
        f"{len(entries):,} entries for {loan_entries:,.0f} loan-level ones)",
        flush=True,
    )
    return {
        "eod_sqlite_summary_loans_per_s": rate,
        "eod_sqlite_summary_entries_per_s": len(entries) / eod_s,
        "eod_sqlite_summary_loan_entries_per_s": loan_entries / eod_s,
        "eod_sqlite_summary_entries_ratio": len(entries) / loan_entries,
        "eod_sqlite_summary_vs_loan_ratio": rate / loan_level["eod_sqlite_1_process_loans_per_s"],
    }


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        closed = _days_closed(Path(directory), LOANS)
        figures = ordinary_day(
            Path(directory), LOANS, closed[("loan", 0)], closed[("loan", WORKERS)]
        )
        figures.update(summary_day(LOANS, closed[("summary", 0)], figures))
        return figures


if __name__ == "__main__":  # the guard also keeps spawned worker processes from running it
    if len(sys.argv) > 1:
        LOANS = int(sys.argv[1])
    for key, value in run().items():
        print(f"{key:40s} {value:>14,.3f}")
