"""The end of day of one SQLite book on worker processes of this machine (the stdlib's
:class:`~concurrent.futures.ProcessPoolExecutor`; no extra dependency).

SQLite has one writer at a time, and most of a loan's close is not writing: reading the loan,
closing its days in memory (accrual, due moves, aging, provisions) and encoding what changed
take about three quarters of it. So the book is split into loan-id ranges
(:func:`loancore.services.partition.partition_book`, ``parts`` of them, default
:data:`PARTS_PER_WORKER` a worker) and each worker process closes whole ranges with
:func:`~loancore.services.partition.close_range_parts`, giving it a second unit of work whose
SQLite transactions begin DEFERRED (a snapshot, no write lock) for the reads and decisions:
each chunk is read and decided without the lock, then written in a unit of work that takes it
(``BEGIN IMMEDIATE``) and first checks that every loan decided on is still at the version and
standing read (:func:`loancore.services.end_of_day.close_loans`, ``read_uow``). The workers
decide side by side and queue only for their writes (SQLite's busy timeout); a chunk whose loans
an event changed in between is closed again in one unit of work. When every range is done, the
driver runs the credit lines' and the quota's part exactly as
:func:`~loancore.services.end_of_day.close_business_day` does: the lines inside each range task,
the quota batch once, here, with the refused loans' borrowers left out.

The result is the book the single-process batch leaves (tests/services/test_process_batch.py
compares the two databases): the chunks are the same, the idempotency keys derive from the loan
and the day, and a summary entry's key from the loans it sums.

A range task that raises anything (a worker killed, an error that is not a refusal) is run again
in this process on the driver's unit of work; what the worker committed stays committed, and
the rerun closes only the loans still behind the date. A worker's engine comes from ``opener``,
a picklable callable (a module-level function, or a :func:`functools.partial` of one) that opens
THE SAME database the driver's unit of work is on, with the same settings (the demo's opens its
file with ``synchronous=NORMAL``); each worker opens it once and keeps it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine

from loancore.adapters.sql.base import dialect_name, reading_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.ports import UnitOfWork
from loancore.quota import LimitPolicy
from loancore.services.credit_line import LinesClosed
from loancore.services.end_of_day import (
    CHUNK_SIZE,
    BusinessDayReport,
    LoansClosed,
    RulesLike,
    complete_business_day,
)
from loancore.services.partition import PARTS_MAX, LoanRange, close_range_parts, partition_day

__all__ = ["PARTS_PER_WORKER", "WORKERS_MAX", "EngineOpener", "ProcessEndOfDay"]

EngineOpener = Callable[[], Engine]
"""Opens the book's database in a worker process; must pickle (module docstring)."""

PARTS_PER_WORKER = 1
"""Ranges per worker process when the caller names no count. The ranges are balanced by the
loans to close (:func:`~loancore.services.partition.partition_day`), so one a worker keeps them
busy alike; and a ``summary`` product's entries are summed per chunk, so more ranges than
workers would mean more, smaller summary entries (the demo's ledger: 110,400 entries on two
ranges or in one process, 142,800 on eight)."""

WORKERS_MAX = 64

_ENGINES: dict[bytes, Engine] = {}


def _worker_engine(opener: EngineOpener) -> Engine:
    """This worker's engine from ``opener``, opened on first use and kept for its later ranges."""
    key = pickle.dumps(opener)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = opener()
    return engine


def _close_part(
    opener: EngineOpener,
    business_date: date,
    loan_range: LoanRange,
    rules: RulesLike,
    chunk_size: int,
) -> tuple[LoansClosed, LinesClosed]:
    """THE task a worker runs: ``loan_range`` closed on its own engine, the chunks read and
    decided in DEFERRED transactions and written in IMMEDIATE ones (module docstring)."""
    engine = _worker_engine(opener)
    reader = SqlUnitOfWork(reading_engine(engine))
    return close_range_parts(
        SqlUnitOfWork(engine),
        business_date,
        loan_range,
        chunk_size=chunk_size,
        rules=rules,
        read_uow=reader,
    )


def _start_worker() -> None:
    """A worker's initializer: the batch collector policy (:mod:`loancore.app.gc_policy`) for
    the life of the process, entered once, after the imports (which it freezes)."""
    from loancore.app.gc_policy import batch_gc  # the app package imports this module

    batch_gc().__enter__()


def _started(pause_s: float) -> int:
    """A task that holds its worker ``pause_s`` (so that the next goes to another): its pid."""
    time.sleep(pause_s)
    return os.getpid()


