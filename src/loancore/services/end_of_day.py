"""The end-of-day batch over the whole book, and the delinquency events of a loan (write-off,
recovery, sale), each in units of work over the loans, quota and ledger stores.

:func:`close_business_day` closes ``business_date`` for every active loan: the loans whose
watermark (:attr:`~loancore.delinquency.daily.LoanStanding.closed_through`) is before it are read
in chunks (``chunk_size`` loans, one unit of work each); each loan is brought day by day from the
day after its watermark to ``business_date`` by :func:`~loancore.delinquency.daily.close_day`
(accrual, classification, non-accrual, provision); the chunk's loans, standings and entries are
written and committed together. Then the quota's own end-of-day batch
(:func:`loancore.services.quota.run_end_of_day`: hold expiry, temporary limits, the limit policy
fed with each borrower's :class:`~loancore.quota.CreditRecord`) runs in one more unit of work.

- **Idempotent**: a loan closed through the date is not selected again, and every entry's
  idempotency key derives from the loan and the day, so running a date twice posts nothing.
- **Restartable**: a chunk commits whole or not at all; a batch killed half-way leaves some
  chunks committed, and the rerun picks up exactly the loans whose watermark did not move.
- **Failures**: a loan whose close raises a :class:`~loancore.errors.LoancoreError` is reported
  (:class:`~loancore.services.quota.Refusal`: loan id, code, detail), left as it was, and tried
  again by the next run; the rest of its chunk commits. If writing the chunk fails, its loans
  are closed one unit of work each, so only the loan at fault is left out.

**GL granularity** (the product version's :class:`~loancore.servicing.GlGranularity`): a
``loan`` product's day-close entries are posted as they are, one entry per loan per event with
the loan's dimensions. A ``summary`` product's are summed (:func:`summarise_day_entries`): per
unit of work, ONE entry per (product, accounting day, event kind), its legs the per-subject and
side sums of the loans' entries, carrying only the ``product`` dimension (``<id>@<version>``,
:func:`product_dimension`). The loan-level detail stays in the loan sub-ledger: the loan
document (installments, history) and its standing, which the batch saves in the same unit of
work. Reconciliation (:func:`loancore.services.reconcile`) then compares the ledger's balances
for the product with the sum of its loans' figures.

- **Event kind**: the template and the tag of the day's event id
  (``interest.accrued:eod20260116-L1.penalty`` -> ``interest.accrued.penalty``), so each summary
  entry keeps the shape of the loan entries it sums (accrual, penalty, compound, due move, late
  fee, provision per stage, suspension and reinstatement each on its own).
- **Idempotency key**: ``eodsum:<yyyymmdd>:<kind>:<digest>``, the digest a SHA-256 of the product
  and the sorted ids of the loans summed. A loan's entry of one kind on one day is closed by
  exactly one committed unit of work (the watermark moves in the same transaction, and
  ``loans_to_close`` never selects a loan closed through the date again), so no two summaries
  ever share a key, and the key depends on what is summed, not on the chunk boundaries, which
  a rerun after a crash may draw differently: the rerun only sees the loans whose chunk did not
  commit and posts their summaries once. A chunk boundary key (first and last id) would be
  unique too, but would not name its content; the content digest also makes a replay of the
  very same unit of work (same loans) an idempotent repeat rather than a conflict.
- **Memo postings** (表外应收未收利息) stay per loan: a memo register is single-entry and its
  floor is checked for the posting's own dimensions, so a later per-loan decrease (interest paid
  by a non-accrual loan, a write-off) needs the loan's increases under the loan's dimensions;
  they are few (non-accrual loans only).
- Everything outside the batch stays per loan: repayments and other servicing events, the days
  an event closes by inline catch-up, write-off, recovery and sale. Those entries carry the
  ``product`` dimension as well, so the product's balances hold both.

:func:`current_outcome` is what :func:`loancore.services.apply_event` does with a loan the batch
keeps a standing for: days left unclosed before the event's date are closed first (inline
catch-up), then the event is applied off the books if the loan is non-accrual.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import attrs

from loancore.checks import require_date
from loancore.delinquency import (
    Booking,
    RiskClass,
    classify,
    interest_on_books,
    loan_provision,
    recover,
    sell,
    write_off,
)
from loancore.delinquency.daily import (
    DailyRules,
    DayClose,
    LoanStanding,
    apply_with_standing,
    close_day,
    day_event_id,
    sold_loan,
    standing_of,
    written_off_loan,
)
from loancore.errors import (
    InvalidInput,
    InvariantViolation,
    LoancoreError,
    NotFound,
    Rejected,
    RejectionCode,
)
from loancore.ledger.entries import JournalEntry, Leg, MemoPosting, MemoRegister
from loancore.ledger.subjects import Side
from loancore.money import Money
from loancore.ports import UnitOfWork
from loancore.postings import (
    LoanSold,
    ProvisionCharged,
    RecoveredAfterWriteOff,
    Stage,
    WrittenOff,
)
from loancore.quota import Close, CreditRecord, LimitPolicy, LineStatus
from loancore.services.credit_line import LinesClosed, close_lines_day
from loancore.services.quota import EndOfDayReport, Refusal, run_end_of_day
from loancore.services.settlement import (
    joint_recovery_entries,
    joint_sale_entries,
    joint_write_off_losses,
)
from loancore.services.shared import CATCH_UP_DAYS_MAX, check_unchanged
from loancore.servicing import (
    Accrue,
    GlGranularity,
    Loan,
    LoanProduct,
    LoanStatus,
    Outcome,
    ServicingEvent,
    apply,
)

__all__ = [
    "CATCH_UP_DAYS_MAX",
    "CHUNK_SIZE",
    "SUMMARY_KEY_PREFIX",
    "BusinessDayReport",
    "ChunkProgress",
    "LoansClosed",
    "RulesLike",
    "close_business_day",
    "close_loans",
    "close_quota_day",
    "complete_business_day",
    "credit_records",
    "current_outcome",
    "outcome_with_standing",
    "product_dimension",
    "recover_loan",
    "sell_loan",
    "summarise_day_entries",
    "write_off_loan",
]

CHUNK_SIZE = 500
"""Loans per unit of work by default."""

CHUNK_SIZE_MAX = 10_000
"""The most loans one chunk takes (the loans store's batch limit)."""


SUMMARY_KEY_PREFIX = "eodsum"
"""The idempotency keys (and entry ids) of summary entries: ``eodsum:<yyyymmdd>:<kind>:<digest>``
(module docstring)."""

_CHUNKS_MAX = 10_000_000
_STANDINGS_PAGE = 5000

RulesLike = DailyRules | Mapping[str, DailyRules] | None
"""The end-of-day rules: one for every product, or by product id (a product not named gets
``DailyRules()``), or None (``DailyRules()`` for all)."""


def _rules_for(rules: RulesLike, product: LoanProduct) -> DailyRules:
    if rules is None:
        return _DEFAULT_RULES
    if isinstance(rules, DailyRules):
        return rules
    return rules.get(product.product_id, _DEFAULT_RULES)


_DEFAULT_RULES = DailyRules()


@attrs.frozen
class ChunkProgress:
    """Reported after every chunk: the chunk's number (from 1), the loans it held, the loans
    closed so far in this run and the loans that failed so far."""

    business_date: datetime.date
    chunk: int
    chunk_loans: int
    loans_closed: int
    loans_failed: int


@attrs.frozen
class BusinessDayReport:
    """What :func:`close_business_day` did: loans brought to the date, loan-days closed, entries
    and memo postings sent to the ledger, the loans that failed (retried by the next run), the
    quota batch's report and what the revolving credit lines' day close did
    (:class:`~loancore.services.credit_line.LinesClosed`)."""

    business_date: datetime.date
    loans_closed: int
    days_closed: int
    entries: int
    memo_postings: int
    failed: tuple[Refusal, ...]
    quota: EndOfDayReport
    lines: LinesClosed | None = None  # the credit lines' day close (None: not run)


@attrs.frozen
class _Closed:
    loan: Loan
    standing: LoanStanding
    days: int
    entries: tuple[JournalEntry, ...]
    memo_postings: tuple[MemoPosting, ...]


def _first_day(loan: Loan, standing: LoanStanding) -> datetime.date:
    if standing.closed_through is None:
        return loan.last_date
    return standing.closed_through + datetime.timedelta(days=1)


def _catch_up(
    loan: Loan,
    product: LoanProduct,
    standing: LoanStanding,
    rules: DailyRules,
    through: datetime.date,
) -> _Closed:
    """``loan`` closed day by day from the day after its watermark through ``through``."""
    day = _first_day(loan, standing)
    days = (through - day).days + 1
    if days > CATCH_UP_DAYS_MAX:
        raise InvalidInput(
            "business_date", through, f"{days} days to close, at most {CATCH_UP_DAYS_MAX}"
        )
    entries: list[JournalEntry] = []
    memos: list[MemoPosting] = []
    for _ in range(max(days, 0)):  # bounded by CATCH_UP_DAYS_MAX
        closed: DayClose = close_day(loan, product, standing, rules, day)
        loan, standing = closed.loan, closed.standing
        entries.extend(closed.entries)
        memos.extend(closed.memo_postings)
        day += datetime.timedelta(days=1)
    return _Closed(loan, standing, max(days, 0), tuple(entries), tuple(memos))


def _refusal(loan_id: str, error: LoancoreError) -> Refusal:
    if isinstance(error, Rejected):
        return Refusal(loan_id, error.code, error.detail)
    return Refusal(loan_id, RejectionCode.LOAN_CLOSE_FAILED, f"{type(error).__name__}: {error}")


@attrs.frozen
class _ChunkResult:
    closed: int
    days: int
    entries: int
    memos: int
    failed: tuple[Refusal, ...]


@attrs.frozen
class _Decided:
    """A chunk's decisions and what they were made on: the versions and standings read."""

    done: tuple[tuple[int, _Closed], ...]
    failed: tuple[Refusal, ...]
    summarised: frozenset[tuple[str, int]]
    standings: Mapping[str, LoanStanding]


@attrs.frozen
class _ChunkRead:
    """What a chunk's closes are decided on, read in one unit of work: its loans, their
    standings and their products (a product that cannot be read: the refusal, for its loans)."""

    loans: Mapping[str, Loan]
    standings: Mapping[str, LoanStanding]
    products: Mapping[tuple[str, int], LoanProduct | LoancoreError]


def _read_chunk(uow: UnitOfWork, ids: Sequence[str]) -> _ChunkRead:
    """Inside ``uow``'s open unit of work: the chunk's loans, standings and products."""
    loans = uow.loans.load_many(ids)
    products: dict[tuple[str, int], LoanProduct | LoancoreError] = {}
    for loan in loans.values():  # bounded by CHUNK_SIZE_MAX
        ref = (loan.product_id, loan.product_version)
        if ref not in products:
            try:
                products[ref] = uow.loans.product(*ref)
            except LoancoreError as error:
                products[ref] = error
    return _ChunkRead(loans, uow.loans.load_standings(ids), products)


def _decide_chunk(
    read: _ChunkRead, ids: Sequence[str], business_date: datetime.date, rules: RulesLike
) -> _Decided:
    """The chunk's loans each closed through ``business_date`` in memory, on what
    :func:`_read_chunk` read (no store is touched); a loan whose close raises is reported and
    left out."""
    failed: list[Refusal] = []
    done: list[tuple[int, _Closed]] = []
    loans, standings = read.loans, read.standings
    for loan_id in ids:  # bounded by CHUNK_SIZE_MAX
        loan = loans[loan_id]
        product = read.products[loan.product_id, loan.product_version]
        if isinstance(product, LoancoreError):  # its product could not be read
            failed.append(_refusal(loan_id, product))
            continue
        try:
            standing = standings.get(loan_id) or standing_of(loan)
            closed = _catch_up(loan, product, standing, _rules_for(rules, product), business_date)
        except LoancoreError as error:
            failed.append(_refusal(loan_id, error))
            continue
        done.append((loan.version, closed))
    summarised = frozenset(
        ref
        for ref, p in read.products.items()
        if isinstance(p, LoanProduct) and p.gl_granularity is GlGranularity.SUMMARY
    )
    return _Decided(tuple(done), tuple(failed), summarised, standings)


def _result(decided: _Decided, posted: int) -> _ChunkResult:
    done = decided.done
    return _ChunkResult(
        closed=len(done),
        days=sum(c.days for _v, c in done),
        entries=posted,
        memos=sum(len(c.memo_postings) for _v, c in done),
        failed=decided.failed,
    )


def _close_chunk(
    uow: UnitOfWork,
    ids: Sequence[str],
    business_date: datetime.date,
    rules: RulesLike,
    read_uow: UnitOfWork | None = None,
) -> _ChunkResult:
    """The chunk's loans closed through ``business_date`` and written, committed together.

    ``read_uow`` None: one unit of work reads, decides and writes. Otherwise the loans are read
    in a unit of work of ``read_uow`` (on SQLite one that begins DEFERRED: no write lock),
    closed with no transaction open (no snapshot pins SQLite's log meanwhile), prepared in a
    second one, then written in one of ``uow`` that first checks every loan decided on is
    unchanged (:func:`~loancore.services.shared.check_unchanged`): optimistic, so processes
    closing other loans of the same SQLite book decide side by side and queue only for their
    writes."""
    if read_uow is None:
        with uow:
            decided = _decide_chunk(_read_chunk(uow, ids), ids, business_date, rules)
            posted = _write(uow, decided.done, decided.summarised)
            uow.commit()
        return _result(decided, posted)
    with read_uow:
        read = _read_chunk(read_uow, ids)
    # Decided with no transaction open: a reader's snapshot pins the SQLite log (WAL) that the
    # other workers append to; ended here, a checkpoint can copy the log back and restart it.
    decided = _decide_chunk(read, ids, business_date, rules)
    changed = [c.loan for version, c in decided.done if c.loan.version != version]
    with read_uow:
        # encoded here, so the writer's lock is held only to write (ports.LoanStore)
        read_uow.loans.prepare_updates(changed)
    with uow:
        versions = {c.loan.loan_id: version for version, c in decided.done}
        # the changed loans' versions are checked by their versioned update (update_many)
        written = {loan.loan_id for loan in changed}
        check_unchanged(uow, versions, decided.standings, written=written)
        posted = _write(uow, decided.done, decided.summarised)
        uow.commit()
    return _result(decided, posted)


def product_dimension(product_id: str, version: int) -> str:
    """The ``product`` dimension of a product version's legs, ``<product_id>@<version>``: what
    :func:`loancore.servicing.book_loan` puts on every loan of it and what a summary entry
    carries."""
    return f"{product_id}@{version}"


def _event_kind(entry: JournalEntry, loan_id: str) -> str:
    """``interest.accrued:eod20260116-L1.penalty`` -> ``interest.accrued.penalty``: the template
    and the tag after the loan's day event id (just the template for any other id)."""
    template, _sep, rest = entry.entry_id.partition(":")
    prefix = day_event_id(loan_id, entry.accounting_date)
    return template + rest[len(prefix) :] if rest.startswith(prefix) else template


@attrs.define
class _Group:
    """One summary being gathered: minor units per (subject, side, currency), the loans summed."""

    totals: dict[tuple[str, Side, str], int] = attrs.field(factory=dict)
    loans: set[str] = attrs.field(factory=set)


def _summary_entry(product: str, day: datetime.date, kind: str, group: _Group) -> JournalEntry:
    digest = hashlib.sha256("\n".join([product, *sorted(group.loans)]).encode()).hexdigest()
    key = f"{SUMMARY_KEY_PREFIX}:{day:%Y%m%d}:{kind}:{digest[:40]}"
    legs = tuple(
        Leg(code, side, Money.from_minor(minor, currency), {"product": product})
        for (code, side, currency), minor in sorted(
            group.totals.items(), key=lambda item: (item[0][1] is Side.CREDIT, item[0])
        )
        if minor
    )
    return JournalEntry(
        entry_id=key,
        idempotency_key=key,
        accounting_date=day,
        legs=legs,
        memo=f"end of day summary {kind}: {len(group.loans)} loans of {product}",
    )


def summarise_day_entries(
    closed: Iterable[tuple[str, str, Sequence[JournalEntry]]],
) -> tuple[JournalEntry, ...]:
    """The summary entries of ``closed``, ``(loan_id, product dimension, the loan's day-close
    entries)`` per loan: ONE entry per (product, accounting date, event kind), each leg the sum of
    the loans' legs on one subject and side, dimension ``product`` only (module docstring). An
    entry that reverses another (``reverses`` set) names one loan's entry and is kept as it is.
    Every subject's debits and credits are conserved: the summaries move each subject exactly as
    the loans' entries do."""
    groups: dict[tuple[str, datetime.date, str], _Group] = {}
    kept: list[JournalEntry] = []
    for loan_id, product, entries in closed:  # bounded by the chunk's loans
        for entry in entries:  # bounded by the loan's days and events
            if entry.reverses is not None:
                kept.append(entry)
                continue
            key = (product, entry.accounting_date, _event_kind(entry, loan_id))
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group()
            group.loans.add(loan_id)
            for leg in entry.legs:
                total = (leg.subject_code, leg.side, leg.currency)
                group.totals[total] = group.totals.get(total, 0) + leg.amount.minor_units
    summaries = [
        _summary_entry(product, day, kind, group)
        for (product, day, kind), group in sorted(groups.items())
        if any(group.totals.values())
    ]
    for summary in summaries:  # a template bug must never reach the ledger as a half entry
        for currency in summary.currencies():
            if sum(leg.signed_minor for leg in summary.legs if leg.currency == currency):
                raise InvariantViolation(f"summary {summary.entry_id} does not balance")
    return (*summaries, *kept)


def _ledger_entries(
    done: Sequence[tuple[int, _Closed]], summarised: Collection[tuple[str, int]]
) -> list[JournalEntry]:
    """The chunk's entries as posted: a ``loan`` product's as they are, a ``summary`` product's
    summed (:func:`summarise_day_entries`)."""
    entries: list[JournalEntry] = []
    summary: list[tuple[str, str, Sequence[JournalEntry]]] = []
    for _v, c in done:  # bounded by CHUNK_SIZE_MAX
        ref = (c.loan.product_id, c.loan.product_version)
        if ref in summarised:
            summary.append((c.loan.loan_id, product_dimension(*ref), c.entries))
        else:
            entries.extend(c.entries)
    if summary:
        entries.extend(summarise_day_entries(summary))
    return entries


def _write(
    uow: UnitOfWork,
    done: Sequence[tuple[int, _Closed]],
    summarised: Collection[tuple[str, int]] = (),
) -> int:
    """Loans, then standings, then the ledger (the lock order); ``summarised``: the product
    versions whose entries are summed. Returns the number of entries posted."""
    changed = [(c.loan, version) for version, c in done if c.loan.version != version]
    if changed:
        uow.loans.update_many(changed)
    if done:
        uow.loans.save_standings([c.standing for _v, c in done])
    entries = _ledger_entries(done, summarised)
    memos = [m for _v, c in done for m in c.memo_postings]
    if entries:
        uow.ledger.post(entries)
    if memos:
        uow.ledger.post_memo(memos)
    return len(entries)


def _close_chunk_safely(
    uow: UnitOfWork,
    ids: Sequence[str],
    business_date: datetime.date,
    rules: RulesLike,
    read_uow: UnitOfWork | None = None,
) -> _ChunkResult:
    """:func:`_close_chunk`; if it fails with ``read_uow`` (a loan changed between the read and
    the write), the chunk again in one unit of work; if writing the chunk fails, its loans one
    unit of work each."""
    if read_uow is not None:
        try:
            return _close_chunk(uow, ids, business_date, rules, read_uow)
        except LoancoreError:
            pass
    try:
        return _close_chunk(uow, ids, business_date, rules)
    except LoancoreError:
        pass
    results: list[_ChunkResult] = []
    for loan_id in ids:  # bounded by CHUNK_SIZE_MAX
        try:
            results.append(_close_chunk(uow, [loan_id], business_date, rules))
        except LoancoreError as error:
            results.append(_ChunkResult(0, 0, 0, 0, (_refusal(loan_id, error),)))
    return _ChunkResult(
        closed=sum(r.closed for r in results),
        days=sum(r.days for r in results),
        entries=sum(r.entries for r in results),
        memos=sum(r.memos for r in results),
        failed=tuple(f for r in results for f in r.failed),
    )


def _ids_to_close(
    uow: UnitOfWork, business_date: datetime.date, after: str, limit: int
) -> tuple[str, ...]:
    with uow:
        return uow.loans.loans_to_close(business_date, after=after, limit=limit)


@attrs.frozen
class LoansClosed:
    """What :func:`close_loans` did over its id range: chunks (units of work) run, loans brought
    to the date, loan-days closed, entries and memo postings sent to the ledger, and the loans
    that failed (each a :class:`Refusal` keyed by its loan id; retried by the next run)."""

    business_date: datetime.date
    chunks: int
    loans_closed: int
    days_closed: int
    entries: int
    memo_postings: int
    failed: tuple[Refusal, ...]


def _check_chunk_size(chunk_size: object) -> int:
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or not 1 <= chunk_size <= CHUNK_SIZE_MAX
    ):
        raise InvalidInput("chunk_size", chunk_size, f"expected an int from 1 to {CHUNK_SIZE_MAX}")
    return chunk_size


