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

THE range task is :func:`close_range`: the loan part of the end-of-day batch
(:func:`~loancore.services.end_of_day.close_loans`) over the range's ids, ``chunk_size`` loans a
unit of work; every active loan behind the date is caught up day by day (accrual, due moves, DPD,
penalties, classification, non-accrual, provisions); then the revolving credit-line accounts whose
ids fall in the range (:func:`~loancore.services.credit_line.close_lines_day` with the range's
bounds). The ranges cover the whole id space, so every account is closed by exactly one range,
whatever ids the loans have; an account touches only its own rows, its quota line (an accrual
moves no quota) and the ledger, as a loan does, so ranges closing accounts side by side never
write the same row. A loan's watermark (its standing's
``closed_through``) makes a loan already closed through the date a no-op, so running a day twice
posts nothing the second time and a retried range redoes only the chunks that did not commit.
The quota part of the batch (:func:`~loancore.services.end_of_day.close_quota_day`) reads every
borrower's loans, so it is not a range task: the driver runs it once, after every range
completed. :func:`run_ranges` is the in-process executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date

import attrs

from loancore.checks import require_date
from loancore.errors import InvalidInput
from loancore.ports import LoanStore, UnitOfWork
from loancore.services.credit_line import LinesClosed, close_lines_day
from loancore.services.end_of_day import CHUNK_SIZE, LoansClosed, RulesLike, close_loans
from loancore.services.quota import Refusal
from loancore.services.servicing import BATCH_MAX

__all__ = [
    "CHUNK_SIZE",
    "LOANS_MAX",
    "PAGE_SIZE",
    "PARTS_MAX",
    "LoanRange",
    "RangeFunction",
    "RangeReport",
    "RefusedLoan",
    "book_loan_ids",
    "close_range",
    "close_range_parts",
    "partition_book",
    "partition_day",
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


def partition_day(
    uow: UnitOfWork, business_date: date, parts: int, *, page_size: int = PAGE_SIZE
) -> tuple[LoanRange, ...]:
    """The loans to close through ``business_date`` (``loans_to_close``, read ``page_size`` ids
    a query) split into ``parts`` ranges balanced by those loans (:func:`split_ids`): the work
    of the day shared evenly, where :func:`partition_book` shares the book (loans paid off or
    already closed included). The ranges cover the whole id space, so a loan booked after the
    split still falls in one."""
    require_date("business_date", business_date)
    _positive("parts", parts, PARTS_MAX)
    _positive("page_size", page_size, BATCH_MAX)
    ids: list[str] = []
    with uow:
        for _ in range(LOANS_MAX // page_size + 1):  # bounded: LOANS_MAX ids
            after = ids[-1] if ids else ""
            page = uow.loans.loans_to_close(business_date, after=after, limit=page_size)
            ids.extend(page)
            if len(page) < page_size:
                return split_ids(ids, parts)
    raise InvalidInput("book", LOANS_MAX, "more loans than LOANS_MAX")


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
    """A loan the batch could not close: its id, the :class:`~loancore.errors.RejectionCode`
    value (``LOAN_CLOSE_FAILED`` for an error that is not a refusal) and the reason (plain
    values, so a report crosses process boundaries). It is left as it was and tried again by the
    next run."""

    loan_id: str
    code: int
    reason: str

    @classmethod
    def from_refusal(cls, refusal: Refusal) -> RefusedLoan:
        """From the batch's :class:`~loancore.services.quota.Refusal` (keyed by loan id)."""
        return cls(loan_id=refusal.key, code=int(refusal.code), reason=refusal.detail)


@attrs.frozen
class RangeReport:
    """What a range task did on ``business_date``: loans brought to the date (closed through
    it), loan-days closed, entries and memo postings sent to the ledger in committed units of
    work, the loans refused (left behind, retried by the next run) and the units of work (chunks)
    run; ``lines`` what the range's credit-line accounts did (None: a range function that closes
    none). ``refused`` holds the refused accounts too (a refusal is keyed by its id)."""

    loan_range: LoanRange
    business_date: date
    loans_closed: int
    days_closed: int
    entries_posted: int
    memo_postings: int
    refused: tuple[RefusedLoan, ...]
    units_of_work: int
    lines: LinesClosed | None = None


RangeFunction = Callable[[UnitOfWork, date, LoanRange], RangeReport]
"""A range task: ``(uow, business_date, loan_range) -> RangeReport``. It opens its own units of
work on ``uow`` (never one across the whole range), may be rerun after a failure (so it must be
idempotent per loan), and must pickle (a module-level function, or a ``functools.partial`` of one
with picklable arguments: Dask pickles it)."""


def close_range(
    uow: UnitOfWork,
    business_date: date,
    loan_range: LoanRange,
    *,
    chunk_size: int = CHUNK_SIZE,
    rules: RulesLike = None,
) -> RangeReport:
    """The loan and line part of the end-of-day batch over ``loan_range``
    (:func:`close_range_parts`), as a :data:`RangeReport`; a :data:`RangeFunction`. The quota
    part (:func:`~loancore.services.end_of_day.close_quota_day`) is not run: it reads every
    borrower's loans and lines, so it runs once, after every range."""
    closed, lines = close_range_parts(
        uow, business_date, loan_range, chunk_size=chunk_size, rules=rules
    )
    return RangeReport(
        loan_range=loan_range,
        business_date=business_date,
        loans_closed=closed.loans_closed,
        days_closed=closed.days_closed,
        entries_posted=closed.entries,
        memo_postings=closed.memo_postings,
        refused=tuple(RefusedLoan.from_refusal(f) for f in (*closed.failed, *lines.failed)),
        units_of_work=closed.chunks + lines.chunks,
        lines=lines,
    )


def close_range_parts(
    uow: UnitOfWork,
    business_date: date,
    loan_range: LoanRange,
    *,
    chunk_size: int = CHUNK_SIZE,
    rules: RulesLike = None,
    read_uow: UnitOfWork | None = None,
) -> tuple[LoansClosed, LinesClosed]:
    """Every active loan of ``loan_range`` behind ``business_date`` caught up to it by
    :func:`~loancore.services.end_of_day.close_loans` (``after=loan_range.after,
    through=loan_range.through``), ``chunk_size`` loans a unit of work, ``rules`` and
    ``read_uow`` as there, then the range's credit-line accounts by
    :func:`~loancore.services.credit_line.close_lines_day` (same bounds, chunk size and rules),
    in the order :func:`~loancore.services.end_of_day.close_business_day` takes."""
    closed = close_loans(
        uow,
        business_date,
        after=loan_range.after,
        through=loan_range.through,
        rules=rules,
        chunk_size=chunk_size,
        read_uow=read_uow,
    )
    lines = close_lines_day(
        uow,
        business_date,
        after=loan_range.after,
        through=loan_range.through,
        rules=rules,
        chunk_size=chunk_size,
    )
    return closed, lines


def run_ranges(
    uow: UnitOfWork,
    business_date: date,
    ranges: Sequence[LoanRange],
    function: RangeFunction = close_range,
) -> tuple[RangeReport, ...]:
    """The plain in-process executor: ``function`` over each range in turn, in this process
    (the single-process run the distributed one must equal)."""
    return tuple(function(uow, business_date, loan_range) for loan_range in ranges)
