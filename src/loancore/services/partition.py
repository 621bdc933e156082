"""The book split into loan-id ranges, and a range brought to the business date.

A distributed end of day (:mod:`loancore.adapters.dask_batch`) runs one task per range; each
range is its own units of work, so ranges never share a transaction and a range that fails is
retried or reported alone.

Ranges are half-open over the whole id space: :class:`LoanRange` ``k`` holds the loan ids
``after < loan_id <= through`` (``through`` None: no upper bound). The first range starts at
``after == ""`` (below every id: ids are non-empty), the last has ``through`` None, and range
``k + 1`` starts where range ``k`` ends (``ranges[k + 1].after == ranges[k].through``), so every
id, even one booked after the split, falls in exactly one range. :func:`split_ids` is pure; it
balances by count (sizes differ by at most one). :func:`partition_book` reads the ids with the
store's keyset paging (``uow.loans.loan_ids(after=, limit=)``) and splits them.

:func:`accrue_range` is the range task made of what servicing has today: every ACTIVE loan of the
range whose last date is before the business date gets an
:class:`~loancore.servicing.events.Accrue` (event id ``eod-<YYYYMMDD>-<loan_id>``) through
:func:`~loancore.services.servicing.apply_batch`, ``chunk_size`` loans a unit of work. A loan
already at the date is skipped (the watermark is ``Loan.last_date``), so running a day twice
posts nothing the second time and a retried range redoes only the chunks that did not commit.
Any function with the :data:`RangeFunction` signature can take its place (the end-of-day batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

import attrs

from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.ledger.entries import JournalEntry
from loancore.ports import LedgerStore, LoanStore, QuotaStore, SettlementStore, UnitOfWork
from loancore.services.servicing import BATCH_MAX, apply_batch
from loancore.servicing import Accrue, LoanStatus, ServicingEvent

__all__ = [
    "CHUNK_SIZE",
    "LOANS_MAX",
    "PAGE_SIZE",
    "PARTS_MAX",
    "LoanRange",
    "RangeFunction",
    "RangeReport",
    "RefusedLoan",
    "accrue_range",
    "book_loan_ids",
    "partition_book",
    "range_loan_ids",
    "run_ranges",
    "split_ids",
]

PAGE_SIZE = 1000
"""Loan ids read a query when paging through the book."""

LOANS_MAX = 10_000_000
"""The most loans :func:`book_loan_ids` reads (the loop bound)."""

PARTS_MAX = 100_000
"""The most ranges :func:`split_ids` makes."""

CHUNK_SIZE = 500
"""Loans a unit of work in :func:`accrue_range` by default."""


def _positive(field: str, value: object, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise InvalidInput(field, value, f"expected an int in 1..{upper}")
    return value


@attrs.frozen
class LoanRange:
    """Loan ids ``after < loan_id <= through`` (``through`` None: no upper bound); ``index`` is the
    range's place in its split, ``count`` how many ids it held when the book was split."""

    index: int
    after: str
    through: str | None
    count: int

    def __contains__(self, loan_id: object) -> bool:
        if not isinstance(loan_id, str):
            return False
        return loan_id > self.after and (self.through is None or loan_id <= self.through)

    def describe(self) -> str:
        """``(after, through]`` for messages and task keys."""
        upper = "" if self.through is None else self.through
        return f"range {self.index} ({self.after!r}, {upper!r}]"


def split_ids(loan_ids: Sequence[str], parts: int) -> tuple[LoanRange, ...]:
    """``loan_ids`` (strictly increasing, as ``loan_ids()`` pages them) cut into ``min(parts,
    len(loan_ids))`` contiguous ranges of balanced counts (the first ``len % parts`` ranges hold
    one more), covering the whole id space (module docstring); no ids give one empty range."""
    _positive("parts", parts, PARTS_MAX)
    total = len(loan_ids)
    for n in range(1, total):  # bounded by the ids
        if not loan_ids[n - 1] < loan_ids[n]:
            raise InvalidInput("loan_ids", loan_ids[n], "ids must be strictly increasing")
    count = max(1, min(parts, total))
    size, extra = divmod(total, count)
    ranges: list[LoanRange] = []
    after, start = "", 0
    for index in range(count):  # bounded by parts
        stop = start + size + (1 if index < extra else 0)
        through = None if index == count - 1 else loan_ids[stop - 1]
        ranges.append(LoanRange(index=index, after=after, through=through, count=stop - start))
        after = "" if through is None else through
        start = stop
    return tuple(ranges)