def close_loans(
    uow: UnitOfWork,
    business_date: datetime.date,
    *,
    after: str = "",
    through: str | None = None,
    rules: RulesLike = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[ChunkProgress], None] | None = None,
    read_uow: UnitOfWork | None = None,
) -> LoansClosed:
    """The loan part of :func:`close_business_day` over the ids ``after < loan_id <= through``
    (``through`` None: no upper bound): every loan behind ``business_date`` caught up to it,
    ``chunk_size`` loans a unit of work, ``progress`` called after each chunk. A distributed end
    of day runs it once per range (:func:`loancore.services.partition.close_range`).

    ``read_uow``: a second unit of work on the same book for the reads and decisions, each
    chunk then written in a unit of work of ``uow`` that first checks the loans it decided on
    are unchanged (:func:`_close_chunk`); a chunk whose loans changed meanwhile is closed again
    in one unit of work. Processes closing ranges of one SQLite book side by side pass one that
    begins DEFERRED (:mod:`loancore.adapters.process_batch`)."""
    require_date("business_date", business_date)
    _check_chunk_size(chunk_size)
    chunks = closed = days = entries = memos = 0
    failed: list[Refusal] = []
    for chunk in range(1, _CHUNKS_MAX + 1):  # bounded: each chunk moves ``after`` forward
        found = _ids_to_close(
            uow if read_uow is None else read_uow, business_date, after, chunk_size
        )
        ids = found if through is None else tuple(i for i in found if i <= through)
        if not ids:
            break
        result = _close_chunk_safely(uow, ids, business_date, rules, read_uow)
        chunks, closed, days = chunk, closed + result.closed, days + result.days
        entries, memos = entries + result.entries, memos + result.memos
        failed.extend(result.failed)
        after = ids[-1]
        if progress is not None:
            progress(ChunkProgress(business_date, chunk, len(ids), closed, len(failed)))
        if len(ids) < len(found):
            break  # the next id is past ``through``
    return LoansClosed(business_date, chunks, closed, days, entries, memos, tuple(failed))