def _check_count(field: str, value: object, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise InvalidInput(field, value, f"expected an int from 1 to {upper}")
    return value


def _merged(
    business_date: date, parts: Sequence[tuple[LoansClosed, LinesClosed]]
) -> tuple[LoansClosed, LinesClosed]:
    loans = LoansClosed(
        business_date,
        chunks=sum(p.chunks for p, _l in parts),
        loans_closed=sum(p.loans_closed for p, _l in parts),
        days_closed=sum(p.days_closed for p, _l in parts),
        entries=sum(p.entries for p, _l in parts),
        memo_postings=sum(p.memo_postings for p, _l in parts),
        failed=tuple(f for p, _l in parts for f in p.failed),
    )
    lines = LinesClosed(
        business_date,
        chunks=sum(lines.chunks for _p, lines in parts),
        lines_closed=sum(lines.lines_closed for _p, lines in parts),
        entries=sum(lines.entries for _p, lines in parts),
        statements=sum(lines.statements for _p, lines in parts),
        failed=tuple(f for _p, lines in parts for f in lines.failed),
        days_closed=sum(lines.days_closed for _p, lines in parts),
        memo_postings=sum(lines.memo_postings for _p, lines in parts),
    )
    return loans, lines


class ProcessEndOfDay:
    """``ProcessEndOfDay(opener, workers=2)``: a pool of ``workers`` processes (spawned, so a
    worker shares no connection with this process) that close business days of the SQLite book
    ``opener`` opens (module docstring). Keep it for many days (a worker starts in about a
    second) and close it when done (``close()`` or ``with``)."""

    def __init__(self, opener: EngineOpener, *, workers: int = 2) -> None:
        if not callable(opener):
            raise InvalidInput("opener", opener, "expected a callable that opens an Engine")
        try:
            pickle.dumps(opener)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise InvalidInput("opener", opener, f"does not pickle: {error}") from None
        self.workers = _check_count("workers", workers, WORKERS_MAX)
        self._opener = opener
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        """The pool with every worker started (spawned on demand, the first day would otherwise
        run on one worker while the others import loancore)."""
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )
        for started in [pool.submit(_started, 0.05) for _ in range(self.workers)]:
            started.result()
        return pool

    def close(self) -> None:
        """Stop the worker processes (waits for running ranges)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _submit(
        self, business_date: date, loan_range: LoanRange, rules: RulesLike, chunk_size: int
    ) -> Future[tuple[LoansClosed, LinesClosed]]:
        """The range's task on the pool; a pool broken by a worker that died is replaced."""
        task = functools.partial(
            _close_part, self._opener, business_date, loan_range, rules, chunk_size
        )
        try:
            return self._pool.submit(task)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(task)

    def close_business_day(
        self,
        uow: UnitOfWork,
        business_date: date,
        *,
        rules: RulesLike = None,
        limit_policy: LimitPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
        parts: int | None = None,
    ) -> BusinessDayReport:
        """:func:`~loancore.services.end_of_day.close_business_day` of the book ``uow`` is on
        (the database ``opener`` opens), its loans and credit lines closed by the workers in
        ``parts`` ranges (None: :data:`PARTS_PER_WORKER` a worker), then the quota batch here.
        ``rules`` must pickle (the workers get a copy)."""
        require_date("business_date", business_date)
        if not isinstance(uow, SqlUnitOfWork) or dialect_name(uow.bind) != "sqlite":
            raise InvalidInput(
                "uow",
                uow,
                "expected a SqlUnitOfWork on a SQLite book (PostgreSQL: "
                "loancore.adapters.dask_batch)",
            )
        count = _check_count(
            "parts", self.workers * PARTS_PER_WORKER if parts is None else parts, PARTS_MAX
        )
        ranges = partition_day(uow, business_date, count)
        futures = [self._submit(business_date, r, rules, chunk_size) for r in ranges]
        done: list[tuple[LoansClosed, LinesClosed]] = []
        for loan_range, future in zip(ranges, futures, strict=True):
            try:
                done.append(future.result())
            except Exception:  # noqa: BLE001 - any failure of a worker: the range again, here
                done.append(
                    close_range_parts(
                        uow, business_date, loan_range, chunk_size=chunk_size, rules=rules
                    )
                )
        loans, lines = _merged(business_date, done)
        return complete_business_day(uow, business_date, loans, lines, limit_policy=limit_policy)