def _paged_ids(loans: LoanStore, after: str, page_size: int) -> Iterator[tuple[str, ...]]:
    """Pages of ids greater than ``after``, in id order, until a short page (bounded)."""
    for _ in range(LOANS_MAX // page_size + 1):  # bounded: LOANS_MAX ids
        page = loans.loan_ids(after=after, limit=page_size)
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1]
    raise InvalidInput("book", LOANS_MAX, "more loans than LOANS_MAX")


def book_loan_ids(uow: UnitOfWork, *, page_size: int = PAGE_SIZE) -> tuple[str, ...]:
    """Every loan id of the book, in id order, read in one (read-only) unit of work with keyset
    paging, ``page_size`` ids a query."""
    _positive("page_size", page_size, BATCH_MAX)
    with uow:
        return tuple(i for page in _paged_ids(uow.loans, "", page_size) for i in page)


def partition_book(
    uow: UnitOfWork, parts: int, *, page_size: int = PAGE_SIZE
) -> tuple[LoanRange, ...]:
    """The book's loan ids (:func:`book_loan_ids`) split into ``parts`` ranges (:func:`split_ids`)."""
    _positive("parts", parts, PARTS_MAX)
    return split_ids(book_loan_ids(uow, page_size=page_size), parts)


def range_loan_ids(
    loans: LoanStore, loan_range: LoanRange, *, after: str = "", limit: int = PAGE_SIZE
) -> tuple[str, ...]:
    """Up to ``limit`` ids of ``loan_range`` greater than ``after`` (keyset paging inside the
    range: pass the last id of the previous page); an empty tuple when the range is done."""
    _positive("limit", limit, BATCH_MAX)
    start = max(after, loan_range.after)
    page = loans.loan_ids(after=start, limit=limit)
    if loan_range.through is None:
        return page
    through = loan_range.through
    return tuple(loan_id for loan_id in page if loan_id <= through)


@attrs.frozen
class RefusedLoan:
    """A loan the range task could not bring to the date: ``code`` is the
    :class:`~loancore.errors.RejectionCode` value, ``reason`` the refusal's message (plain values,
    so a report crosses process boundaries)."""

    loan_id: str
    event_id: str
    code: int
    reason: str


@attrs.frozen
class RangeReport:
    """What a range task did on ``business_date``: loans seen in the range; brought to the date;
    already at (or past) it, skipped; not active, skipped; refused (with the refusal); entries
    posted in committed units of work; units of work committed."""

    loan_range: LoanRange
    business_date: date
    loans_seen: int
    loans_brought: int
    loans_current: int
    loans_inactive: int
    refused: tuple[RefusedLoan, ...]
    entries_posted: int
    units_of_work: int


RangeFunction = Callable[[UnitOfWork, date, LoanRange], RangeReport]
"""A range task: ``(uow, business_date, loan_range) -> RangeReport``. It opens its own units of
work on ``uow`` (never one across the whole range), may be rerun after a failure (so it must be
idempotent per loan), and must be a module-level function (Dask pickles it by reference)."""