def close_quota_day(
    uow: UnitOfWork,
    business_date: datetime.date,
    *,
    limit_policy: LimitPolicy | None = None,
    excluded: Iterable[str] = (),
) -> EndOfDayReport:
    """The quota part of :func:`close_business_day`, in one unit of work: hold expiry, temporary
    limits and (with ``limit_policy``) each borrower's limit reviewed on the standings of their
    loans, except a borrower with a loan in ``excluded`` (failed this run). Keys
    ``eod-<yyyymmdd>:...``: a rerun applies nothing twice."""
    require_date("business_date", business_date)
    return _quota_batch(uow, business_date, limit_policy, set(excluded))


def close_business_day(
    uow: UnitOfWork,
    business_date: datetime.date,
    *,
    rules: RulesLike = None,
    limit_policy: LimitPolicy | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[ChunkProgress], None] | None = None,
) -> BusinessDayReport:
    """Close ``business_date`` over the whole book (module docstring): every active loan caught
    up to it in chunks of ``chunk_size`` loans, ``progress`` called after each chunk
    (:func:`close_loans`), then every revolving credit-line account
    (:func:`~loancore.services.credit_line.close_lines_day`: statements, late fees, penalty
    interest, delinquency), then the quota batch (:func:`close_quota_day`; ``limit_policy`` None:
    hold expiry and temporary limits only). The quota keys are ``eod-<yyyymmdd>:...``."""
    loans = close_loans(uow, business_date, rules=rules, chunk_size=chunk_size, progress=progress)
    lines = close_lines_day(uow, business_date, rules=rules)  # lock order: loans, quota, ledger
    return complete_business_day(uow, business_date, loans, lines, limit_policy=limit_policy)


