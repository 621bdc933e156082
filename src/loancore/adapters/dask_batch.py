"""The end of day spread over a Dask distributed cluster: one task per loan-id range.

Needs the ``dask`` extra (``pip install 'loancore[dask]'``) and a shared database that every
worker reaches (PostgreSQL; a SQLite file only on one machine). The driver splits the book into
ranges (:func:`loancore.services.partition.partition_book`) and submits one :func:`run_range` task
per range with ``client.submit(..., retries=retries, pure=False)``. A task builds its own SQL
Engine from the database URL (once per worker process, kept for the worker's later tasks), wraps
it in a :class:`~loancore.adapters.sql.uow.SqlUnitOfWork` and calls the range function, which
opens its own units of work (one per chunk of loans): a range never holds one transaction across
its loans, so a failure undoes only the chunk it happened in.

The range function is :func:`~loancore.services.partition.close_range` by default: the loan part
of THE end-of-day batch (:func:`~loancore.services.end_of_day.close_loans`) over the range, then
the revolving credit-line accounts whose ids fall in the range
(:func:`~loancore.services.credit_line.close_lines_day`; the ranges cover the whole id space, so
each account is closed by exactly one range). When
every range has completed, :func:`end_of_day_on_dask` runs the quota part
(:func:`~loancore.services.end_of_day.close_quota_day`: hold expiry, temporary limits, the limit
policy) once, on the driver, with the refused loans' ids excluded, exactly as
:func:`~loancore.services.end_of_day.close_business_day` does after its loans; so the distributed
day leaves the book the single-process day leaves.

A task that raises is rerun by Dask up to ``retries`` more times (on any worker); the range
function must therefore be idempotent per loan (``close_range`` skips loans already closed
through the date). A range that still fails after its retries is reported in
:attr:`DistributedReport.failed` with its error, and every other range completes and commits. Its
loans stay behind the date, and the quota batch is NOT run (it would review borrowers on half
the facts): :attr:`DistributedReport.quota` is None. The next run (or a rerun of the same date)
picks the loans up and runs the quota batch.

The cluster is the caller's: pass a :class:`distributed.Client` (a ``LocalCluster``'s in tests)
or a scheduler address (``"tcp://scheduler:8786"``), for which a client is opened and closed
around the run. The database URL travels to the workers in the task (with its password, if it
has one): on a real cluster use a URL without one and give the workers ``PGPASSFILE`` or peer
authentication instead.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import date

import attrs
from distributed import Client, wait
from sqlalchemy.engine import Engine

from loancore.adapters.sql.base import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.quota import LimitPolicy
from loancore.services.end_of_day import close_quota_day
from loancore.services.partition import (
    PARTS_MAX,
    LoanRange,
    RangeFunction,
    RangeReport,
    RefusedLoan,
    close_range,
    partition_book,
)
from loancore.services.quota import EndOfDayReport

__all__ = [
    "PARTS_PER_THREAD",
    "RETRIES",
    "DistributedReport",
    "FailedRange",
    "end_of_day_on_dask",
    "run_range",
    "run_ranges_on_dask",
    "worker_engine",
]

RETRIES = 2
"""How many times Dask reruns a failed range task by default (three attempts in all)."""

PARTS_PER_THREAD = 4
"""Ranges per worker thread when the caller names no count: more ranges than threads even out
ranges of unequal cost and make a retry redo less."""

_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def worker_engine(url: str) -> Engine:
    """This process's Engine for ``url``, created on first use and kept (a worker runs many
    ranges; each would otherwise open a new connection pool and check the schemas again)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = create_engine(url)
        return engine


def run_range(
    url: str,
    business_date: date,
    loan_range: LoanRange,
    function: RangeFunction = close_range,
) -> RangeReport:
    """THE task a worker runs: ``function(SqlUnitOfWork(worker_engine(url)), business_date,
    loan_range)``. Every argument pickles (the URL a string, the range an attrs value, the
    function a module-level name), and so does the report."""
    return function(SqlUnitOfWork(worker_engine(url)), business_date, loan_range)


@attrs.frozen
class FailedRange:
    """A range whose task still raised after its retries: the exception's type name and message
    (plain values). Nothing of the chunk it failed in was committed; earlier chunks were."""

    loan_range: LoanRange
    error_type: str
    message: str


