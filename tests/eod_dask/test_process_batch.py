"""THE end of day on worker processes of this machine over a SQLite book
(:class:`loancore.adapters.process_batch.ProcessBatch`), against ``close_business_day`` run in
one process on a copy of the same book; and the optimistic chunks it rests on (``close_loans``
with a ``read_uow``): a loan changed between a chunk's read and its write is never overwritten.

The book is book_kit's (current, on-time, late, non-accrual and paid-off loans, credit-line
accounts, one loan refused every run), booked once into a template SQLite file that each run
copies; "the same book" is book_kit.uow_state: every entry, memo posting, loan, standing,
credit-line account and the quota.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from book_kit import (
    ANCIENT,
    BUSINESS_DATE,
    LINE_ACCOUNTS,
    POLICY,
    book,
    cny,
    set_up,
    uow_state,
)

from loancore.adapters import process_batch
from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.adapters.process_batch import ProcessBatch, WalCheckpointer, streams_by_loan
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.base import reading_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.app.gc_policy import GEN0_THRESHOLD
from loancore.errors import ConcurrentUpdate, InvalidInput
from loancore.services import apply_batch, apply_event, end_of_day, servicing
from loancore.services.end_of_day import (
    BusinessDayReport,
    _decide_chunk,
    _read_chunk,
    close_business_day,
    close_loans,
)
from loancore.services.partition import partition_day
from loancore.services.shared import check_unchanged
from loancore.servicing import Repay


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("book") / "template.sqlite"
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    set_up(uow)
    book(uow)
    engine.dispose()
    return path


@pytest.fixture
def fresh_book(template: Path, tmp_path: Path) -> Callable[[], Path]:
    made = iter(range(100))

    def copy() -> Path:
        path = tmp_path / f"book{next(made)}.sqlite"
        shutil.copy(template, path)
        return path

    return copy


@pytest.fixture(scope="module")
def reference(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BusinessDayReport, dict[str, object]]:
    """The single-process run: ``close_business_day`` over a copy of the book."""
    path = tmp_path_factory.mktemp("reference") / "book.sqlite"
    shutil.copy(template, path)
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    report = close_business_day(uow, BUSINESS_DATE, limit_policy=POLICY)
    state = uow_state(uow)
    engine.dispose()
    return report, state


@pytest.fixture(scope="module")
def processes(template: Path) -> Iterator[Callable[[Path], ProcessBatch]]:
    """Pools opened by the tests, closed at the end of the module (a start costs a second)."""
    opened: list[ProcessBatch] = []

    def open_on(path: Path) -> ProcessBatch:
        opened.append(ProcessBatch(functools.partial(create_engine, path), workers=2))
        return opened[-1]

    yield open_on
    for pool in opened:
        pool.close()


def _summary(report: BusinessDayReport) -> tuple[object, ...]:
    return (
        report.loans_closed,
        report.days_closed,
        report.entries,
        report.memo_postings,
        sorted((f.key, f.code) for f in report.failed),
        [(r.key, r.events) for r in report.quota.applied],
        None if report.lines is None else report.lines.lines_closed,
        None if report.lines is None else report.lines.entries,
    )


def test_the_day_on_two_processes_leaves_the_single_process_book(
    fresh_book: Callable[[], Path], reference, processes
) -> None:
    single, expected = reference
    path = fresh_book()
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    report = processes(path).close_business_day(uow, BUSINESS_DATE, limit_policy=POLICY, parts=5)
    assert _summary(report) == _summary(single)
    assert [f.key for f in report.failed] == [ANCIENT]
    assert report.lines is not None and report.lines.lines_closed == LINE_ACCOUNTS
    assert uow_state(uow) == expected
    again = processes(path).close_business_day(uow, BUSINESS_DATE, limit_policy=POLICY)
    assert (again.loans_closed, again.entries, again.memo_postings) == (0, 0, 0)
    assert uow_state(uow) == expected  # the rerun posted nothing
    engine.dispose()


def test_ranges_whose_worker_fails_are_closed_by_the_driver(
    fresh_book: Callable[[], Path], reference, tmp_path: Path
) -> None:
    """Workers that cannot even open the book: every range runs again in this process."""
    _single, expected = reference
    path = fresh_book()
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    unreachable = functools.partial(create_engine, tmp_path / "no-such-dir" / "book.sqlite")
    with ProcessBatch(unreachable, workers=1) as pool:
        report = pool.close_business_day(uow, BUSINESS_DATE, limit_policy=POLICY, parts=3)
    assert [f.key for f in report.failed] == [ANCIENT]
    assert uow_state(uow) == expected
    engine.dispose()


def _collector_state() -> tuple[int, int, int]:
    """A worker's pid, young-generation threshold and frozen objects (a task for the pool: a
    module-level function, so it pickles)."""
    time.sleep(0.05)  # the next probe goes to the other worker
    return os.getpid(), gc.get_threshold()[0], gc.get_freeze_count()


def _autocheckpoint(opener: Callable[[], sa.Engine]) -> tuple[int, int]:
    """A worker's pid and its engine's ``wal_autocheckpoint`` (a task for the pool)."""
    time.sleep(0.05)  # the next probe goes to the other worker
    with process_batch._worker_engine(opener).connect() as connection:
        value = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    return os.getpid(), int(value)


def _repay(uow: SqlUnitOfWork, loan_id: str, event_id: str) -> None:
    apply_event(uow, loan_id, Repay(event_id=event_id, as_of=BUSINESS_DATE, amount=cny("50.00")))


def test_a_loan_changed_after_the_read_refuses_the_chunk_write(
    fresh_book: Callable[[], Path],
) -> None:
    path = fresh_book()
    engine = create_engine(path)
    uow, reader = SqlUnitOfWork(engine), SqlUnitOfWork(reading_engine(engine))
    with reader:
        ids = reader.loans.loans_to_close(BUSINESS_DATE, limit=20)
        read = _read_chunk(reader, ids)
    decided = _decide_chunk(read, ids, BUSINESS_DATE, None)
    versions = {c.loan.loan_id: version for version, c in decided.done}
    assert set(versions) == set(ids) - {ANCIENT}  # the loan every run refuses is not decided
    with uow:
        check_unchanged(uow, versions, decided.standings)  # nothing changed yet
    _repay(uow, ids[3], "between-read-and-write")
    with uow, pytest.raises(ConcurrentUpdate, match=ids[3]):
        check_unchanged(uow, versions, decided.standings)
    with uow:  # the repayment moved the loan's standing as well as its version
        standings = {**decided.standings, ids[3]: uow.loans.load_standings([ids[3]])[ids[3]]}
    with uow, pytest.raises(ConcurrentUpdate, match=ids[3]):  # the version alone is refused
        check_unchanged(uow, versions, standings)
    with uow:  # a loan the batch writes is left to its versioned update, which refuses it
        check_unchanged(uow, versions, standings, written={ids[3]})
        stale = next(c.loan for _version, c in decided.done if c.loan.loan_id == ids[3])
        with pytest.raises(ConcurrentUpdate, match=ids[3]):
            uow.loans.update_many([(stale, versions[ids[3]])])
    with uow, pytest.raises(ConcurrentUpdate, match=ids[3]):  # its standing is still read
        check_unchanged(uow, versions, decided.standings, written={ids[3]})
    engine.dispose()


class _Interrupted(SqlUnitOfWork):
    """A reading unit of work after whose ``after_reads``-th unit of work a repayment lands on
    ``loan_id`` (an event arriving while the batch decides)."""

    def __init__(
        self, engine, writer: SqlUnitOfWork, loan_id: str, *, after_reads: int = 2
    ) -> None:
        super().__init__(reading_engine(engine))
        self.writer, self.loan_id, self.reads, self.after_reads = writer, loan_id, 0, after_reads

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.reads += 1
        if self.reads == self.after_reads:  # the end of day: the ids, then the chunk's loans
            _repay(self.writer, self.loan_id, "while-deciding")


def test_a_chunk_whose_loan_changed_meanwhile_is_closed_again_in_one_unit_of_work(
    fresh_book: Callable[[], Path],
) -> None:
    """The event lands between the chunk's read and its write: the optimistic write is refused,
    the chunk is closed again in one unit of work, and the book is the one of the event applied
    first and the day closed after it."""
    expected_path, path = fresh_book(), fresh_book()
    engine = create_engine(expected_path)
    first = SqlUnitOfWork(engine)
    with first:
        loan_id = first.loans.loans_to_close(BUSINESS_DATE, limit=5)[2]
    _repay(first, loan_id, "while-deciding")
    expected_closed = close_loans(first, BUSINESS_DATE, chunk_size=40)
    expected = uow_state(first)
    engine.dispose()

    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    reader = _Interrupted(engine, uow, loan_id)
    closed = close_loans(uow, BUSINESS_DATE, chunk_size=40, read_uow=reader)
    assert reader.reads > 2
    assert (closed.loans_closed, closed.entries) == (
        expected_closed.loans_closed,
        expected_closed.entries,
    )
    state = uow_state(uow)
    assert state["loans"] == expected["loans"] and state["standings"] == expected["standings"]
    assert state["trial_balance"] == expected["trial_balance"]
    engine.dispose()


def test_the_pool_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="opener"):
        ProcessBatch(lambda: create_engine(tmp_path / "x.sqlite"))  # does not pickle
    with pytest.raises(InvalidInput, match="workers"):
        ProcessBatch(functools.partial(create_engine, tmp_path / "x.sqlite"), workers=0)
    with ProcessBatch(functools.partial(create_engine, tmp_path / "x.sqlite"), workers=1) as pool:
        with pytest.raises(InvalidInput, match="SQLite"):
            pool.close_business_day(MemoryUnitOfWork(), BUSINESS_DATE)
        engine = create_engine(tmp_path / "x.sqlite")
        with pytest.raises(InvalidInput, match="parts"):
            pool.close_business_day(SqlUnitOfWork(engine), BUSINESS_DATE, parts=0)
        engine.dispose()


def test_every_worker_runs_under_the_batch_collector_policy(tmp_path: Path) -> None:
    """Every worker keeps the policy its initializer entered for the whole process (it was once
    undone at once: the context manager's generator, dropped, restored the collector)."""
    with ProcessBatch(functools.partial(create_engine, tmp_path / "x.sqlite"), workers=2) as pool:
        probes = [pool._submit(_collector_state) for _ in range(8)]
        states = {future.result() for future in probes}
    assert len({pid for pid, _threshold, _frozen in states}) == 2  # both workers answered
    assert {threshold for _pid, threshold, _frozen in states} == {GEN0_THRESHOLD}
    assert all(frozen > 0 for _pid, _threshold, frozen in states)  # the imports are frozen


def test_workers_leave_checkpoints_to_the_driver(tmp_path: Path) -> None:
    opener = functools.partial(create_engine, tmp_path / "x.sqlite")
    with ProcessBatch(opener, workers=2) as pool:
        probes = [pool._submit(functools.partial(_autocheckpoint, opener)) for _ in range(8)]
        answers = {future.result() for future in probes}
    assert len({pid for pid, _value in answers}) == 2  # both workers answered
    assert {value for _pid, value in answers} == {0}  # they never checkpoint on commit
    with opener().connect() as connection:  # the driver's own connections still do
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_the_checkpointer_copies_back_the_log_the_writers_leave(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite"
    writer = process_batch._without_autocheckpoint(create_engine(path))
    with writer.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x BLOB)")
    with WalCheckpointer(create_engine(path), interval_s=0.01) as checkpointer:
        for _ in range(5):
            with writer.begin() as connection:
                connection.exec_driver_sql(
                    "INSERT INTO t SELECT randomblob(3000) FROM (SELECT 1 UNION SELECT 2) a, "
                    "(SELECT value FROM json_each('[1,2,3,4,5,6,7,8,9,10]'))"
                )
            time.sleep(0.02)
    assert checkpointer.runs >= 2
    assert checkpointer.last is not None
    busy, frames, copied = checkpointer.last
    assert busy == 0 and frames > 20 and copied == frames  # all of the log, at the last one
    writer.dispose()


@pytest.mark.parametrize("interval_s", [0, -1.0, 3601, True, "1"])
def test_the_checkpointer_refuses_a_bad_interval(tmp_path: Path, interval_s: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        WalCheckpointer(create_engine(tmp_path / "x.sqlite"), interval_s=interval_s)  # type: ignore[arg-type]
    assert refused.value.field == "interval_s"


def test_the_checkpointer_is_for_sqlite_books() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connects
    with pytest.raises(InvalidInput) as refused:
        WalCheckpointer(engine)
    assert refused.value.field == "engine"


def test_the_day_is_split_by_the_loans_to_close(fresh_book: Callable[[], Path]) -> None:
    path = fresh_book()
    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    with uow:
        to_close = uow.loans.loans_to_close(BUSINESS_DATE, limit=10_000)
        every = uow.loans.loan_ids(limit=10_000)
    assert 0 < len(to_close) < len(every)  # paid-off loans are not the day's work
    ranges = partition_day(uow, BUSINESS_DATE, 3, page_size=7)  # several pages
    assert [r.count for r in ranges] == [
        len(to_close) // 3 + (n < len(to_close) % 3) for n in range(3)
    ]
    assert ranges[0].after == "" and ranges[-1].through is None
    assert [r.after for r in ranges[1:]] == [r.through for r in ranges[:-1]]
    assert [i for r in ranges for i in to_close if i in r] == list(to_close)
    close_business_day(uow, BUSINESS_DATE, limit_policy=POLICY)
    (left,) = partition_day(uow, BUSINESS_DATE, 3)  # only the loan every run refuses is left
    assert (left.after, left.through, left.count) == ("", None, 1)
    with pytest.raises(InvalidInput, match="parts"):
        partition_day(uow, BUSINESS_DATE, 0)
    engine.dispose()


# -- repayment batches on worker processes ------------------------------------------------------


def _repayments(uow: SqlUnitOfWork) -> list[tuple[str, Repay]]:
    """Two repayments of every loan of the book on the business date (the second pays past what
    some owe: refused or kept as credit, per loan), interleaved across loans."""
    with uow:
        ids = uow.loans.loan_ids(limit=10_000)
    first = [(i, Repay(event_id=f"a-{i}", as_of=BUSINESS_DATE, amount=cny("80.00"))) for i in ids]
    second = [(i, Repay(event_id=f"b-{i}", as_of=BUSINESS_DATE, amount=cny("900.00"))) for i in ids]
    return [item for pair in zip(first, second, strict=True) for item in pair]


def _outcome(results) -> tuple[set[str], set[str], set[tuple[str, int]]]:
    applied = {e for r in results for e in r.applied}
    replayed = {e for r in results for e in r.replayed}
    refused = {(e, int(refusal.code)) for r in results for e, refusal in r.refused}
    return applied, replayed, refused


def test_repayments_on_two_processes_leave_the_single_process_book(
    fresh_book: Callable[[], Path], processes
) -> None:
    alone_path, path = fresh_book(), fresh_book()
    engine = create_engine(alone_path)
    alone = SqlUnitOfWork(engine)
    items = _repayments(alone)
    expected_results = [apply_batch(alone, items[n : n + 50]) for n in range(0, len(items), 50)]
    expected = uow_state(alone)
    engine.dispose()
    applied, replayed, refused = _outcome(expected_results)
    assert applied and refused and not replayed  # both kinds happen

    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    pool = processes(path)
    results = pool.apply_batches(uow, items, chunk_size=50)
    assert _outcome(results) == (applied, replayed, refused)
    assert all(not r.loans for r in results)
    assert uow_state(uow) == expected
    again = pool.apply_batches(uow, items, chunk_size=50)
    assert _outcome(again) == (set(), applied, refused)  # a replay books nothing
    assert uow_state(uow) == expected
    engine.dispose()


def test_a_batch_whose_loan_changed_after_the_read_is_decided_again(
    fresh_book: Callable[[], Path],
) -> None:
    """A repayment lands between the batch's read and its write: the write is refused before
    anything is written, the batch is decided again on the fresh loans, and the book is the one
    of the two applied one after the other."""
    expected_path, path = fresh_book(), fresh_book()
    engine = create_engine(expected_path)
    first = SqlUnitOfWork(engine)
    items = _repayments(first)[:20:2]  # ten loans, one repayment each
    loan_id = items[4][0]
    _repay(first, loan_id, "while-deciding")
    expected_result = apply_batch(first, items)
    expected = uow_state(first)
    engine.dispose()

    engine = create_engine(path)
    uow = SqlUnitOfWork(engine)
    reader = _Interrupted(engine, uow, loan_id, after_reads=1)
    result = apply_batch(uow, items, read_uow=reader)
    assert reader.reads == 4  # read, prepared, refused at the write; read and prepared again
    assert _outcome([result]) == _outcome([expected_result])
    assert f"a-{loan_id}" in result.applied
    assert uow_state(uow) == expected
    engine.dispose()


def test_streams_keep_each_loans_events_together_and_in_order() -> None:
    items = [
        (f"L{n % 7}", Repay(event_id=f"e{n}", as_of=BUSINESS_DATE, amount=cny("1.00")))
        for n in range(40)
    ]
    streams = streams_by_loan(items, 3)
    assert len(streams) == 3 and all(streams)
    for stream in streams:
        assert list(stream) == [item for item in items if item in stream]  # order kept
    owners = {loan_id: n for n, stream in enumerate(streams) for loan_id, _event in stream}
    assert sorted(owners) == sorted({loan_id for loan_id, _e in items})
    assert sum(len(stream) for stream in streams) == len(items)
    assert streams_by_loan(items[:1], 3) == (tuple(items[:1]),)
    assert streams_by_loan([], 3) == ()


def _checkpoint_now(path: Path) -> tuple[int, int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` from a connection of its own that never waits: busy
    (1) while any reader holds a snapshot in the log, else the whole log copied back and cut."""
    connection = sqlite3.connect(path, timeout=0)
    try:
        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy, frames, copied
    finally:
        connection.close()


@pytest.mark.parametrize("job", ["apply_batch", "close_loans"])
def test_an_optimistic_batch_decides_with_no_snapshot_open(
    fresh_book: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    """While an optimistic batch (a worker's) decides, its reading unit of work holds no
    snapshot: a checkpoint then copies back the whole log and cuts it. A snapshot held through
    the deciding would pin the log, and worker processes appending to one book would grow it
    for the whole run (a gigabyte for 100,000 repayments)."""
    path = fresh_book()
    engine = create_engine(path)
    uow, reader = SqlUnitOfWork(engine), SqlUnitOfWork(reading_engine(engine))
    items = _repayments(uow)
    apply_batch(uow, items[1:20:2])  # a log that the batch's read will see: frames to copy
    assert os.path.getsize(f"{path}-wal") > 32  # frames past the log's header
    seen: list[tuple[int, int, int]] = []
    module, name = (
        (servicing, "outcome_with_standing") if job == "apply_batch" else (end_of_day, "_catch_up")
    )
    decide = getattr(module, name)

    def deciding(*args: object, **kwargs: object) -> object:
        if not seen:  # the first decision: the batch's loans were read
            seen.append(_checkpoint_now(path))
        return decide(*args, **kwargs)

    monkeypatch.setattr(module, name, deciding)
    if job == "apply_batch":
        result = apply_batch(uow, items[:20:2], read_uow=reader)
        assert result.applied
    else:
        closed = close_loans(uow, BUSINESS_DATE, chunk_size=40, read_uow=reader)
        assert closed.loans_closed > 0
    assert seen == [(0, 0, 0)]  # not busy; the log was copied back and cut to nothing
    engine.dispose()