def complete_business_day(
    uow: UnitOfWork,
    business_date: datetime.date,
    loans: LoansClosed,
    lines: LinesClosed,
    *,
    limit_policy: LimitPolicy | None = None,
) -> BusinessDayReport:
    """The last part of :func:`close_business_day`, once the loans and credit lines are closed
    (here or by worker processes): the quota batch with the refused loans' and accounts'
    borrowers left out of the review, and the day's report."""
    excluded = {f.key for f in (*loans.failed, *lines.failed)}
    quota = close_quota_day(uow, business_date, limit_policy=limit_policy, excluded=excluded)
    return BusinessDayReport(
        business_date,
        loans.loans_closed,
        loans.days_closed,
        loans.entries,
        loans.memo_postings,
        loans.failed,
        quota,
        lines,
    )


class _NoPolicy:
    """The policy of a batch without one: no command."""

    def review(self, *_args: object, **_kwargs: object) -> tuple[()]:
        return ()


def credit_records(
    standings: Iterable[LoanStanding], *, excluded: Iterable[str] = ()
) -> dict[str, CreditRecord]:
    """Each borrower's :class:`CreditRecord` from the standings of their loans: on-time
    repayments summed, the worst DPD, written off if any loan is. A borrower with a loan in
    ``excluded`` (failed this run) gets no record: the policy never acts on half the facts."""
    skip = set(excluded)
    gathered: dict[str, list[LoanStanding]] = {}
    barred: set[str] = set()
    for standing in standings:  # bounded by the standings stored
        if not standing.borrower_id:
            continue
        if standing.loan_id in skip:
            barred.add(standing.borrower_id)
        gathered.setdefault(standing.borrower_id, []).append(standing)
    return {
        borrower: CreditRecord(
            borrower_id=borrower,
            on_time_repayments=sum(s.on_time_repayments for s in loans),
            days_past_due=max(s.dpd for s in loans),
            written_off=any(s.written_off > 0 for s in loans),
        )
        for borrower, loans in gathered.items()
        if borrower not in barred
    }


