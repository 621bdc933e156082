"""The end of day on a Dask LocalCluster (2 worker processes) over a book on PostgreSQL.

One cluster for the module (a start costs seconds); the book is booked once into a template
database and each test runs on its own copy, so every run starts from the same ledger.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import faults
import pytest
from book_kit import (
    BUSINESS_DATE,
    LOANS,
    booked_template,
    create_database,
    drop_database,
    ledger_state,
)
from distributed import Client, LocalCluster

from loancore.adapters.dask_batch import end_of_day_on_dask, run_ranges_on_dask
from loancore.adapters.sql import create_engine
from loancore.adapters.sql.uow import SqlUnitOfWork
from loancore.errors import InvalidInput
from loancore.services.partition import accrue_range, partition_book, run_ranges
from loancore.servicing import LoanStatus

pytestmark = pytest.mark.postgres

PAID_OFF = LOANS // 10  # book_kit pays every 10th loan off
ACCRUE_IN_20S = functools.partial(accrue_range, chunk_size=faults.CHUNK)

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
def fresh_book(postgres_url: str, template: str) -> Iterator[object]:
    made: list[str] = []

    def copy() -> str:
        made.append(create_database(postgres_url, template=template))
        return made[-1]

    yield copy
    for url in made:
        drop_database(postgres_url, url)


@pytest.fixture(scope="module")
def reference(postgres_url: str, template: str) -> Iterator[tuple[object, ...]]:
    """The single-process run: the whole book as one range, in this process."""
    url = create_database(postgres_url, template=template)
    engine = create_engine(url)
    uow = SqlUnitOfWork(engine)
    run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    engine.dispose()
    yield ledger_state(url)
    drop_database(postgres_url, url)


def test_the_distributed_day_leaves_the_single_process_ledger(
    client: Client, fresh_book, reference: tuple[object, ...]
) -> None:
    url = fresh_book()
    report = end_of_day_on_dask(client, url, BUSINESS_DATE, parts=5, function=ACCRUE_IN_20S)
    assert report.complete and report.refused == ()
    assert [r.loan_range.index for r in report.reports] == [0, 1, 2, 3, 4]
    assert sum(r.loans_seen for r in report.reports) == LOANS
    assert report.loans_brought == LOANS - PAID_OFF
    assert report.entries_posted > 0
    assert ledger_state(url) == reference


def test_a_day_run_twice_posts_nothing_the_second_time(client: Client, fresh_book) -> None:
    url = fresh_book()
    first = end_of_day_on_dask(client, url, BUSINESS_DATE, function=ACCRUE_IN_20S)
    after_first = ledger_state(url)
    second = end_of_day_on_dask(client, url, BUSINESS_DATE, function=ACCRUE_IN_20S)
    assert first.entries_posted > 0 and first.complete
    assert second.complete and second.entries_posted == 0 and second.loans_brought == 0
    assert sum(r.loans_current for r in second.reports) == LOANS - PAID_OFF
    assert ledger_state(url) == after_first


def test_a_range_failing_once_succeeds_on_its_retry(
    client: Client, fresh_book, reference: tuple[object, ...], tmp_path: Path
) -> None:
    url = fresh_book()
    marker = tmp_path / "failed-once"
    flaky = faults.FailsOnceMidway(index=2, marker=marker)
    report = end_of_day_on_dask(client, url, BUSINESS_DATE, parts=4, function=flaky, retries=1)
    assert marker.exists()  # the first attempt ran, committed half of range 2 and raised
    assert report.complete and len(report.reports) == 4
    retried = report.reports[2]
    assert retried.loans_current > 0  # the half committed by the failed attempt, skipped
    assert ledger_state(url) == reference


def test_a_range_failing_every_retry_is_reported_and_the_others_commit(
    client: Client, fresh_book, reference: tuple[object, ...], tmp_path: Path
) -> None:
    url = fresh_book()
    engine = create_engine(url)
    ranges = partition_book(SqlUnitOfWork(engine), 4)
    engine.dispose()
    broken = faults.AlwaysFails(index=1, directory=tmp_path)
    report = run_ranges_on_dask(client, url, BUSINESS_DATE, ranges, function=broken, retries=2)
    assert not report.complete
    (failed,) = report.failed
    assert failed.loan_range == ranges[1] and failed.error_type == "InjectedFailure"
    assert "always fails" in failed.message
    assert len(list(tmp_path.iterdir())) == 3  # the first attempt and two retries
    assert [r.loan_range.index for r in report.reports] == [0, 2, 3]
    _entries, _trial, loans = ledger_state(url)
    active = [loan for loan in loans if loan.status is LoanStatus.ACTIVE]
    behind = {loan.loan_id for loan in active if loan.last_date < BUSINESS_DATE}
    active_in_1 = {loan.loan_id for loan in active if loan.loan_id in ranges[1]}
    assert behind == active_in_1  # only the failed range's active loans are left behind
    rerun = run_ranges_on_dask(client, url, BUSINESS_DATE, ranges, function=ACCRUE_IN_20S)
    assert rerun.complete and rerun.loans_brought == len(active_in_1)
    assert ledger_state(url) == reference


def test_a_scheduler_address_is_accepted(client: Client, fresh_book) -> None:
    url = fresh_book()
    report = end_of_day_on_dask(client.scheduler.address, url, BUSINESS_DATE, parts=2)
    assert report.complete and report.loans_brought == LOANS - PAID_OFF


def test_bad_retries_are_refused_before_anything_runs(client: Client) -> None:
    for retries in (-1, True, "2"):
        with pytest.raises(InvalidInput, match="retries"):
            run_ranges_on_dask(client, "postgresql://x/y", BUSINESS_DATE, (), retries=retries)