class _CountingLedger:
    """A ledger store seen through :class:`_CountingUnitOfWork`: ``post`` counts its entries."""

    def __init__(self, store: LedgerStore, owner: _CountingUnitOfWork) -> None:
        self._store = store
        self._owner = owner

    def post(self, entries: Sequence[JournalEntry]) -> tuple[JournalEntry, ...]:
        posted = self._store.post(entries)
        self._owner.pending += len(posted)
        return posted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class _CountingUnitOfWork:
    """``uow`` unchanged, except that the entries posted in units of work that commit are
    counted in ``entries_posted`` and the commits in ``commits``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.pending = 0
        self.entries_posted = 0
        self.commits = 0

    @property
    def ledger(self) -> LedgerStore:
        return _CountingLedger(self._uow.ledger, self)

    @property
    def quota(self) -> QuotaStore:
        return self._uow.quota

    @property
    def loans(self) -> LoanStore:
        return self._uow.loans

    @property
    def settlement(self) -> SettlementStore:
        return self._uow.settlement

    def __enter__(self) -> Self:
        self._uow.__enter__()
        self.pending = 0
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._uow.__exit__(exc_type, exc, traceback)

    def commit(self) -> None:
        self._uow.commit()
        self.entries_posted += self.pending
        self.commits += 1
        self.pending = 0

    def rollback(self) -> None:
        self._uow.rollback()
        self.pending = 0


@attrs.define
class _Tally:
    seen: int = 0
    current: int = 0
    inactive: int = 0
    brought: int = 0
    refused: list[RefusedLoan] = attrs.Factory(list)


def _accrue_chunk(
    uow: _CountingUnitOfWork,
    business_date: date,
    loan_range: LoanRange,
    after: str,
    chunk_size: int,
    tally: _Tally,
) -> str | None:
    """One chunk: the range's next ``chunk_size`` ids after ``after`` and their loans read in one
    unit of work, then those behind the date accrued in one ``apply_batch``. The chunk's last id
    (None: the range is done)."""
    with uow:
        loan_ids = range_loan_ids(uow.loans, loan_range, after=after, limit=chunk_size)
        loans = uow.loans.load_many(loan_ids) if loan_ids else {}
    if not loan_ids:
        return None
    items: list[tuple[str, ServicingEvent]] = []
    for loan_id in loan_ids:  # bounded by the chunk
        loan = loans[loan_id]
        if loan.status is not LoanStatus.ACTIVE:
            tally.inactive += 1
        elif loan.last_date >= business_date:
            tally.current += 1
        else:
            event_id = f"eod-{business_date:%Y%m%d}-{loan_id}"
            items.append((loan_id, Accrue(event_id=event_id, as_of=business_date)))
    tally.seen += len(loan_ids)
    if items:
        result = apply_batch(uow, items)
        loan_of = {event.event_id: loan_id for loan_id, event in items}
        tally.brought += len(result.applied)
        tally.current += len(result.replayed)
        for event_id, no in result.refused:
            tally.refused.append(RefusedLoan(loan_of[event_id], event_id, int(no.code), str(no)))
    return loan_ids[-1]


def accrue_range(
    uow: UnitOfWork, business_date: date, loan_range: LoanRange, *, chunk_size: int = CHUNK_SIZE
) -> RangeReport:
    """Every active loan of ``loan_range`` brought to ``business_date`` with an ``Accrue``,
    ``chunk_size`` loans a unit of work (module docstring); a :data:`RangeFunction`. A refused
    loan is reported and the rest go on; anything else raised stops the range, leaving the chunks
    already committed (a rerun skips them: they are at the date)."""
    require_date("business_date", business_date)
    _positive("chunk_size", chunk_size, BATCH_MAX)
    counting = _CountingUnitOfWork(uow)
    tally = _Tally()
    after: str | None = loan_range.after
    for _ in range(LOANS_MAX // chunk_size + 1):  # bounded: LOANS_MAX loans
        if after is None:
            break
        after = _accrue_chunk(counting, business_date, loan_range, after, chunk_size, tally)
    return RangeReport(
        loan_range=loan_range,
        business_date=business_date,
        loans_seen=tally.seen,
        loans_brought=tally.brought,
        loans_current=tally.current,
        loans_inactive=tally.inactive,
        refused=tuple(tally.refused),
        entries_posted=counting.entries_posted,
        units_of_work=counting.commits,
    )


def run_ranges(
    uow: UnitOfWork,
    business_date: date,
    ranges: Sequence[LoanRange],
    function: RangeFunction = accrue_range,
) -> tuple[RangeReport, ...]:
    """The plain in-process executor: ``function`` over each range in turn, in this process
    (the single-process run the distributed one must equal)."""
    return tuple(function(uow, business_date, loan_range) for loan_range in ranges)