def _all_standings(uow: UnitOfWork) -> list[LoanStanding]:
    found: list[LoanStanding] = []
    after = ""
    for _ in range(_CHUNKS_MAX):  # bounded: each page moves ``after`` forward
        page = uow.loans.standings(after=after, limit=_STANDINGS_PAGE)
        found.extend(page)
        if len(page) < _STANDINGS_PAGE:
            break
        after = page[-1].loan_id
    return found


def _unclosed_standings(uow: UnitOfWork, loan_ids: set[str]) -> list[LoanStanding]:
    """The first standings of failed loans never closed (none stored), so that their borrowers
    are barred from the review all the same; an id the book does not hold is ignored."""
    found: list[LoanStanding] = []
    for loan_id in sorted(loan_ids):  # bounded by the loans that failed (few)
        try:
            found.append(standing_of(uow.loans.load(loan_id)))
        except NotFound:
            continue
    return found


def _quota_batch(
    uow: UnitOfWork, business_date: datetime.date, policy: LimitPolicy | None, failed: set[str]
) -> EndOfDayReport:
    with uow:
        records = {}
        if policy is not None:
            standings = _all_standings(uow)
            standings.extend(_unclosed_standings(uow, failed - {s.loan_id for s in standings}))
            records = credit_records(standings, excluded=failed)
        report = run_end_of_day(
            uow.quota,
            records,
            _NoPolicy() if policy is None else policy,
            as_of=business_date,
            key=f"eod-{business_date:%Y%m%d}",
        )
        uow.commit()
    return report


