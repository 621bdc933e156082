"""The book split into loan-id ranges (pure), and THE range task (``close_range``) on memory
stores against ``close_business_day``."""

from __future__ import annotations

import itertools
import pickle
from datetime import date

import attrs
import pytest
from book_kit import ANCIENT, BUSINESS_DATE, POLICY, book, set_up, uow_state
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.errors import InvalidInput, RejectionCode
from loancore.services.end_of_day import close_business_day, close_quota_day
from loancore.services.partition import (
    LoanRange,
    RangeReport,
    RefusedLoan,
    book_loan_ids,
    close_range,
    partition_book,
    range_loan_ids,
    run_ranges,
    split_ids,
)

ids_lists = st.lists(
    st.text(alphabet="ABCL0123456789-", min_size=1, max_size=6), unique=True, max_size=200
).map(sorted)


@given(ids_lists, st.integers(1, 40))
def test_ranges_hold_every_id_exactly_once(ids: list[str], parts: int) -> None:
    ranges = split_ids(ids, parts)
    for loan_id in ids:
        assert sum(loan_id in r for r in ranges) == 1
    assert [i for r in ranges for i in ids if i in r] == ids
    assert sum(r.count for r in ranges) == len(ids)


@given(ids_lists, st.integers(1, 40))
def test_ranges_are_contiguous_over_the_whole_id_space(ids: list[str], parts: int) -> None:
    ranges = split_ids(ids, parts)
    assert ranges[0].after == "" and ranges[-1].through is None
    assert [r.index for r in ranges] == list(range(len(ranges)))
    for before, after in itertools.pairwise(ranges):
        assert after.after == before.through
    assert len(ranges) == max(1, min(parts, len(ids)))


@given(ids_lists, st.integers(1, 40), st.text(alphabet="ABCL0123456789-~", min_size=1))
def test_an_id_booked_after_the_split_falls_in_exactly_one_range(
    ids: list[str], parts: int, newcomer: str
) -> None:
    assert sum(newcomer in r for r in split_ids(ids, parts)) == 1


@given(ids_lists, st.integers(1, 40))
def test_ranges_are_balanced_within_one(ids: list[str], parts: int) -> None:
    counts = [r.count for r in split_ids(ids, parts)]
    assert max(counts) - min(counts) <= 1
    assert counts == sorted(counts, reverse=True)  # the larger ranges come first


def test_split_refuses_unsorted_ids_and_bad_part_counts() -> None:
    with pytest.raises(InvalidInput, match="loan_ids"):
        split_ids(["b", "a"], 2)
    with pytest.raises(InvalidInput, match="loan_ids"):
        split_ids(["a", "a"], 2)
    for parts in (0, -1, True, 2.0):
        with pytest.raises(InvalidInput, match="parts"):
            split_ids(["a"], parts)  # type: ignore[arg-type]


def test_no_loans_is_one_empty_range_over_everything() -> None:
    assert split_ids([], 4) == (LoanRange(index=0, after="", through=None, count=0),)


BOOKED = 60


def _booked() -> MemoryUnitOfWork:
    """book_kit's book, ``BOOKED`` loans, on memory stores (each test changes its own)."""
    uow = MemoryUnitOfWork()
    set_up(uow)
    book(uow, BOOKED)
    return uow


@pytest.fixture(scope="module")
def booked() -> MemoryUnitOfWork:
    """A book that tests only read."""
    return _booked()


def test_partition_book_pages_through_every_loan(booked: MemoryUnitOfWork) -> None:
    ids = book_loan_ids(booked, page_size=7)
    assert ids == tuple(f"L{n:04d}" for n in range(60))
    assert partition_book(booked, 4, page_size=7) == split_ids(ids, 4)


def test_range_paging_stays_inside_the_range(booked: MemoryUnitOfWork) -> None:
    loan_range = LoanRange(index=1, after="L0009", through="L0019", count=10)
    with booked:
        first = range_loan_ids(booked.loans, loan_range, limit=4)
        rest = range_loan_ids(booked.loans, loan_range, after=first[-1], limit=100)
        done = range_loan_ids(booked.loans, loan_range, after=rest[-1], limit=100)
    assert first + rest == tuple(f"L{n:04d}" for n in range(10, 20))
    assert done == ()


def _split_day(uow: MemoryUnitOfWork, parts: int, chunk_size: int) -> list[RangeReport]:
    """The day as a driver runs it: every range's ``close_range``, then the quota batch once
    with the refused loans left out."""
    reports = [
        close_range(uow, BUSINESS_DATE, loan_range, chunk_size=chunk_size)
        for loan_range in partition_book(uow, parts)
    ]
    refused = {loan.loan_id for report in reports for loan in report.refused}
    close_quota_day(uow, BUSINESS_DATE, limit_policy=POLICY, excluded=refused)
    return reports


