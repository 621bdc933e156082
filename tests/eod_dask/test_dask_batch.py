"""THE end of day on a Dask LocalCluster (2 worker processes) over a book on PostgreSQL, against
``close_business_day`` run in one process on a copy of the same book.

One cluster for the module (a start costs seconds); the book (book_kit: current, on-time, late,
non-accrual and paid-off loans, one loan refused every run) is booked once into a template
database and each run gets its own copy, so every run starts from the same state. "The same
book" is compared part by part (book_kit.uow_state): every entry and memo posting, the trial
balance, every loan, every standing (watermark, DPD, classification history, allowance) and the
quota's lines, balances, holds and journal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import faults
import pytest
from book_kit import (
    ANCIENT,
    BUSINESS_DATE,
    LINE_ACCOUNTS,
    POLICY,
    book_state,
    booked_template,
    create_database,
    drop_database,
)
from distributed import Client, LocalCluster

from loancore.adapters.dask_batch import end_of_day_on_dask, run_ranges_on_dask
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvalidInput, RejectionCode
from loancore.services.end_of_day import BusinessDayReport, close_business_day
from loancore.services.partition import RefusedLoan, close_range, partition_book
from loancore.servicing import LoanStatus

pytestmark = pytest.mark.postgres

CLOSE_IN_20S = functools.partial(close_range, chunk_size=faults.CHUNK)

cloudpickle.register_pickle_by_value(faults)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with Client(cluster) as opened:
        yield opened
    cluster.close()


@pytest.fixture(scope="module")
def template(postgres_url: str) -> Iterator[str]:
    url = booked_template(postgres_url)
    yield url.rsplit("/", 1)[1].split("?")[0]
    drop_database(postgres_url, url)


@pytest.fixture
def fresh_book(postgres_url: str, template: str) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def copy() -> str:
        made.append(create_database(postgres_url, template=template))
        return made[-1]

    yield copy
    for url in made:
        drop_database(postgres_url, url)


@pytest.fixture(scope="module")
def reference(
    postgres_url: str, template: str
) -> Iterator[tuple[BusinessDayReport, dict[str, object]]]:
    """The single-process run: ``close_business_day`` over a copy of the book, in this process."""
    url = create_database(postgres_url, template=template)
    engine = create_engine(url)
    report = close_business_day(SqlUnitOfWork(engine), BUSINESS_DATE, limit_policy=POLICY)
    engine.dispose()
    yield report, book_state(url)
    drop_database(postgres_url, url)


def _ranges(url: str, parts: int):
    engine = create_engine(url)
    try:
        return partition_book(SqlUnitOfWork(engine), parts)
    finally:
        engine.dispose()


def test_the_reference_day_has_every_kind_of_end_of_day_work(reference) -> None:
    report, state = reference
    keys = {entry.idempotency_key.split(":")[0] for entry in state["entries"]}
    assert {"interest.accrued", "fee.charged", "provision.charged"} <= keys
    assert report.entries > 0 and report.memo_postings > 0
    standings = state["standings"]
    assert any(s.dpd > 90 and s.interest_suspended for s in standings)  # non-accrual
    assert any(0 < s.dpd <= 30 for s in standings) and any(s.dpd == 0 for s in standings)
    assert [f.key for f in report.failed] == [ANCIENT]
    applied = [result.key for result in report.quota.applied]
    assert any(key.startswith("policy:freeze:") for key in applied)
    assert any(key.startswith("policy:raise:") for key in applied)
    assert not any("LINE-10:" in key for key in applied)  # ANCIENT's borrower is not reviewed
    assert report.lines is not None and report.lines.lines_closed == LINE_ACCOUNTS
    assert report.lines.entries > 0 and report.lines.failed == ()
    lines = state["lines"]
    assert len(lines) == LINE_ACCOUNTS
    assert all(stored.account.last_date == BUSINESS_DATE for stored in lines)
    by_id = {s.loan_id: s for s in standings}
    assert {by_id[stored.account.account_id].closed_through for stored in lines} == {BUSINESS_DATE}
    assert max(by_id[stored.account.account_id].dpd for stored in lines) > 90


def test_the_distributed_day_leaves_the_single_process_book(
    client: Client, fresh_book, reference
) -> None:
    single, expected = reference
    url = fresh_book()
    report = end_of_day_on_dask(
        client, url, BUSINESS_DATE, parts=5, function=CLOSE_IN_20S, limit_policy=POLICY
    )
    assert report.complete
    assert [r.loan_range.index for r in report.reports] == [0, 1, 2, 3, 4]
    assert report.refused == tuple(RefusedLoan.from_refusal(f) for f in single.failed)
    assert report.refused[0].code == RejectionCode.LOAN_CLOSE_FAILED
    assert (report.loans_closed, report.days_closed) == (single.loans_closed, single.days_closed)
    assert (report.entries_posted, report.memo_postings) == (single.entries, single.memo_postings)
    assert single.lines is not None
    assert (report.lines_closed, report.line_entries) == (
        single.lines.lines_closed,
        single.lines.entries,
    )
    assert {r.loan_range.index for r in report.reports if r.lines and r.lines.lines_closed} == {
        0,
        1,
        2,
        3,
        4,
    }  # every range closed some of the accounts
    assert report.quota == single.quota
    assert book_state(url) == expected


def test_a_day_run_twice_posts_nothing_the_second_time(client: Client, fresh_book) -> None:
    url = fresh_book()
    first = end_of_day_on_dask(client, url, BUSINESS_DATE, function=CLOSE_IN_20S)
    after_first = book_state(url)
    second = end_of_day_on_dask(client, url, BUSINESS_DATE, function=CLOSE_IN_20S)
    assert first.complete and first.entries_posted > 0 and first.quota is not None
    assert second.complete and second.quota is not None and second.quota.applied == ()
    assert (second.loans_closed, second.entries_posted, second.memo_postings) == (0, 0, 0)
    assert [loan.loan_id for loan in second.refused] == [ANCIENT]  # tried again, refused again
    assert book_state(url) == after_first


def test_a_range_failing_once_succeeds_on_its_retry(
    client: Client, fresh_book, reference, tmp_path: Path
) -> None:
    _single, expected = reference
    url = fresh_book()
    marker = tmp_path / "failed-once"
    flaky = faults.FailsOnceMidway(index=2, marker=marker)
    report = end_of_day_on_dask(
        client, url, BUSINESS_DATE, parts=4, function=flaky, retries=1, limit_policy=POLICY
    )
    assert marker.exists()  # the first attempt ran, committed half of range 2 and raised
    assert report.complete and len(report.reports) == 4 and report.quota is not None
    retried = report.reports[2]
    assert 0 < retried.loans_closed <= retried.loan_range.count - retried.loan_range.count // 2
    assert book_state(url) == expected


def test_a_range_failing_every_retry_is_reported_and_a_rerun_finishes_the_day(
    client: Client, fresh_book, reference, tmp_path: Path
) -> None:
    _single, expected = reference
    url = fresh_book()
    before = book_state(url)
    ranges = _ranges(url, 4)
    broken = faults.AlwaysFails(index=1, directory=tmp_path)
    report = end_of_day_on_dask(
        client, url, BUSINESS_DATE, parts=4, function=broken, retries=2, limit_policy=POLICY
    )
    assert not report.complete and report.quota is None  # the quota batch is not run
    (failed,) = report.failed
    assert failed.loan_range == ranges[1] and failed.error_type == "InjectedFailure"
    assert "always fails" in failed.message
    assert len(list(tmp_path.iterdir())) == 3  # the first attempt and two retries
    assert [r.loan_range.index for r in report.reports] == [0, 2, 3]
    state = book_state(url)
    assert (state["quota"], state["quota_journal"]) == (before["quota"], before["quota_journal"])
    active = {loan.loan_id for loan in state["loans"] if loan.status is LoanStatus.ACTIVE}
    closed = {s.loan_id for s in state["standings"] if s.closed_through == BUSINESS_DATE}
    assert active - closed == {i for i in active if i in ranges[1]} | {ANCIENT}
    rerun = end_of_day_on_dask(
        client, url, BUSINESS_DATE, parts=4, function=CLOSE_IN_20S, limit_policy=POLICY
    )
    assert rerun.complete and rerun.quota is not None
    assert sum(r.loans_closed for r in rerun.reports if r.loan_range != ranges[1]) == 0
    assert book_state(url) == expected


def test_ranges_run_alone_leave_the_quota_to_the_caller(client: Client, fresh_book) -> None:
    url = fresh_book()
    before = book_state(url)
    report = run_ranges_on_dask(client, url, BUSINESS_DATE, _ranges(url, 3))
    assert report.complete and report.loans_closed > 0 and report.quota is None
    after = book_state(url)
    assert after["quota_journal"] == before["quota_journal"]


def test_a_scheduler_address_is_accepted(client: Client, fresh_book, reference) -> None:
    _single, expected = reference
    url = fresh_book()
    report = end_of_day_on_dask(
        client.scheduler.address, url, BUSINESS_DATE, parts=2, limit_policy=POLICY
    )
    assert report.complete and report.quota is not None
    assert book_state(url) == expected


def test_bad_retries_are_refused_before_anything_runs(client: Client) -> None:
    for retries in (-1, True, "2"):
        with pytest.raises(InvalidInput, match="retries"):
            run_ranges_on_dask(client, "postgresql://x/y", BUSINESS_DATE, (), retries=retries)
        with pytest.raises(InvalidInput, match="retries"):
            end_of_day_on_dask(client, "postgresql://x/y", BUSINESS_DATE, retries=retries)
