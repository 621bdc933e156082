"""Servicing through the services and the unit of work (loans, quota, ledger in one transaction).

    servicing_repayment_file_per_s     an auto-debit result file of REPAYMENTS (100,000) repayments
                                       (one per loan and due date, installments 1..5 of LOANS
                                       (20,000; ``LOANCORE_BENCH_SERVICING_LOANS`` to run fewer)
                                       12-installment loans) applied on a SQLite file
                                       (synchronous=FULL) by WORKERS worker processes
                                       (``ProcessBatch.apply_batches``, started before: one stream
                                       of loans a worker, one unit of work per 1,000 repayments)
    servicing_repayment_file_1_process_per_s   the same file on a copy of the same book, applied
                                       with ``apply_batch`` in this process, 1,000 a unit of work
    servicing_processes_ratio          worker processes' rate / one process's rate
    servicing_ledger_post_per_s        the same entries posted straight into a fresh SQLite ledger,
                                       one unit of work per 1,000 repayments' entries, in one
                                       process (SQLite has one writer)
    servicing_vs_ledger_ratio          servicing time (worker processes) / ledger posting time of
                                       the same entries
    servicing_1_process_vs_ledger_ratio   the same, the servicing in one process
    servicing_log_mb                   the book's SQLite log (WAL) file, in MB, when the worker
                                       processes are done (before the book is closed)
    servicing_cpu_us_per_repayment     CPU time of the worker processes and this (driving)
                                       process while the workers apply the file, a repayment
                                       (Linux: the workers' /proc/<pid>/stat)
    servicing_1_process_cpu_us_per_repayment   the same, the file applied in one process
    servicing_cores_ceiling_per_s      the limit beside the workers' rate: this machine's cores
                                       (CORES) kept busy with nothing else, at the CPU a repayment
                                       took in this run (CORES * 1e6 / servicing_cpu_us_...)
    servicing_vs_cores_ceiling_ratio   servicing_repayment_file_per_s / the ceiling (how much of
                                       the cores the workers used; 1.0 is every core all the time)

The file and the ledger posting run under the batch entry points' collector policy
(:func:`loancore.app.gc_policy.batch_gc`), as ``loancore repay`` runs.
    servicing_event_p99_ms             one repayment (``apply_event``) on a loan with 24
                                       installments and 20 past events, one unit of work, on
                                       PostgreSQL (LOANCORE_TEST_POSTGRES_URL); ``..._p50_ms`` too
    servicing_bare_commit_p99_ms       the floor in the same run: a bare one-row INSERT and
                                       COMMIT on the same server after each event (fsync);
                                       ``..._p50_ms`` too
    servicing_event_vs_bare_commit_p99_ratio   the event's p99 / the bare commit's p99

Run alone with ``python bench/bench_servicing.py``; no test asserts these figures.
"""

from __future__ import annotations

import datetime
import functools
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from book_kit import book_many, open_book

from loancore.adapters.process_batch import ProcessBatch
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.app.gc_policy import batch_gc
from loancore.ledger import JournalEntry
from loancore.money import Money
from loancore.services import apply_batch, apply_event
from loancore.servicing import Repay, ServicingEvent
from loancore.testing.servicing import CLINIC_PRODUCT_TOML

LOANS = int(os.environ.get("LOANCORE_BENCH_SERVICING_LOANS", "20000"))
REPAYMENTS = LOANS * 5  # 100,000 at 20,000 loans x 5 installments (issue 11's file size)
CHUNK = 1_000
START = datetime.date(2026, 1, 15)
LINES = 400  # 50 loans of 3,000.00 a 200,000.00 line
P99_LOANS = 200
WORKERS = 2  # this machine's cores
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _set_up(uow: Any, lines: int) -> None:
    open_book(uow, CLINIC_PRODUCT_TOML, lines, START)


