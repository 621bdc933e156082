"""Batches of one SQLite book on worker processes of this machine (the stdlib's
:class:`~concurrent.futures.ProcessPoolExecutor`; no extra dependency): the end of day, and a
repayment file's batches.

SQLite has one writer at a time, and most of a batch is not writing: reading the loans, deciding
(closing their days in memory, applying the events) and encoding what changed take about three
quarters of it. So :class:`ProcessBatch` splits the work into loan-id ranges, one a worker
(:data:`PARTS_PER_WORKER`), and each worker process runs its range in chunks with a second unit
of work whose SQLite transactions begin DEFERRED (a snapshot, no write lock;
:func:`~loancore.adapters.sql.reading_engine`): each chunk is read without the lock and decided
with no transaction open, then written in a unit of work that takes it (``BEGIN IMMEDIATE``)
and first checks that every loan decided on is still at the version and standing read
(:func:`~loancore.services.shared.check_unchanged`). The workers decide side by side and queue
only for their writes (SQLite's busy timeout).

- :meth:`ProcessBatch.close_business_day`: the day's loans to close split by
  :func:`~loancore.services.partition.partition_day`; a worker closes its range's loans and
  credit-line accounts (:func:`~loancore.services.partition.close_range_parts` with
  ``read_uow``; a chunk whose loans an event changed meanwhile is closed again in one unit of
  work), then the driver runs the quota batch as
  :func:`~loancore.services.end_of_day.close_business_day` does
  (:func:`~loancore.services.end_of_day.complete_business_day`). The book is the one the
  single-process batch leaves (tests/eod_dask/test_process_batch.py), but for a ``summary``
  product's entries, summed per chunk: the same amounts, cut at other chunks (docs/end-of-day.md).
- :meth:`ProcessBatch.apply_batches`: ``(loan_id, event)`` pairs split by loan id into one
  stream a worker, each loan's events in their order; a worker applies its stream in chunks
  with :func:`~loancore.services.apply_batch` (``read_uow``: a batch whose loans changed
  meanwhile is decided again).

The workers' connections do not checkpoint the write-ahead log as they commit
(``wal_autocheckpoint = 0``): while a batch runs, a thread of this process checkpoints it every
:data:`CHECKPOINT_S` (``PRAGMA wal_checkpoint(PASSIVE)``: it never waits for a reader or a
writer), and once more when the workers are done (:class:`WalCheckpointer`). A committing
worker otherwise copied the log back into the database itself, on the batch's critical path;
here the copy overlaps the workers' deciding and writing (docs/storage.md, "Checkpoints").
Since a worker holds no snapshot while it decides, a checkpoint often finds the whole log copied
back and no reader in it, and the next commit writes the log from its start again: the log stays
at tens of MB instead of growing through the batch (docs/storage.md, "The log restarts").

A range or stream whose worker fails with anything but a loancore refusal (a worker killed, the
book unreachable from it) is run again in this process on the driver's unit of work; what the
worker committed stays committed, and the rerun does only what is left (a closed loan is not
selected again, an applied event id is a replay). A worker's engine comes from ``opener``, a
picklable callable (a module-level function, or a :func:`functools.partial` of one) that opens
THE SAME database the driver's unit of work is on, with the same settings (the demo's opens its
file with ``synchronous=NORMAL``); each worker opens it once and keeps it. A script that builds a
:class:`ProcessBatch` runs under ``if __name__ == "__main__":`` (the workers are spawned, and
spawning imports the main module again).
"""

from __future__ import annotations

import bisect
import functools
import multiprocessing
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from types import TracebackType
from typing import Self, TypeVar

import attrs
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from loancore.adapters.sql.base import dialect_name, reading_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.checks import require_date
from loancore.errors import InvalidInput, LoancoreError
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
from loancore.services.partition import (
    PARTS_MAX,
    LoanRange,
    close_range_parts,
    partition_day,
    split_ids,
)
from loancore.services.servicing import BATCH_MAX, BatchResult, apply_batch
from loancore.servicing import ServicingEvent

__all__ = [
    "BATCH_CHUNK",
    "CHECKPOINT_S",
    "PARTS_PER_WORKER",
    "WORKERS_MAX",
    "EngineOpener",
    "ProcessBatch",
    "WalCheckpointer",
    "streams_by_loan",
]

_T = TypeVar("_T")