@attrs.frozen
class DistributedReport:
    """A distributed run: the report of every range that completed (in range order), the ranges
    that failed after their retries, and the quota batch's report: None when it did not run
    (:func:`run_ranges_on_dask` never runs it; :func:`end_of_day_on_dask` skips it when a range
    failed)."""

    business_date: date
    reports: tuple[RangeReport, ...]
    failed: tuple[FailedRange, ...]
    quota: EndOfDayReport | None = None

    @property
    def complete(self) -> bool:
        """Every range completed (refused loans aside)."""
        return not self.failed

    @property
    def loans_closed(self) -> int:
        return sum(report.loans_closed for report in self.reports)

    @property
    def days_closed(self) -> int:
        return sum(report.days_closed for report in self.reports)

    @property
    def entries_posted(self) -> int:
        return sum(report.entries_posted for report in self.reports)

    @property
    def memo_postings(self) -> int:
        return sum(report.memo_postings for report in self.reports)

    @property
    def lines_closed(self) -> int:
        """Credit-line accounts brought to the date (their ranges' ``lines``)."""
        return sum(r.lines.lines_closed for r in self.reports if r.lines is not None)

    @property
    def line_entries(self) -> int:
        """Entries the credit-line accounts' day close posted."""
        return sum(r.lines.entries for r in self.reports if r.lines is not None)

    @property
    def refused(self) -> tuple[RefusedLoan, ...]:
        return tuple(loan for report in self.reports for loan in report.refused)


def _check_retries(retries: object) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise InvalidInput("retries", retries, "expected an int in 0..100")
    return retries


def run_ranges_on_dask(
    client: Client | str,
    url: str,
    business_date: date,
    ranges: Sequence[LoanRange],
    *,
    function: RangeFunction = close_range,
    retries: int = RETRIES,
) -> DistributedReport:
    """:func:`run_range` for each of ``ranges`` on the cluster (module docstring), waited for;
    ``client`` a Client or a scheduler address. A range failing after ``retries`` reruns is
    reported, the others complete."""
    require_date("business_date", business_date)
    _check_retries(retries)
    if isinstance(client, str):
        with Client(client) as opened:  # type: ignore[no-untyped-call]
            return run_ranges_on_dask(
                opened, url, business_date, ranges, function=function, retries=retries
            )
    run = uuid.uuid4().hex[:12]
    futures = [
        client.submit(
            run_range,
            url,
            business_date,
            loan_range,
            function,
            retries=retries,
            pure=False,
            key=f"loancore-range-{business_date:%Y%m%d}-{loan_range.index}-{run}",
        )
        for loan_range in ranges
    ]
    wait(futures)  # type: ignore[no-untyped-call]
    reports: list[RangeReport] = []
    failed: list[FailedRange] = []
    for loan_range, future in zip(ranges, futures, strict=True):
        if future.status == "finished":
            reports.append(future.result())
        elif future.status == "error":  # raised after its retries: the range's own error
            error = future.exception()  # type: ignore[no-untyped-call]
            failed.append(FailedRange(loan_range, type(error).__name__, str(error)))
        else:  # cancelled (the cluster went away, or a worker died too often running it)
            failed.append(FailedRange(loan_range, "Cancelled", f"task {future.status}"))
        future.release()  # type: ignore[no-untyped-call]
    return DistributedReport(business_date, tuple(reports), tuple(failed))


def _quota_on_driver(
    url: str, business_date: date, limit_policy: LimitPolicy | None, excluded: set[str]
) -> EndOfDayReport:
    """:func:`~loancore.services.end_of_day.close_quota_day` in this process, on its own Engine."""
    engine = create_engine(url)
    try:
        return close_quota_day(
            SqlUnitOfWork(engine), business_date, limit_policy=limit_policy, excluded=excluded
        )
    finally:
        engine.dispose()


def end_of_day_on_dask(
    client: Client | str,
    url: str,
    business_date: date,
    *,
    parts: int | None = None,
    function: RangeFunction = close_range,
    retries: int = RETRIES,
    limit_policy: LimitPolicy | None = None,
) -> DistributedReport:
    """THE end of day of the book on ``url`` on the cluster: the book split into ``parts`` ranges
    (default :data:`PARTS_PER_THREAD` per worker thread of the cluster), ``function`` run on each
    (:func:`run_ranges_on_dask`), then, only if every range completed, the quota batch on the
    driver with ``limit_policy`` (None: hold expiry and temporary limits only) and the refused
    loans' borrowers left out of the review (module docstring)."""
    require_date("business_date", business_date)
    _check_retries(retries)
    if isinstance(client, str):
        with Client(client) as opened:  # type: ignore[no-untyped-call]
            return end_of_day_on_dask(
                opened,
                url,
                business_date,
                parts=parts,
                function=function,
                retries=retries,
                limit_policy=limit_policy,
            )
    if parts is None:
        threads = sum(client.nthreads().values())  # type: ignore[no-untyped-call]
        parts = min(PARTS_MAX, max(1, threads) * PARTS_PER_THREAD)
    engine = create_engine(url)
    try:
        ranges = partition_book(SqlUnitOfWork(engine), parts)
    finally:
        engine.dispose()
    ran = run_ranges_on_dask(client, url, business_date, ranges, function=function, retries=retries)
    if not ran.complete:
        return ran  # quota None: the quota batch would act on half the facts
    excluded = {loan.loan_id for loan in ran.refused}
    quota = _quota_on_driver(url, business_date, limit_policy, excluded)
    return attrs.evolve(ran, quota=quota)
