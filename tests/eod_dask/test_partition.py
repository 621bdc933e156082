"""The book split into loan-id ranges (pure), and the range task on memory stores."""

from __future__ import annotations

import itertools
from datetime import date

import attrs
import pytest
from book_kit import BUSINESS_DATE, book, set_up
from hypothesis import given
from hypothesis import strategies as st

from loancore.adapters.memory.uow import MemoryUnitOfWork
from loancore.errors import InvalidInput
from loancore.services.partition import (
    LoanRange,
    accrue_range,
    book_loan_ids,
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


@pytest.fixture(scope="module")
def booked() -> MemoryUnitOfWork:
    uow = MemoryUnitOfWork()
    set_up(uow)
    book(uow, 60)
    return uow


def _copy(_booked: MemoryUnitOfWork) -> MemoryUnitOfWork:
    """The same book, booked afresh (each test changes its own; memory stores do not copy)."""
    uow = MemoryUnitOfWork()
    set_up(uow)
    book(uow, 60)
    return uow


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


def _ledger(uow: MemoryUnitOfWork) -> tuple[object, ...]:
    with uow:
        entries = sorted(uow.ledger.entries(), key=lambda entry: entry.entry_id)
        ids = uow.loans.loan_ids(limit=1000)
        return tuple(entries), tuple(uow.loans.load_many(ids).values())


def test_ranges_in_any_split_and_chunking_leave_the_whole_book_run(
    booked: MemoryUnitOfWork,
) -> None:
    whole, split = _copy(booked), _copy(booked)
    (report,) = run_ranges(whole, BUSINESS_DATE, partition_book(whole, 1))
    reports = [
        accrue_range(split, BUSINESS_DATE, loan_range, chunk_size=4)
        for loan_range in partition_book(split, 5)
    ]
    assert _ledger(whole) == _ledger(split)
    assert report.loans_seen == 60 == sum(r.loans_seen for r in reports)
    assert report.loans_inactive == 6  # every 10th was paid off
    assert report.loans_brought == 54 and report.refused == ()
    assert report.entries_posted == sum(r.entries_posted for r in reports) > 0
    assert sum(r.units_of_work for r in reports) >= 5


def test_entries_posted_counts_what_the_ledger_gained(booked: MemoryUnitOfWork) -> None:
    uow = _copy(booked)
    before = len(_ledger(uow)[0])
    (report,) = run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    assert len(_ledger(uow)[0]) - before == report.entries_posted


def test_a_day_run_twice_posts_nothing_the_second_time(booked: MemoryUnitOfWork) -> None:
    uow = _copy(booked)
    run_ranges(uow, BUSINESS_DATE, partition_book(uow, 3))
    after_first = _ledger(uow)
    again = run_ranges(uow, BUSINESS_DATE, partition_book(uow, 3))
    assert _ledger(uow) == after_first
    assert sum(r.entries_posted for r in again) == 0 == sum(r.units_of_work for r in again)
    assert sum(r.loans_current for r in again) == 54


def test_a_loan_past_the_date_is_skipped_not_refused(booked: MemoryUnitOfWork) -> None:
    uow = _copy(booked)
    run_ranges(uow, BUSINESS_DATE, partition_book(uow, 1))
    (earlier,) = run_ranges(uow, date(2026, 3, 1), partition_book(uow, 1))
    assert earlier.loans_current == 54 and earlier.entries_posted == 0


def test_the_range_task_checks_its_inputs(booked: MemoryUnitOfWork) -> None:
    whole = partition_book(booked, 1)[0]
    with pytest.raises(InvalidInput, match="chunk_size"):
        accrue_range(booked, BUSINESS_DATE, whole, chunk_size=0)
    with pytest.raises(InvalidInput, match="business_date"):
        accrue_range(booked, "2026-03-31", whole)  # type: ignore[arg-type]
    assert attrs.evolve(whole, count=5) != whole