BATCH_CHUNK = 1000
"""Events a batch (a unit of work) in :meth:`ProcessBatch.apply_batches` by default."""

EngineOpener = Callable[[], Engine]
"""Opens the book's database in a worker process; must pickle (module docstring)."""

PARTS_PER_WORKER = 1
"""Ranges per worker process when the caller names no count. The ranges are balanced by the
loans to close (:func:`~loancore.services.partition.partition_day`), so one a worker keeps them
busy alike; and a ``summary`` product's entries are summed per chunk, so more ranges than
workers would mean more, smaller summary entries (the demo's ledger: 110,400 entries on two
ranges or in one process, 142,800 on eight)."""

WORKERS_MAX = 64

CHECKPOINT_S = 0.25  # float-ok: seconds between checkpoints, not money
"""Seconds between two checkpoints of the book's write-ahead log while workers run a batch
(:class:`WalCheckpointer`). At the bench's size the workers commit four or five chunks a second
between them; 0.1, 0.25 and 1 s ran alike (docs/storage.md, "Checkpoints")."""

_ENGINES: dict[bytes, Engine] = {}


def _worker_engine(opener: EngineOpener) -> Engine:
    """This worker's engine from ``opener``, opened on first use and kept for its later ranges;
    its connections leave checkpoints to the driver (module docstring)."""
    key = pickle.dumps(opener)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = _without_autocheckpoint(opener())
    return engine


def _without_autocheckpoint(engine: Engine) -> Engine:
    """``engine``, each new connection of it set not to checkpoint on commit."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()

    return engine


class WalCheckpointer:
    """``with WalCheckpointer(engine):`` a thread that checkpoints the SQLite book ``engine``
    opens every ``interval_s`` seconds (``PRAGMA wal_checkpoint(PASSIVE)``: as much of the log
    as no reader still needs, without waiting for a reader or a writer), and once more on exit,
    on a connection of its own. Best effort: a checkpoint SQLite refuses is left to the next one
    (or to the last connection's close). ``runs`` counts the checkpoints made; ``last`` is the
    last one's ``(busy, log frames, frames checkpointed)``."""

    def __init__(self, engine: Engine, *, interval_s: float = CHECKPOINT_S) -> None:  # float-ok
        if dialect_name(engine) != "sqlite":
            raise InvalidInput("engine", engine.url.render_as_string(), "expected SQLite")
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)):
            raise InvalidInput("interval_s", interval_s, "expected seconds, a number > 0")
        if not 0 < interval_s <= 3600:
            raise InvalidInput("interval_s", interval_s, "expected seconds from 0 to 3,600")
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last: tuple[int, int, int] | None = None

    def __enter__(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loancore-checkpoint", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        connection = self._engine.raw_connection()
        try:
            while not self._stop.wait(self._interval_s):  # until the batch is done
                self._checkpoint(connection)
            self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: PoolProxiedConnection) -> None:
        cursor = connection.cursor()
        try:
            row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            return  # the next one, or the last connection's close, checkpoints
        finally:
            cursor.close()
        self.runs += 1
        self.last = (int(row[0]), int(row[1]), int(row[2]))


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
    from loancore.app.gc_policy import batch_gc_for_process  # the app package imports this one

    batch_gc_for_process()


def _started(pause_s: float) -> int:  # float-ok: seconds to sleep, not money
    """A task that holds its worker ``pause_s`` (so that the next goes to another): its pid."""
    time.sleep(pause_s)
    return os.getpid()


def _sqlite_engine(uow: UnitOfWork) -> Engine:
    """The Engine under ``uow``, a unit of work on a SQLite book (else InvalidInput)."""
    if not isinstance(uow, SqlUnitOfWork) or dialect_name(uow.bind) != "sqlite":
        raise InvalidInput(
            "uow",
            uow,
            "expected a SqlUnitOfWork on a SQLite book (PostgreSQL: loancore.adapters.dask_batch)",
        )
    bind = uow.bind
    return bind if isinstance(bind, Engine) else bind.engine


def _apply_stream(
    opener: EngineOpener,
    items: Sequence[tuple[str, ServicingEvent]],
    chunk_size: int,
    rules: RulesLike,
) -> tuple[BatchResult, ...]:
    """THE batch task a worker runs: ``items`` applied ``chunk_size`` a batch, each read and
    decided in a DEFERRED transaction and written in an IMMEDIATE one (module docstring); the
    results without their loans (:func:`_apply_here`)."""
    engine = _worker_engine(opener)
    reader = SqlUnitOfWork(reading_engine(engine))
    return _apply_here(SqlUnitOfWork(engine), items, chunk_size, rules, reader)