def _book_many(uow: Any, loan_ids: Sequence[str], installments: int, lines: int) -> None:
    """Set-up only: loans booked and disbursed, ``CHUNK`` a unit of work (book_order's steps)."""
    book_many(uow, loan_ids, lines=lines, start=START, chunk=CHUNK, installments=installments)


def _file(uow: Any, loan_ids: Sequence[str]) -> list[list[tuple[str, ServicingEvent]]]:
    """The repayment file, in chunks: each loan's installments 1..5 paid on their due dates."""
    with uow:
        loan = uow.loans.load(loan_ids[0])
    items: list[tuple[str, ServicingEvent]] = []
    for inst in loan.installments[:5]:
        amount = loan.money(inst.outstanding())
        for loan_id in loan_ids:
            event = Repay(event_id=f"p{inst.number}-{loan_id}", as_of=inst.due_date, amount=amount)
            items.append((loan_id, event))
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def _entries_posted(engine: sa.Engine, after: int) -> list[JournalEntry]:
    uow = SqlUnitOfWork(engine)
    with uow:
        return list(uow.ledger.entries())[after:]


def _child_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of the live process ``pid`` so far; None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name: state, ppid, ...
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_s() -> float | None:
    """CPU seconds of this process and its live worker processes so far; None off Linux."""
    total = time.process_time()
    for child in multiprocessing.active_children():
        used = _child_cpu_s(child.pid or 0)
        if used is None:
            return None
        total += used
    return total


class _Run(NamedTuple):
    seconds: float
    cpu_s: float | None  # this process's and the workers'; None where it cannot be read
    log_mb: float  # the SQLite log (WAL) file when the file is done, before the book is closed


def _apply_file(
    path: Path, chunks: list[list[tuple[str, ServicingEvent]]], processes: ProcessBatch | None
) -> _Run:
    """The file applied to the book at ``path`` (in this process, or by ``processes``), under the
    batch entry points' collector policy as ``loancore repay`` runs."""
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    cpu_before = _cpu_s()
    started = time.perf_counter()
    with batch_gc():
        if processes is None:
            results = [apply_batch(uow, chunk) for chunk in chunks]
        else:
            items = [item for chunk in chunks for item in chunk]
            results = list(processes.apply_batches(uow, items, chunk_size=CHUNK))
    servicing_s = time.perf_counter() - started
    cpu_after = _cpu_s()
    log = Path(f"{path}-wal")
    log_mb = log.stat().st_size / 1e6 if log.exists() else 0.0
    engine.dispose()
    applied = sum(len(result.applied) for result in results)
    assert applied == REPAYMENTS, applied
    cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return _Run(servicing_s, cpu_s, log_mb)