@pytest.mark.parametrize(("parts", "chunk_size"), [(1, 500), (5, 4), (60, 1)])
def test_ranges_in_any_split_and_chunking_leave_the_business_day_book(
    parts: int, chunk_size: int
) -> None:
    whole, split = _booked(), _booked()
    single = close_business_day(whole, BUSINESS_DATE, limit_policy=POLICY)
    reports = _split_day(split, parts, chunk_size)
    assert uow_state(split) == uow_state(whole)
    assert sum(r.loans_closed for r in reports) == single.loans_closed > 0
    assert sum(r.days_closed for r in reports) == single.days_closed
    assert sum(r.entries_posted for r in reports) == single.entries > 0
    assert sum(r.memo_postings for r in reports) == single.memo_postings > 0
    assert single.lines is not None
    lines = [r.lines for r in reports if r.lines is not None]
    assert sum(x.lines_closed for x in lines) == single.lines.lines_closed > 0
    assert sum(x.entries for x in lines) == single.lines.entries > 0
    assert sum(x.statements for x in lines) == single.lines.statements
    refused = [loan for r in reports for loan in r.refused]
    assert refused == [RefusedLoan.from_refusal(f) for f in (*single.failed, *single.lines.failed)]
    assert [loan.loan_id for loan in refused] == [ANCIENT]
    for r in reports:  # a unit of work per chunk of the range's loans, then of its accounts
        assert r.lines is not None
        loans = -(-(r.loans_closed + len(r.refused)) // chunk_size)
        accounts = -(-r.lines.lines_closed // chunk_size)
        assert r.units_of_work == loans + accounts == r.lines.chunks + loans


def test_the_counts_are_what_the_ledger_gained() -> None:
    uow = _booked()
    before = uow_state(uow)
    (report,) = run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    after = uow_state(uow)
    assert report.lines is not None and report.lines.entries > 0
    lines = report.lines
    gained = len(after["entries"]) - len(before["entries"])
    assert gained == report.entries_posted + lines.entries > lines.entries
    gained = len(after["memo_postings"]) - len(before["memo_postings"])
    assert gained == report.memo_postings + lines.memo_postings > lines.memo_postings > 0
    closed = [s for s in after["standings"] if s.closed_through == BUSINESS_DATE]
    assert len(closed) == report.loans_closed + lines.lines_closed


def test_a_day_run_twice_posts_nothing_the_second_time() -> None:
    uow = _booked()
    run_ranges(uow, BUSINESS_DATE, partition_book(uow, 3))
    after_first = uow_state(uow)
    again = run_ranges(uow, BUSINESS_DATE, partition_book(uow, 3))
    assert uow_state(uow) == after_first
    assert sum(r.entries_posted + r.memo_postings + r.loans_closed for r in again) == 0
    assert [loan.loan_id for r in again for loan in r.refused] == [ANCIENT]  # refused again


def test_an_earlier_date_closes_nothing_more() -> None:
    uow = _booked()
    run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    after = uow_state(uow)
    (earlier,) = run_ranges(uow, date(2026, 3, 29), partition_book(uow, 1))
    assert (earlier.loans_closed, earlier.entries_posted) == (0, 0)
    assert uow_state(uow) == after


def test_a_range_report_is_plain_values_that_pickle() -> None:
    uow = _booked()
    (report,) = run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    (refused,) = report.refused
    assert type(refused.code) is int and refused.code == RejectionCode.LOAN_CLOSE_FAILED
    assert "days to close" in refused.reason
    assert pickle.loads(pickle.dumps(report)) == report


def test_the_range_task_checks_its_inputs(booked: MemoryUnitOfWork) -> None:
    whole = partition_book(booked, 1)[0]
    with pytest.raises(InvalidInput, match="chunk_size"):
        close_range(booked, BUSINESS_DATE, whole, chunk_size=0)
    with pytest.raises(InvalidInput, match="business_date"):
        close_range(booked, "2026-03-31", whole)  # type: ignore[arg-type]
    assert attrs.evolve(whole, count=5) != whole


def test_a_refused_loan_never_closed_keeps_its_borrower_out_of_the_review() -> None:
    uow = _booked()
    reports = _split_day(uow, 3, 500)
    assert [loan.loan_id for r in reports for loan in r.refused] == [ANCIENT]  # no standing
    with uow:
        lines = {line.line_id: line for line in uow.quota.lines()}
        standings = {s.loan_id: s for s in uow.loans.standings(limit=1000)}
    assert ANCIENT not in standings and standings["L0040"].dpd > 90  # B10's other loan
    assert standings["L0034"].dpd > 90 and lines["LINE-4"].frozen_whole  # B4, reviewed
    assert not lines["LINE-10"].frozen_whole  # B10: one of its loans failed, not reviewed