def _apply_here(
    uow: UnitOfWork,
    items: Sequence[tuple[str, ServicingEvent]],
    chunk_size: int,
    rules: RulesLike,
    read_uow: UnitOfWork | None = None,
) -> tuple[BatchResult, ...]:
    """``items`` applied in batches of ``chunk_size`` on ``uow``; each result without the loans
    (``BatchResult.loans`` empty: sending every loan back between processes would cost more than
    applying the events)."""
    return tuple(
        attrs.evolve(
            apply_batch(uow, items[first : first + chunk_size], rules=rules, read_uow=read_uow),
            loans={},
        )
        for first in range(0, len(items), chunk_size)  # bounded by the items
    )


def streams_by_loan(
    items: Sequence[tuple[str, ServicingEvent]], count: int
) -> tuple[tuple[tuple[str, ServicingEvent], ...], ...]:
    """``items`` split into at most ``count`` streams by loan-id range (balanced by loans;
    :func:`~loancore.services.partition.split_ids`), every item of a loan in one stream and the
    items of a stream in their order; no empty stream."""
    ranges = split_ids(sorted({loan_id for loan_id, _event in items}), count)
    bounds = [r.through for r in ranges[:-1] if r.through is not None]  # all but the last
    streams: list[list[tuple[str, ServicingEvent]]] = [[] for _ in ranges]
    for item in items:  # bounded by the items
        streams[bisect.bisect_left(bounds, item[0])].append(item)
    return tuple(tuple(stream) for stream in streams if stream)


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


class ProcessBatch:
    """``ProcessBatch(opener, workers=2)``: a pool of ``workers`` processes (spawned, so a
    worker shares no connection with this process) that close business days and apply batches
    of events on the SQLite book ``opener`` opens (module docstring). Keep it for many days (a
    worker starts in about a second) and close it when done (``close()`` or ``with``)."""

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

    def _submit(self, task: Callable[[], _T]) -> Future[_T]:
        """``task`` on the pool; a pool broken by a worker that died is replaced."""
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
        engine = _sqlite_engine(uow)
        count = _check_count(
            "parts", self.workers * PARTS_PER_WORKER if parts is None else parts, PARTS_MAX
        )
        ranges = partition_day(uow, business_date, count)
        done: list[tuple[LoansClosed, LinesClosed]] = []
        with WalCheckpointer(engine):
            futures = [
                self._submit(
                    functools.partial(
                        _close_part, self._opener, business_date, r, rules, chunk_size
                    )
                )
                for r in ranges
            ]
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

    def apply_batches(
        self,
        uow: UnitOfWork,
        items: Sequence[tuple[str, ServicingEvent]],
        *,
        chunk_size: int = BATCH_CHUNK,
        rules: RulesLike = None,
    ) -> tuple[BatchResult, ...]:
        """``(loan_id, event)`` pairs (a repayment file's) applied on the book ``uow`` is on by
        the workers: one stream a worker by loan id (:func:`streams_by_loan`), each applied in
        batches of ``chunk_size`` by :func:`~loancore.services.apply_batch`. The results come in
        stream order, batch by batch, without their loans (``BatchResult.loans`` empty). A
        refusal a batch raises (the quota's, the ledger's) stops its stream and is raised once
        every stream is done: the other streams' batches stay booked, and applying the items
        again replays them. ``rules`` and the events must pickle."""
        engine = _sqlite_engine(uow)
        _check_count("chunk_size", chunk_size, BATCH_MAX)
        streams = streams_by_loan(list(items), self.workers)
        results: list[BatchResult] = []
        refusal: LoancoreError | None = None
        with WalCheckpointer(engine):
            futures = [
                self._submit(
                    functools.partial(_apply_stream, self._opener, stream, chunk_size, rules)
                )
                for stream in streams
            ]
            for stream, future in zip(streams, futures, strict=True):
                try:
                    results.extend(future.result())
                except LoancoreError as error:
                    refusal = refusal or error
                except Exception:  # noqa: BLE001 - a failed worker: the stream again, here
                    results.extend(_apply_here(uow, stream, chunk_size, rules))
        if refusal is not None:
            raise refusal
        return tuple(results)