# -- events on a loan with a standing --------------------------------------------------------------


def _release_if_gone(
    loan: Loan,
    product: LoanProduct,
    standing: LoanStanding,
    rules: DailyRules,
    as_of: datetime.date,
    event_id: str,
) -> tuple[LoanStanding, Booking]:
    """A loan that left the book (paid off, cancelled, written off, sold): its allowance
    released (exposure 0), its interest no longer suspended."""
    if loan.status is LoanStatus.ACTIVE or not any(standing.allowance):
        return standing, Booking()
    today = classify(loan, max(as_of, loan.last_date), rules.policy_for(product))
    booking = loan_provision(
        loan,
        today,
        current=standing.allowance_by_stage(loan.currency),
        rates=rules.rates,
        rounding=rules.rounding,
        event_id=f"{event_id}.release",
        mapping=product.mapping,
    )
    return attrs.evolve(standing, allowance=(0, 0, 0), interest_suspended=False), booking


def _bring_current(
    loan: Loan, product: LoanProduct, standing: LoanStanding, rules: DailyRules, day: datetime.date
) -> _Closed:
    """The days before ``day`` not closed yet, closed (inline catch-up)."""
    if loan.status is not LoanStatus.ACTIVE:
        return _Closed(loan, standing, 0, (), ())
    return _catch_up(loan, product, standing, rules, day - datetime.timedelta(days=1))


def current_outcome(
    uow: UnitOfWork,
    loan: Loan,
    product: LoanProduct,
    event: ServicingEvent,
    rules: RulesLike = None,
) -> tuple[Outcome, LoanStanding | None]:
    """``event`` applied to ``loan`` as the batch would see it (module docstring): a loan without
    a standing is applied as it is (never closed by the batch); otherwise the days before the
    event's date not yet closed are closed first, the event applied off the books if the loan is
    non-accrual, and a loan leaving the book has its allowance released. Returns the outcome
    (its entries and memo postings include the days closed) and the new standing."""
    standing = uow.loans.load_standings([loan.loan_id]).get(loan.loan_id)
    return outcome_with_standing(loan, product, standing, event, rules)


def outcome_with_standing(
    loan: Loan,
    product: LoanProduct,
    standing: LoanStanding | None,
    event: ServicingEvent,
    rules: RulesLike = None,
) -> tuple[Outcome, LoanStanding | None]:
    """:func:`current_outcome` with the loan's ``standing`` given (None: the batch keeps none),
    for a caller that read the standings of many loans at once (``apply_batch``)."""
    if standing is None:
        return apply(loan, product, event), None
    chosen = _rules_for(rules, product)
    closed = _bring_current(loan, product, standing, chosen, event.as_of)
    outcome = apply_with_standing(closed.loan, product, closed.standing, event)
    after, release = _release_if_gone(
        outcome.loan, product, closed.standing, chosen, event.as_of, event.event_id
    )
    merged = attrs.evolve(
        outcome,
        entries=closed.entries + outcome.entries + release.entries,
        memo_postings=closed.memo_postings + outcome.memo_postings,
    )
    return merged, after