def repayment_file(directory: Path) -> dict[str, float]:
    path, copy = directory / "servicing.sqlite", directory / "servicing-processes.sqlite"
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    _set_up(uow, LINES)
    loan_ids = [f"L{n:06d}" for n in range(LOANS)]
    _book_many(uow, loan_ids, 12, LINES)
    booked_entries = len(_entries_posted(engine, 0))
    chunks = _file(uow, loan_ids)
    engine.dispose()
    shutil.copy(path, copy)  # the same book for the worker processes

    one_s, one_cpu_s, _log_mb = _apply_file(path, chunks, None)
    engine = create_engine(path)
    entries = _entries_posted(engine, booked_entries)
    engine.dispose()
    with ProcessBatch(functools.partial(create_engine, copy), workers=WORKERS) as processes:
        servicing_s, cpu_s, log_mb = _apply_file(copy, chunks, processes)

    ledger_engine = create_engine(directory / "ledger.sqlite")
    ledger_uow = SqlUnitOfWork(ledger_engine)
    _set_up(ledger_uow, 0)
    per_chunk = max(1, len(entries) * CHUNK // REPAYMENTS)
    started = time.perf_counter()
    with batch_gc():  # the same collector policy as the servicing it is compared with
        for first in range(0, len(entries), per_chunk):
            with ledger_uow:
                ledger_uow.ledger.post(entries[first : first + per_chunk])
                ledger_uow.commit()
    ledger_s = time.perf_counter() - started
    ledger_engine.dispose()
    print(
        f"   {REPAYMENTS:,} repayments: {servicing_s:.1f} s on {WORKERS} worker processes, "
        f"{one_s:.1f} s in one process; the ledger posting of their entries {ledger_s:.1f} s",
        flush=True,
    )
    figures = {
        "servicing_repayment_file_per_s": REPAYMENTS / servicing_s,
        "servicing_repayment_file_1_process_per_s": REPAYMENTS / one_s,
        "servicing_processes_ratio": one_s / servicing_s,
        "servicing_ledger_post_per_s": REPAYMENTS / ledger_s,
        "servicing_vs_ledger_ratio": servicing_s / ledger_s,
        "servicing_1_process_vs_ledger_ratio": one_s / ledger_s,
        "servicing_log_mb": log_mb,
    }
    if cpu_s is not None and one_cpu_s is not None:
        ceiling = CORES * REPAYMENTS / cpu_s
        print(
            f"   CPU {cpu_s:.1f} s on the workers and the driver ({CORES} cores: at most "
            f"{ceiling:,.0f} repayments/s at this CPU a repayment), {one_cpu_s:.1f} s in one process",
            flush=True,
        )
        figures.update(
            {
                "servicing_cpu_us_per_repayment": cpu_s * 1e6 / REPAYMENTS,
                "servicing_1_process_cpu_us_per_repayment": one_cpu_s * 1e6 / REPAYMENTS,
                "servicing_cores_ceiling_per_s": ceiling,
                "servicing_vs_cores_ceiling_ratio": REPAYMENTS / servicing_s / ceiling,
            }
        )
    return figures


def event_latency(url: str) -> dict[str, float]:
    schema = f"bench_servicing_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        uow = SqlUnitOfWork(engine)
        _set_up(uow, 4)
        loan_ids = [f"P{n:04d}" for n in range(P99_LOANS)]
        _book_many(uow, loan_ids, 24, 4)
        cent = Money(Decimal("1.00"), "CNY")
        for k in range(20):  # 20 past events a loan
            day = START + datetime.timedelta(days=k)
            items: list[tuple[str, ServicingEvent]] = [
                (i, Repay(event_id=f"h{k}-{i}", as_of=day, amount=cent)) for i in loan_ids
            ]
            apply_batch(uow, items)
        timings: list[float] = []
        bare: list[float] = []
        day = START + datetime.timedelta(days=25)
        with engine.connect() as connection:
            # The floor under one event: a bare one-row INSERT and COMMIT on the same server,
            # timed right after each event (the disk's fsync latency of the moment).
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("CREATE TABLE bench_commit (id integer primary key)")
            connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            for n, loan_id in enumerate(loan_ids):
                event = Repay(event_id=f"m-{loan_id}", as_of=day, amount=cent)
                started = time.perf_counter()
                apply_event(uow, loan_id, event)
                timings.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                cursor.execute("INSERT INTO bench_commit VALUES (%s)", (n,))
                connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
                bare.append((time.perf_counter() - started) * 1000)
        timings.sort()
        bare.sort()
        p99 = int(len(timings) * 0.99) - 1
        return {
            "servicing_event_p50_ms": statistics.median(timings),
            "servicing_event_p99_ms": timings[p99],
            "servicing_bare_commit_p50_ms": statistics.median(bare),
            "servicing_bare_commit_p99_ms": bare[p99],
            "servicing_event_vs_bare_commit_p99_ratio": timings[p99] / bare[p99],
        }
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        figures.update(repayment_file(Path(directory)))
    url = os.environ.get("LOANCORE_TEST_POSTGRES_URL")
    if url:
        figures.update(event_latency(url))
    return figures


if __name__ == "__main__":  # the guard also keeps spawned worker processes from running it
    for key, value in run().items():
        print(f"{key:40s} {value:>14,.3f}")