@attrs.frozen
class _Prepared:
    loan: Loan
    product: LoanProduct
    standing: LoanStanding
    rules: DailyRules
    version: int
    entries: tuple[JournalEntry, ...]
    memo_postings: tuple[MemoPosting, ...]


def _prepare(
    uow: UnitOfWork, loan_id: str, as_of: datetime.date, event_id: str, rules: RulesLike
) -> _Prepared:
    """The loan brought to ``as_of`` (days before it closed, the day itself accrued) for a
    write-off or a sale."""
    loan = uow.loans.load(loan_id)
    product = uow.loans.product(loan.product_id, loan.product_version)
    chosen = _rules_for(rules, product)
    standing = uow.loans.load_standings([loan_id]).get(loan_id) or standing_of(loan)
    closed = _bring_current(loan, product, standing, chosen, as_of)
    entries, memos = closed.entries, closed.memo_postings
    current = closed.loan
    if current.status is LoanStatus.ACTIVE:
        accrued = apply_with_standing(
            current, product, closed.standing, Accrue(event_id=event_id, as_of=as_of)
        )
        current = accrued.loan
        entries, memos = entries + accrued.entries, memos + accrued.memo_postings
    return _Prepared(current, product, closed.standing, chosen, loan.version, entries, memos)


def _allowance_left(standing: LoanStanding, booking: Booking) -> tuple[int, int, int]:
    """The allowance per stage after a write-off or sale ``booking``: top-ups added, what the
    write-off or sale took out of its stage taken away."""
    left = list(standing.allowance)
    for event in booking.events:  # bounded: a handful of events
        if isinstance(event, ProvisionCharged):
            left[int(event.stage) - 1] += event.amount.minor_units
        elif isinstance(event, WrittenOff):
            left[2] -= event.principal.minor_units + event.fee.minor_units
        elif isinstance(event, LoanSold):
            left[int(event.stage) - 1] -= event.allowance.minor_units
    return (left[0], left[1], left[2])


def _finish(
    uow: UnitOfWork,
    prepared: _Prepared,
    gone: Loan,
    standing: LoanStanding,
    booking: Booking,
    as_of: datetime.date,
    event_id: str,
) -> None:
    """Release what allowance is left, then write loan, standing and ledger (lock order)."""
    standing, release = _release_if_gone(
        gone, prepared.product, standing, prepared.rules, as_of, event_id
    )
    standing = attrs.evolve(standing, closed_through=max(as_of, standing.closed_through or as_of))
    uow.loans.update(gone, expected_version=prepared.version)
    uow.loans.save_standings([standing])
    entries = prepared.entries + booking.entries + release.entries
    memos = prepared.memo_postings + booking.memo_postings
    if entries:
        uow.ledger.post(entries)
    if memos:
        uow.ledger.post_memo(memos)


def _joint_losses(uow: UnitOfWork, loan: Loan, booking: Booking) -> Booking:
    """The partners' part of a joint loan's write-off (Dr 2241.04 partner funding, Cr 6702 for
    each partner's principal; :func:`loancore.services.settlement.joint_write_off_losses`);
    nothing for a loan the lender funds alone."""
    (written,) = [event for event in booking.events if isinstance(event, WrittenOff)]
    interest = loan.money(interest_on_books(loan).total)
    shared = joint_write_off_losses(uow, loan, written, interest_off_books=interest)
    return Booking() if shared is None else Booking(entries=shared.entries)


def _joint_sale(uow: UnitOfWork, loan: Loan, booking: Booking) -> Booking:
    """The partners' part of a joint loan's sale: its loss, and the price in the shares of it
    (:func:`loancore.services.settlement.joint_sale_entries`); nothing for a loan the lender
    funds alone."""
    (sold,) = [event for event in booking.events if isinstance(event, LoanSold)]
    interest = loan.money(interest_on_books(loan).total)
    return Booking(entries=joint_sale_entries(uow, loan, sold, interest_off_books=interest))


def write_off_loan(
    uow: UnitOfWork, loan_id: str, *, as_of: datetime.date, event_id: str, rules: RulesLike = None
) -> Loan:
    """核销 ``loan_id`` on ``as_of`` in one unit of work: the loan brought to the date, its
    interest taken off the books if still accrued, principal and fees written off against the
    stage-3 allowance (topped up if short), the loan's parts marked written off and its status
    ``written_off`` (:func:`~loancore.delinquency.daily.written_off_loan`), what allowance is left
    released, 已核销贷款 holding everything still pursued; a joint loan's partners take their
    part of the loss in the same unit of work (:func:`_joint_losses`). A replay (the loan already
    written off by ``event_id``) returns the stored loan."""
    with uow:
        stored = uow.loans.load(loan_id)
        if stored.status is LoanStatus.WRITTEN_OFF and uow.ledger.find_by_key(
            f"write_off:{event_id}"
        ):
            return stored
        prepared = _prepare(uow, loan_id, as_of, event_id, rules)
        allowance = prepared.standing.allowance_by_stage(prepared.loan.currency).get(
            Stage.THREE, Money.zero(prepared.loan.currency)
        )
        booking = write_off(
            prepared.loan,
            allowance=allowance,
            interest_suspended=prepared.standing.interest_suspended,
            as_of=as_of,
            event_id=event_id,
            mapping=prepared.product.mapping,
        )
        booking = booking + _joint_losses(uow, prepared.loan, booking)
        gone = written_off_loan(prepared.loan, as_of=as_of)
        registered = sum(
            m.amount.minor_units
            for m in booking.memo_postings
            if m.register is MemoRegister.WRITTEN_OFF_LOANS
        )
        standing = attrs.evolve(
            prepared.standing,
            allowance=_allowance_left(prepared.standing, booking),
            interest_suspended=False,
            written_off=prepared.standing.written_off + registered,
        )
        _finish(uow, prepared, gone, standing, booking, as_of, event_id)
        uow.commit()
    return gone


def recover_loan(
    uow: UnitOfWork,
    loan_id: str,
    amount: Money,
    *,
    as_of: datetime.date,
    event_id: str,
    rules: RulesLike = None,
) -> LoanStanding:
    """核销后收回 ``amount`` on a written-off loan in one unit of work: Dr 3001 Cr 1304.03, the
    allowance so restored released at once (Dr 1304.03 Cr 6702: the loan has no exposure left),
    已核销贷款 reduced. More than the register holds for the loan is refused
    (``RECOVERY_EXCEEDS_WRITTEN_OFF``). A joint loan's partners get their parts in the shares of
    the loss (:func:`loancore.services.settlement.joint_recovery_entries`). A replayed
    ``event_id`` changes nothing."""
    with uow:
        loan = uow.loans.load(loan_id)
        standing = uow.loans.load_standings([loan_id]).get(loan_id) or standing_of(loan)
        if uow.ledger.find_by_key(f"recovery:{event_id}") is not None:
            return standing
        product = uow.loans.product(loan.product_id, loan.product_version)
        booking = recover(
            loan,
            amount,
            written_off_balance=loan.money(standing.written_off),
            as_of=as_of,
            event_id=event_id,
            mapping=product.mapping,
        )
        restored = attrs.evolve(
            standing,
            allowance=(
                standing.allowance[0],
                standing.allowance[1],
                standing.allowance[2] + amount.minor_units,
            ),
            written_off=standing.written_off - amount.minor_units,
        )
        after, release = _release_if_gone(
            loan, product, restored, _rules_for(rules, product), as_of, event_id
        )
        (event,) = [e for e in booking.events if isinstance(e, RecoveredAfterWriteOff)]
        shared = joint_recovery_entries(
            uow, loan, event, written_off=loan.money(standing.written_off)
        )
        uow.loans.save_standings([after])
        uow.ledger.post(booking.entries + release.entries + shared)
        if booking.memo_postings:
            uow.ledger.post_memo(booking.memo_postings)
        uow.commit()
    return after


def sell_loan(
    uow: UnitOfWork,
    loan_id: str,
    price: Money,
    *,
    as_of: datetime.date,
    event_id: str,
    rules: RulesLike = None,
) -> Loan:
    """不良资产转让: ``loan_id`` sold for ``price`` on ``as_of`` in one unit of work: brought to the
    date, interest off the books, derecognised against its allowance with the gain or loss to
    6702 (:func:`~loancore.delinquency.sell`), the loan's parts marked written off and its status
    ``sold``, its quota line closed (key ``<event_id>:close``). A loan better than 次级 (by its
    last classification) is refused (``SALE_OF_PERFORMING_LOAN``). A joint loan's partners take
    their part of the loss and of the price (:func:`_joint_sale`)."""
    with uow:
        stored = uow.loans.load(loan_id)
        if stored.status is LoanStatus.SOLD and uow.ledger.find_by_key(f"loan.sold:{event_id}"):
            return stored
        prepared = _prepare(uow, loan_id, as_of, event_id, rules)
        current = prepared.standing.history.current
        risk_class = RiskClass.NORMAL if current is None else current.risk_class
        stage = Stage.ONE if current is None else current.stage
        booking = sell(
            prepared.loan,
            price,
            risk_class=risk_class,
            allowance=prepared.standing.allowance_by_stage(prepared.loan.currency).get(
                stage, Money.zero(prepared.loan.currency)
            ),
            allowance_stage=stage,
            interest_suspended=prepared.standing.interest_suspended,
            as_of=as_of,
            event_id=event_id,
            mapping=prepared.product.mapping,
        )
        booking = booking + _joint_sale(uow, prepared.loan, booking)
        gone = sold_loan(prepared.loan, as_of=as_of)
        standing = attrs.evolve(
            prepared.standing,
            allowance=_allowance_left(prepared.standing, booking),
            interest_suspended=False,
        )
        standing, release = _release_if_gone(
            gone, prepared.product, standing, prepared.rules, as_of, event_id
        )
        uow.loans.update(gone, expected_version=prepared.version)
        uow.loans.save_standings([attrs.evolve(standing, closed_through=as_of)])
        line_id = uow.quota.hold(gone.hold_id).line_id
        if uow.quota.line(line_id).status is not LineStatus.CLOSED:
            uow.quota.apply(Close(key=f"{event_id}:close", line_id=line_id), as_of=as_of)
        uow.ledger.post(prepared.entries + booking.entries + release.entries)
        memos = prepared.memo_postings + booking.memo_postings
        if memos:
            uow.ledger.post_memo(memos)
        uow.commit()
    return gone
